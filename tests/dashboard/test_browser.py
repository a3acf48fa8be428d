"""The dashboard in a real browser (Debian's Chromium via Playwright): sign in, watch an intent arrive live,
approve it with one click (a real review lands on the forge), and read every page. Screenshots of each page
go to .artifacts/screenshots/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pipeline.ledger import IntentState, Outcome, Stage
from pipeline.registry import Provenance
from tests.dashboard.rig import REPO, People, Rig, start_rig
from tests.fixtures.browser import screenshot
from tests.fixtures.forge import ForgeKit
from tests.fixtures.records import enter, make_report

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture
def live_rig(module_forge_kit: ForgeKit, people: People, tmp_path: Path) -> Iterator[Rig]:
    rig = start_rig(module_forge_kit, people, tmp_path, poll_seconds=0.2)
    yield rig
    rig.server.stop()
    rig.db.dispose()


def sign_in(page: Page, rig: Rig, token: str) -> None:
    page.goto(f"{rig.url}/")
    expect(page).to_have_url(f"{rig.url}/signin?next=%2F")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()


def test_sign_in_watch_an_intent_arrive_live_and_approve_it(page: Page, live_rig: Rig) -> None:
    rig = live_rig
    sign_in(page, rig, rig.people.approver.token)
    expect(page.get_by_text("No intents yet")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    pull = rig.open_pull("browser-hello")
    row = page.locator('[data-service="browser-hello"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("awaiting signoff")
    assert page.evaluate("window.__sameDocument") is True, "the row arrived without a page reload"
    screenshot(page, "queue")

    page.get_by_role("link", name="Approvals").click()
    card = page.locator(f"#approval-{pull.intent_id}")
    expect(card.get_by_text("services/browser-hello/app.py")).to_be_visible()
    expect(card.locator(".spec-digest").get_by_text("A service that greets people.")).to_be_visible()
    screenshot(page, "approvals")
    card.get_by_role("link", name="Read the whole SPEC").click()
    expect(page.get_by_role("heading", name="SPEC: browser-hello", exact=True)).to_be_visible()
    screenshot(page, "spec")
    page.get_by_role("button", name="Approve browser-hello").click()
    expect(page.get_by_role("status").first).to_contain_text("You approved browser-hello")

    forge_pull = rig.github(rig.people.owner).get_repo(REPO).get_pull(pull.number)
    assert [(r.user.login, r.state, r.commit_id) for r in forge_pull.get_reviews()] == [
        ("alice", "APPROVED", pull.head_sha)
    ]


def test_a_reader_gets_no_approve_button(page: Page, live_rig: Rig) -> None:
    rig = live_rig
    rig.open_pull("reader-view")
    sign_in(page, rig, rig.people.reader.token)
    page.get_by_role("link", name="Approvals").click()
    expect(page.get_by_text("Nothing waits for your sign-off.")).to_be_visible()
    expect(page.get_by_role("button", name="Approve reader-view")).to_have_count(0)
    expect(page.get_by_text("does not have write permission")).to_be_visible()


def test_detail_services_and_analytics_pages(page: Page, live_rig: Rig) -> None:
    rig = live_rig
    pull = rig.open_pull("shown-off")
    rig.ledger.record(pull.intent_id, Stage.SPEC, Outcome.SUCCEEDED, "score 94", duration_ms=2300)
    rig.ledger.record(pull.intent_id, Stage.DEPLOYED, Outcome.SUCCEEDED, duration_ms=5100)
    enter(
        rig.ledger,
        pull.intent_id,
        IntentState.DEPLOYED,
        report=make_report(score=94, passed=8),
        service_url="http://127.0.0.1:9100",
    )
    rig.registry.announce(
        name="shown-off",
        version="v1-4f2a",
        url="http://127.0.0.1:9100",
        health_path="/health",
        provenance=Provenance(
            intent_path="intents/shown-off.yaml", pr_number=pull.number, approvers=("alice",)
        ),
    )
    rig.registry.activate("shown-off", "v1-4f2a")
    sign_in(page, rig, rig.people.approver.token)

    page.get_by_role("link", name="shown-off").click()
    expect(page.get_by_role("heading", name="Governance decision")).to_be_visible()
    expect(page.get_by_text("Core assembly line changes need human oversight").first).to_be_visible()
    screenshot(page, "intent-detail")

    page.get_by_role("link", name="Services").click()
    row = page.locator("#service-shown-off")
    expect(row).to_contain_text("v1-4f2a")
    expect(row).to_contain_text("healthy")
    screenshot(page, "services")

    page.get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("img", name="Median time per stage")).to_be_visible()
    screenshot(page, "analytics")


def test_detail_approvals_and_services_update_themselves(page: Page, live_rig: Rig) -> None:
    rig = live_rig
    intent = rig.receive("live-detail")
    sign_in(page, rig, rig.people.approver.token)
    page.goto(f"{rig.url}/intents/{intent}")
    page.evaluate("window.__sameDocument = true")
    rig.ledger.record(intent, Stage.SPEC, Outcome.FAILED, "score 61 under the gate", duration_ms=1200)
    enter(rig.ledger, intent, IntentState.NEEDS_HUMAN, waiting_for="a clearer SPEC")
    expect(page.locator("dd.waiting")).to_have_text("a clearer SPEC")
    expect(page.get_by_role("cell", name="score 61 under the gate")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True, "the detail changed without a page reload"
    screenshot(page, "intent-detail-live")

    page.get_by_role("link", name="Approvals").click()
    expect(page.get_by_text("Nothing waits for your sign-off.")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    rig.open_pull("live-approval")
    expect(page.get_by_role("button", name="Approve live-approval")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True, "the approval arrived without a page reload"

    page.get_by_role("link", name="Services").click()
    expect(page.get_by_text("No services in the registry yet.")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    rig.registry.register(name="live-detail", version="v1-live", url="http://127.0.0.1:9200")
    expect(page.locator("#service-live-detail")).to_contain_text("v1-live")
    assert page.evaluate("window.__sameDocument") is True, "the service arrived without a page reload"
    screenshot(page, "services-live")


def test_a_reason_being_written_is_not_swept_away_by_a_live_refresh(page: Page, live_rig: Rig) -> None:
    rig = live_rig
    rig.open_pull("first-one")
    sign_in(page, rig, rig.people.approver.token)
    page.get_by_role("link", name="Approvals").click()
    reason = page.get_by_label("Reason to reject").first
    reason.fill("Duplicates the greeter")
    rig.open_pull("second-one")
    page.wait_for_timeout(1500)  # several polls of the stream (0.2 s): a refresh would have come by now
    expect(page.get_by_role("button", name="Approve second-one")).to_have_count(0)
    expect(reason).to_have_value("Duplicates the greeter")
    reason.fill("")
    page.get_by_role("heading", name="Approvals").click()  # leaves the field: the waiting refresh comes
    expect(page.get_by_role("button", name="Approve second-one")).to_be_visible()


HIDE = """() => {
    Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
    document.dispatchEvent(new Event("visibilitychange"));
}"""
SHOW = """() => {
    Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "visible"});
    document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_many_open_tabs_do_not_starve_the_one_in_use(page: Page, live_rig: Rig) -> None:
    """A browser opens ~6 connections per server and each live stream holds one: tabs in the background
    let go of theirs, so an eighth tab still loads at once, and a tab shown again catches up."""
    rig = live_rig
    intent = rig.receive("tab-watch")
    sign_in(page, rig, rig.people.approver.token)
    background = []
    started = time.monotonic()
    for _ in range(7):
        tab = page.context.new_page()
        tab.goto(f"{rig.url}/intents/{intent}")
        tab.evaluate(HIDE)
        background.append(tab)

    page.goto(f"{rig.url}/analytics")
    expect(page.get_by_role("heading", name="Analytics", exact=True)).to_be_visible()
    # Holding streams, the 7th tab and this page would each wait for one to end (10 s).
    assert time.monotonic() - started < 8, "no page waits for background tabs' streams"

    enter(rig.ledger, intent, IntentState.NEEDS_HUMAN, waiting_for="a clearer purpose")
    shown = background[0]
    shown.evaluate("window.__sameDocument = true")
    shown.evaluate(SHOW)
    expect(shown.locator("dd.waiting")).to_have_text("a clearer purpose")
    assert shown.evaluate("window.__sameDocument") is True, "caught up without a reload"
