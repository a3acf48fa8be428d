"""Attacks on the line's edges, each reproduced against the real thing (a `intentops bot serve` or
`intentops forge serve` process, the embedded forge, real files, the bot's own renderer):

- test_a_new_x_forwarded_for_per_guess_does_not_dodge_the_sign_in_limit: guessing dashboard tokens with a
  different X-Forwarded-For on every try (uvicorn believed it from 127.0.0.1, so each guess came "from"
  a new address and the per-address limit never bit).
- test_the_api_docs_do_not_answer_without_a_sign_in: reading /docs, /redoc and /openapi.json (the bot's and
  the registry's) with no sign-in at all.
- test_a_readable_state_database_is_made_private_at_start, test_forge_serve_makes_its_database_private,
  test_new_data_files_are_private_from_the_start, test_the_start_up_check_finds_secrets_below_the_data_...:
  reading state.db (sessions, tokens) and forge.db (webhook secrets), with their -wal and -shm files, the
  registry token or the demo's credentials, as another user of the machine.
- test_a_crash_report_is_for_its_owner_only: reading a crash's traceback (which can quote settings and
  tokens) left in .data/crash/ by a command that failed.
- test_a_purpose_cannot_render_html_or_ping_anyone_in_the_pull_request,
  test_a_reject_reason_cannot_render_html_or_ping_anyone: HTML (an image that runs script, a comment that
  hides the rest) and @mentions (a user, a whole team) written into an intent's purpose or a reject reason,
  for the bot to copy into a pull request.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from markdown_it import MarkdownIt
from pydantic import SecretStr
from sqlalchemy import Connection, text
from starlette.testclient import TestClient

from bot.app import create_app
from bot.cli.main import _crash_report
from bot.dashboard.signinlimit import MAX_FAILURES, PREFIX_CHARS
from bot.registry_api import create_registry_app
from bot.settings import Settings
from forge.db import ForgeDB
from pipeline.ledger import IntentState
from pipeline.registry import RegistryStore, load_or_create_token
from pipeline.state import Database, default_sqlite_url
from pipeline.state.private import secure_data_dir
from tests.dashboard.rig import REPO as DASHBOARD_REPO
from tests.dashboard.rig import csrf_of, make_people, start_rig
from tests.fixtures.forge import ForgeKit
from tests.fixtures.line import BOT, NOTES_INTENT, REPO, Rig
from tests.fixtures.servers import free_port

INTENTOPS = str(Path(sys.executable).with_name("intentops"))
WEBHOOK_SECRET = "edges-test-webhook-secret"
HOSTILE = "<img src=x onerror=alert(1)> <!-- everything below is hidden --> cc @acme/admins and @alice"
MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9][\w-]*")
"""What GitHub would link and notify: "@" followed directly by a login or an org/team."""
DOC_PATHS = ("/docs", "/redoc", "/openapi.json", "/registry/docs", "/registry/openapi.json")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = 120.0) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def clean_environment(**extra: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("INTENTOPS_") and k != "DATABASE_URL"}
    return kept | extra


@dataclass
class ServedBot:
    url: str
    data_dir: Path
    stderr: Path
    process: subprocess.Popen[bytes]

    def warnings(self) -> list[str]:
        return [line for line in self.stderr.read_text().splitlines() if line.startswith("warning:")]


def readable_state_database(data_dir: Path) -> Connection:
    """A state database as an older IntentOps left it: the folder and the files readable by everyone, its
    -wal and -shm files present (a connection holds them open)."""
    database = Database(default_sqlite_url(data_dir))
    database.create_all()
    connection = database.engine.connect()
    connection.execute(text("SELECT count(*) FROM jobs"))
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        (data_dir / name).chmod(0o644)
    data_dir.chmod(0o755)
    return connection


@pytest.fixture(scope="module")
def served_bot(module_forge_kit: ForgeKit, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedBot]:
    """`intentops bot serve` as a user starts it, on a data directory others could read."""
    home = tmp_path_factory.mktemp("edges-bot")
    data_dir = home / "data"
    data_dir.mkdir()
    held_open = readable_state_database(data_dir)
    account = module_forge_kit.user("intentops-bot")
    env = clean_environment(
        INTENTOPS_DATA_DIR=str(data_dir),
        INTENTOPS_WEBHOOK_SECRET=WEBHOOK_SECRET,
        GITHUB_TOKEN=account.token,
        GITHUB_BASE_URL=module_forge_kit.api_url,
        INTENTOPS_BOT_LOGIN=account.login,
    )
    port = free_port()
    stderr = home / "stderr.log"
    with stderr.open("wb") as sink:
        process = subprocess.Popen(
            [INTENTOPS, "bot", "serve", "--port", str(port), "--threads", "0"],
            env=env,
            cwd=home,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    bot = ServedBot(f"http://127.0.0.1:{port}", data_dir, stderr, process)

    def answers() -> bool:
        assert process.poll() is None, stderr.read_text()
        try:
            return httpx.get(f"{bot.url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(answers, what="intentops bot serve to answer", timeout=180)
        yield bot
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        held_open.close()
        held_open.engine.dispose()


def test_a_new_x_forwarded_for_per_guess_does_not_dodge_the_sign_in_limit(served_bot: ServedBot) -> None:
    # Every guess has its own prefix, so only the per-address count can stop them.
    guesses = [f"ghp_{n:0{PREFIX_CHARS - 4}d}-guess" for n in range(MAX_FAILURES + 1)]
    codes = []
    with httpx.Client(base_url=f"{served_bot.url}/dashboard", timeout=30) as browser:
        for n, guess in enumerate(guesses):
            form = browser.get("/signin")
            answer = browser.post(
                "/signin",
                data={"csrf_token": csrf_of(form.text), "token": guess},
                headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
            )
            codes.append(answer.status_code)
    assert codes == [401] * MAX_FAILURES + [429]


@pytest.mark.parametrize("path", DOC_PATHS)
def test_the_api_docs_do_not_answer_without_a_sign_in(served_bot: ServedBot, path: str) -> None:
    assert httpx.get(f"{served_bot.url}{path}", timeout=10).status_code == 404


def test_the_api_docs_are_served_only_when_turned_on(tmp_path: Path) -> None:
    def bot_app(**settings: object) -> TestClient:
        values = {"INTENTOPS_DATA_DIR": str(tmp_path), "INTENTOPS_WEBHOOK_SECRET": WEBHOOK_SECRET} | settings
        return TestClient(create_app(Settings.model_validate(values), worker_threads=0))

    with bot_app() as closed, bot_app(INTENTOPS_API_DOCS="true") as opened:
        assert closed.get("/openapi.json").status_code == 404
        assert "/webhook" in closed.app.openapi()["paths"]  # type: ignore[attr-defined]
        assert opened.get("/docs").status_code == 200
        assert "/webhook" in opened.get("/openapi.json").json()["paths"]
    database = Database(default_sqlite_url(tmp_path))
    registry = create_registry_app(RegistryStore(database), SecretStr("registry-token-0123456789"), docs=True)
    assert TestClient(registry).get("/openapi.json").status_code == 200
    database.dispose()


def test_a_readable_state_database_is_made_private_at_start(served_bot: ServedBot) -> None:
    data = served_bot.data_dir
    secret_files = [data / "state.db", data / "state.db-wal", data / "state.db-shm"]
    assert mode(data) == 0o700
    assert {path.name: mode(path) for path in secret_files} == {path.name: 0o600 for path in secret_files}
    warnings = served_bot.warnings()
    for path in [data, *secret_files]:
        naming = [line for line in warnings if f" {path} " in line]
        assert len(naming) == 1, (path, warnings)
        assert "could be read by others" in naming[0]


def test_forge_serve_makes_its_database_private(tmp_path: Path) -> None:
    forge_dir = tmp_path / "forge"
    ForgeDB(forge_dir / "forge.db").dispose()
    (forge_dir / "forge.db").chmod(0o644)
    forge_dir.chmod(0o755)
    stderr = tmp_path / "stderr.log"
    with stderr.open("wb") as sink:
        process = subprocess.Popen(
            [INTENTOPS, "forge", "serve", "--data-dir", str(forge_dir), "--port", "0"],
            env=clean_environment(),
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        wait_until(lambda: "forge: serving" in stderr.read_text() or process.poll() is not None, what="forge")
        assert process.poll() is None, stderr.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert (mode(forge_dir), mode(forge_dir / "forge.db")) == (0o700, 0o600)
    warnings = [line for line in stderr.read_text().splitlines() if line.startswith("warning:")]
    assert sorted(warnings) == sorted(
        f"warning: {path} could be read by others (mode {old:03o}); changed to {new:03o}"
        for path, old, new in ((forge_dir, 0o755, 0o700), (forge_dir / "forge.db", 0o644, 0o600))
    )


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """022, as on most machines: what is not created with explicit modes is 0644 (files), 0755 (folders)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("usual_umask")
def test_new_data_files_are_private_from_the_start(tmp_path: Path) -> None:
    state = Database(default_sqlite_url(tmp_path / "data"))
    state.create_all()
    forge = ForgeDB(tmp_path / "forge" / "forge.db")
    load_or_create_token(tmp_path / "tokens")
    with state.engine.connect() as connection, forge.session() as session:
        connection.execute(text("SELECT count(*) FROM jobs"))
        session.execute(text("SELECT 1"))
        files = [tmp_path / "data" / name for name in ("state.db", "state.db-wal", "state.db-shm")] + [
            tmp_path / "forge" / name for name in ("forge.db", "forge.db-wal", "forge.db-shm")
        ]
        modes = {str(path.relative_to(tmp_path)): mode(path) for path in files}
    state.dispose()
    forge.dispose()
    assert modes == {name: 0o600 for name in modes}
    assert [mode(tmp_path / name) for name in ("data", "forge", "tokens")] == [0o700] * 3
    assert mode(tmp_path / "tokens" / "registry-token") == 0o600


def test_the_start_up_check_finds_secrets_below_the_data_directory_and_follows_no_link(
    tmp_path: Path,
) -> None:
    data = tmp_path / "demo"
    outside = tmp_path / "elsewhere"
    for folder in (data / "bot", data / "forge" / "repos", outside):
        folder.mkdir(parents=True)
    secrets = [data / "credentials.json", data / "bot" / "state.db", data / "bot" / "registry-token"]
    secrets += [data / "forge" / "forge.db-wal"]
    for path in [*secrets, data / "forge" / "repos" / "README.md", outside / "state.db"]:
        path.write_text("x")
        path.chmod(0o644)
    (data / "bot" / "wheelhouse").symlink_to(outside)
    for folder in (data, data / "bot", data / "forge"):
        folder.chmod(0o755)

    fixed = secure_data_dir(data)

    assert sorted(fix.path for fix in fixed) == sorted([data, data / "bot", data / "forge", *secrets])
    assert all(mode(path) == 0o600 for path in secrets)
    assert mode(outside / "state.db") == 0o644, "a linked folder is not the data directory's to change"
    assert mode(data / "forge" / "repos" / "README.md") == 0o644  # not a secret; its folder is private
    assert secure_data_dir(data) == []


def no_html_and_no_mentions(markdown: str) -> None:
    parser = MarkdownIt("commonmark", {"html": True}).enable("table")
    tokens = [child for token in parser.parse(markdown) for child in [token, *(token.children or [])]]
    assert [t.content for t in tokens if t.type in ("html_inline", "html_block")] == []
    assert MENTION.findall(markdown) == []


@pytest.mark.slow
@pytest.mark.xdist_group("flows")
def test_a_crash_report_is_for_its_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".data" / "crash").mkdir(parents=True)
    (tmp_path / ".data" / "crash" / "last-crash.txt").write_text("an older report")
    os.chmod(tmp_path / ".data" / "crash" / "last-crash.txt", 0o644)

    report = _crash_report(RuntimeError("token ghp_0123456789 refused"))

    assert report is not None and "ghp_0123456789" in report.read_text()
    assert stat.S_IMODE(report.stat().st_mode) == 0o600


def test_a_purpose_cannot_render_html_or_ping_anyone_in_the_pull_request(line_rig: Rig) -> None:
    hostile = NOTES_INTENT.replace(
        "purpose: Keep short team notes with a title and a body, so the team shares knowledge.",
        f"purpose: 'Keep short team notes with a title and a body. {HOSTILE}'",
    )
    assert hostile != NOTES_INTENT
    line_rig.push({"intents/notes.yaml": hostile}, "Add notes")
    record = line_rig.wait_for("intents/notes.yaml", IntentState.AWAITING_SIGNOFF)
    assert record.pr_number is not None
    body = str(line_rig.github(BOT).get_repo(REPO).get_pull(record.pr_number).body)
    assert "Keep short team notes" in body and "&lt;img src=x" in body
    no_html_and_no_mentions(body)


def test_a_reject_reason_cannot_render_html_or_ping_anyone(forge_kit: ForgeKit, tmp_path: Path) -> None:
    people = make_people(forge_kit)
    rig = start_rig(forge_kit, people, tmp_path)
    try:
        pull = rig.open_pull("rejected-edges")
        with rig.client() as browser:
            rig.sign_in(browser, people.approver)
            page = browser.get("/approvals")
            answer = browser.post(
                f"/approvals/{pull.intent_id}/reject",
                data={
                    "csrf_token": csrf_of(page.text),
                    "reason": f"Not this one.\n{HOSTILE}",
                    "confirmed": "yes",
                },
            )
        assert answer.status_code == 303
        issue = rig.github(people.owner).get_repo(DASHBOARD_REPO).get_issue(pull.number)
        comments = [str(comment.body) for comment in issue.get_comments()]
    finally:
        rig.server.stop()
        rig.db.dispose()
    rejected = next(body for body in comments if "Not this one." in body)
    assert "&lt;img src=x" in rejected
    no_html_and_no_mentions(rejected)
