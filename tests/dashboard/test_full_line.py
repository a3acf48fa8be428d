"""The morning routine on a whole line (forge, bot, workers, dashboard) in a real browser: a pushed intent
appears on the queue by itself, one click approves it, one click merges it, the bot deploys it, and the
service shows up on the Services page."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from pipeline.ledger import IntentState
from tests.conftest import ROOT
from tests.dashboard.crawl import crawl, printed_urls
from tests.fixtures.browser import screenshot
from tests.fixtures.line import NOTES_INTENT as NOTES
from tests.fixtures.line import Rig

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.xdist_group("flows")]

PATH = "intents/notes.yaml"
BUILD_TIMEOUT_MS = 240_000


def test_approve_merge_and_see_the_service_running(page: Page, line_rig: Rig) -> None:
    rig = line_rig
    dashboard = f"{rig.url}/dashboard"
    page.goto(f"{dashboard}/")
    page.get_by_label("Token").fill(rig.accounts["bob"].token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    rig.push({PATH: NOTES}, "Add notes")
    row = page.locator('[data-service="notes"]')
    expect(row).to_contain_text("awaiting signoff", timeout=BUILD_TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument") is True, "the queue updated itself"
    screenshot(page, "line-queue")

    page.get_by_role("link", name="Approvals").click()
    page.get_by_role("button", name="Approve notes").click()
    expect(page.get_by_role("status").first).to_contain_text("You approved notes")
    # One click: the sign-off is complete and every check passed, so the bot merges, then deploys.
    page.get_by_role("link", name="Queue").click()
    expect(row).to_contain_text("deployed", timeout=BUILD_TIMEOUT_MS)
    screenshot(page, "line-deployed")
    deployed = rig.wait_for(PATH, IntentState.DEPLOYED, timeout=BUILD_TIMEOUT_MS / 1000)

    page.get_by_role("link", name="Services").click()
    service = page.locator("#service-notes")
    expect(service).to_contain_text("healthy")
    expect(service).to_contain_text("approved by bob")
    screenshot(page, "line-services")
    page.goto(f"{dashboard}/intents/{deployed.id}")
    expect(page.get_by_role("heading", name="Deploys")).to_be_visible()
    expect(page.get_by_text("succeeded").first).to_be_visible()
    screenshot(page, "line-intent")


def _output_until(log: Path, needle: str, demo: subprocess.Popen[bytes], timeout: float) -> str:
    """The demo's output once it holds `needle` (it prints as it goes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = log.read_text(encoding="utf-8", errors="replace")
        if needle in output:
            return output
        assert demo.poll() is None, f"the demo exited ({demo.returncode}) early:\n{output}"
        time.sleep(0.3)
    raise AssertionError(f"the demo did not print {needle!r} in {timeout}s:\n{log.read_text()}")


def _left_running(data_dir: Path) -> list[str]:
    """Processes whose command line or working directory is in the demo's data."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if str(data_dir) in cmdline or cwd.startswith(str(data_dir)):
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


def _wait_for_button(page: Page, name: str, timeout: float) -> None:
    """The Approvals page as it stands: reload until the intent's pull request is open and waits for us."""
    button = page.get_by_role("button", name=name)
    deadline = time.monotonic() + timeout
    while not button.count():
        assert time.monotonic() < deadline, f"no '{name}' button within {timeout}s"
        time.sleep(1)
        page.reload()


def _printed_links_that_404(output: str, auth: tuple[str, str]) -> list[str]:
    """Every address the demo printed, opened as the reviewer would (the forge's pages ask for a sign-in)."""
    links = printed_urls(output)
    assert any("/pull/" in link for link in links), links
    return [
        link
        for link in links
        if httpx.get(link, auth=auth, follow_redirects=True, timeout=10).status_code == 404
    ]


def _crawled_links_that_404(page: Page, dashboard: str, output: str, token: str) -> list[str]:
    """Every link of every page of the dashboard and the forge, followed as the reviewer signed in to both."""
    browser = page.context.browser
    assert browser is not None
    forge = re.search(r"forge\s+(http://127\.0\.0\.1:\d+)", output)
    assert forge, output
    context = browser.new_context(http_credentials={"username": "bob", "password": token})
    try:
        reviewer = context.new_page()
        reviewer.goto(dashboard)
        reviewer.get_by_label("Token").fill(token)
        reviewer.get_by_role("button", name="Sign in").click()
        expect(reviewer.get_by_role("heading", name="Queue")).to_be_visible()
        hosts = {urlsplit(dashboard).netloc, urlsplit(forge.group(1)).netloc}
        starts = [dashboard, f"{dashboard}approvals", f"{dashboard}services", forge.group(1)]
        seen, broken = crawl(reviewer, starts, hosts)
        assert any("/pull/" in url for url in seen) and any("/intents/" in url for url in seen), seen
        return broken
    finally:
        context.close()


def test_a_person_follows_the_demo_and_approves_its_second_intent(page: Page, tmp_path: Path) -> None:
    data = tmp_path / "demo"
    log = tmp_path / "demo.log"
    command = [str(Path(sys.executable).parent / "intentops"), "demo", "--stay", "--data-dir", str(data)]
    with log.open("wb") as sink:
        demo = subprocess.Popen(
            [*command, "--port", "0", "--forge-port", "0"],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        output = _output_until(log, "Your turn", demo, timeout=300)
        dashboard = re.search(r"Your turn\S*: open (http://127\.0\.0\.1:\d+/dashboard/)", output)
        hello = re.search(r"hello-world is running at (http://127\.0\.0\.1:\d+)/docs", output)
        assert dashboard and hello, output
        token = json.loads((data / "credentials.json").read_text())["tokens"]["bob"]
        assert token not in output, "not a terminal: the token is not printed, the file is named"
        assert str(data / "credentials.json") in output

        page.goto(dashboard.group(1))
        page.get_by_label("Token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Approvals").click()
        _wait_for_button(page, "Approve notes", BUILD_TIMEOUT_MS / 1000)
        page.get_by_role("button", name="Approve notes").click()
        expect(page.get_by_role("status").first).to_contain_text("You approved notes")
        screenshot(page, "demo-approved")
        output = _output_until(log, "notes is running at", demo, timeout=BUILD_TIMEOUT_MS / 1000)
        notes = re.search(r"notes is running at (http://127\.0\.0\.1:\d+)/docs", output)
        assert notes, output
        page.get_by_role("link", name="Services").click()
        expect(page.locator("#service-notes")).to_contain_text("healthy")
        screenshot(page, "demo-services")
        assert _printed_links_that_404(output, ("bob", token)) == []
        assert _crawled_links_that_404(page, dashboard.group(1), output, token) == []
    finally:
        demo.send_signal(signal.SIGTERM)  # like Ctrl-C: a service manager or `kill` stops it all the same
        code = demo.wait(timeout=120)
    output = log.read_text(encoding="utf-8", errors="replace")
    assert code == 0, output
    assert "Traceback" not in output
    for url in (hello.group(1), notes.group(1)):
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/health", timeout=3)
    assert _left_running(data) == []
