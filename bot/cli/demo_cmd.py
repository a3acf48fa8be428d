"""`intentops up` (the line on one machine) and `intentops demo` (an intent from commit to running service).

The demo is what a person would do, done by the program: the author commits an intent with git, the
bot answers with a PR, the reviewer approves it, the bot merges and deploys it. It prints
each stage as it happens, then a timeline, and exits 0 only if the deployed service answers.
"""

from __future__ import annotations

import logging
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.table import Table

from bot.cli.datamodes import check_data_dir
from bot.cli.output import fail, out
from bot.cli.running import marked_running
from bot.cli.stack import (
    AUTHOR,
    CREDENTIALS,
    REPO,
    REVIEWER,
    SECOND_REVIEWER,
    Stack,
    port_or_free,
    start_stack,
)
from bot.logs import configure_logging
from bot.vcs.github import GithubRepoClient, token_connection
from bot.vcs.workspace import auth_environment
from pipeline.ledger import IntentRecord, IntentState, Outcome, StageEvent

DEFAULT_DATA = Path(".data") / "demo"
INTENT_PATH = "intents/hello-world.yaml"
# The example intent, at tier 1: the policies then ask a person to sign off, as the demo shows.
DEMO_INTENT = """\
# Committed by the IntentOps demo.
service_name: hello-world
purpose: Say hello in several languages, to test the assembly line from intent to running service.
priority: normal
tier: 1
blueprint_context: Proves the line end to end; serves the goal of fast, reliable delivery of small services.
resources:
  - name: greeting
    fields: {language: string, message: string}
    required: [language, message]
    seed:
      - {language: en, message: "Hello, world!"}
      - {language: fr, message: "Bonjour, le monde !"}
      - {language: es, message: "¡Hola, mundo!"}
endpoints:
  - method: GET
    path: /hello
    summary: Return the default greeting, in English.
    respond: {language: en, message: "Hello, world!"}
  - method: GET
    path: /hello/{language}
    summary: Greet in the language asked for.
    query: {resource: greeting, where: {language: "{language}"}, single: true}
"""
SECOND_PATH = "intents/notes.yaml"
# Tier 1 as well: it waits for the person running the demo to sign it off on the dashboard.
SECOND_INTENT = """\
# Committed by the IntentOps demo, for you to approve on the dashboard.
service_name: notes
purpose: Keep short team notes with a title and a body, so the team shares knowledge.
priority: normal
tier: 1
blueprint_context: Small internal services delivered fast and reliably, as the blueprint asks.
resources:
  - name: note
    fields: {title: string, body: string}
    required: [title]
"""
STAGE_TIMEOUT_S = 300.0
SERVICE_PAGE = "/docs"
FORGE_SIGN_IN = (
    "  The forge's pages (pull requests, issues) ask for a login and a token too: sign in with the same ones."
)
DONE = (IntentState.DEPLOYED,)
STUCK = (
    IntentState.INVALID,
    IntentState.BLOCKED,
    IntentState.NEEDS_HUMAN,
    IntentState.DEPLOY_FAILED,
    IntentState.FAILED,
)


def _stop_leftovers(data_dir: Path) -> None:
    """A previous run's services may still run (a killed demo): stop them before its data goes."""
    state = data_dir / "bot" / "state.db"
    if not state.exists():
        return
    from pipeline.deploy import Backend
    from pipeline.deploy.wiring import DeploySetup, build_deployer
    from pipeline.registry import RegistryStore
    from pipeline.state import Database

    database = Database(f"sqlite:///{state}")
    try:
        setup = DeploySetup(data_dir=data_dir / "bot", registry_url="http://127.0.0.1:9", registry_token="-")
        deployer = build_deployer(Backend.LOCAL, setup, database, RegistryStore(database))
        for instance in deployer.running():
            deployer.undeploy(instance.name)
    finally:
        database.dispose()


def _fresh(data_dir: Path) -> None:
    _stop_leftovers(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)


def _start(data_dir: Path, bot_port: int, forge_port: int, backend: str) -> Stack:
    _fresh(data_dir)
    out.print("Starting the embedded forge and the bot ...")
    try:
        stack = start_stack(
            data_dir, bot_port=port_or_free(bot_port), forge_port=port_or_free(forge_port), backend=backend
        )
    except Exception as exc:  # set-up failures are the user's to fix: one clear line, no traceback
        fail(f"could not start the line: {exc}")
    check_data_dir(data_dir)
    return stack


def service_page(url: str) -> str:
    """Where to look at a deployed service: its API's page (its bare address answers nothing itself)."""
    return f"{url.rstrip('/')}{SERVICE_PAGE}"


def _describe(stack: Stack) -> None:
    out.print(f"  forge      {stack.forge.url}  (repository {stack.forge.url}/{REPO})")
    out.print(f"  bot        {stack.bot_url}  (webhook, API, registry)")
    out.print(f"  dashboard  {stack.dashboard_url}")
    out.print(
        f"  sign-in tokens for {AUTHOR} (author), {REVIEWER} and {SECOND_REVIEWER} (reviewers): "
        f"{stack.data_dir / CREDENTIALS}"
    )


def _git(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (
            result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
        )
        fail(f"git {args[0]} failed: {detail}")


def commit_intent(stack: Stack, path: str, text: str) -> None:
    """What the author does: clone, write the intent, commit, push."""
    service = Path(path).stem
    clone = stack.data_dir / f"author-clone-{service}"
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(stack.data_dir),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        **auth_environment(AUTHOR, stack.credentials.tokens[AUTHOR]),
    }
    _git(["clone", "--quiet", f"{stack.forge.url}/{REPO}.git", str(clone)], stack.data_dir, env)
    (clone / "intents").mkdir(exist_ok=True)
    (clone / path).write_text(text, encoding="utf-8")
    _git(["add", path], clone, env)
    identity = ["-c", f"user.name={AUTHOR}", "-c", f"user.email={AUTHOR}@example.invalid"]
    _git([*identity, "commit", "--quiet", "-m", f"Add the {service} intent"], clone, env)
    _git(["push", "--quiet", "origin", "HEAD:main"], clone, env)


class Watcher:
    """Prints each stage event of the intent once, as the ledger records it."""

    def __init__(self, stack: Stack, started: float, path: str = INTENT_PATH) -> None:
        self.stack = stack
        self.started = started
        self.path = path
        self.seen = 0
        self.announce = False
        """Say once that the intent is running (the hand-over's intent)."""

    def wait(self, *states: IntentState) -> IntentRecord:
        deadline = time.monotonic() + STAGE_TIMEOUT_S
        while time.monotonic() < deadline:
            record = self.poll()
            if record is not None:
                if record.state in states:
                    return record
                if record.state in STUCK:
                    fail(f"the intent stopped in state {record.state.value}: {record.waiting_for}")
            time.sleep(0.2)
        fail(f"no progress within {STAGE_TIMEOUT_S:.0f}s (waiting for {', '.join(s.value for s in states)})")

    def poll(self) -> IntentRecord | None:
        """The intent as it stands, after printing the stages it finished since the last look."""
        ledger = self.stack.bot.line.ledger
        record = ledger.find(REPO, self.path)
        if record is not None:
            self._print_new(ledger.history(record.id))
        return record

    def _print_new(self, events: list[StageEvent]) -> None:
        for event in events[self.seen :]:
            if event.outcome is not Outcome.STARTED:
                elapsed = time.monotonic() - self.started
                name = Path(self.path).stem
                out.print(
                    f"  [{elapsed:6.1f}s] {name} {event.stage.value:<10} {event.outcome.value:<9} "
                    f"{event.message}"
                )
        self.seen = len(events)


class LineWatcher(Watcher):
    """`intentops up`: prints each stage event of every intent once, as the ledger records it."""

    def __init__(self, stack: Stack, started: float) -> None:
        super().__init__(stack, started, path="")
        self.seen_by_intent: dict[int, int] = {}

    def poll(self) -> IntentRecord | None:
        ledger = self.stack.bot.line.ledger
        for record in reversed(ledger.list_intents(limit=50)):
            self.path, self.seen = record.path, self.seen_by_intent.get(record.id, 0)
            self._print_new(ledger.history(record.id))
            self.seen_by_intent[record.id] = self.seen
        return None


def _approve(stack: Stack, record: IntentRecord) -> None:
    """What the reviewer does: read the PR and approve its current head."""
    reviewer = GithubRepoClient(
        token_connection(stack.credentials.tokens[REVIEWER], stack.forge.api_url), REPO
    )
    assert record.pr_number is not None
    pull = reviewer.get_pull(record.pr_number)
    out.print(f"  {REVIEWER} approves {pull.html_url} at {pull.head_sha[:12]}")
    reviewer.submit_review(pull.number, commit_id=pull.head_sha, event="APPROVE", body="Looks good.")


@dataclass(frozen=True)
class TimelineRow:
    stage: str
    result: str
    took_s: float
    at_s: float
    """Seconds since the intent was pushed."""
    detail: str


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def timeline_rows(events: list[StageEvent], pushed_at: datetime) -> list[TimelineRow]:
    """One row per finished stage. A stage the ledger recorded without a duration took the time since
    the stage before it ended: received (the webhook and the queue after the push), sign-off (the wait
    for a person after the PR opened), merged (from the sign-off to the merge)."""
    rows: list[TimelineRow] = []
    previous = _utc(pushed_at)
    for event in events:
        if event.outcome is Outcome.STARTED:
            continue
        at = _utc(event.at)
        took = event.duration_ms / 1000 if event.duration_ms is not None else (at - previous).total_seconds()
        elapsed = (at - _utc(pushed_at)).total_seconds()
        rows.append(
            TimelineRow(event.stage.value, event.outcome.value, max(took, 0.0), elapsed, event.message)
        )
        previous = max(previous, at)
    return rows


def _timeline(rows: list[TimelineRow]) -> Table:
    table = Table(title="hello-world, from commit to running service", title_justify="left")
    for column in ("stage", "result", "took", "at", "detail"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.stage, row.result, f"{row.took_s:.1f}s", f"+{row.at_s:.1f}s", row.detail[:70])
    return table


def _check_service(url: str, pushed_at: datetime) -> TimelineRow:
    """GET /health and /hello on the deployed service: the timeline's last row, or exit 1."""
    started = datetime.now(UTC)
    try:
        health = httpx.get(f"{url}/health", timeout=10)
        hello = httpx.get(f"{url}/hello", timeout=10)
    except httpx.HTTPError as exc:
        fail(f"the service at {url} does not answer: {exc}")
    if health.status_code != 200 or hello.status_code != 200:
        fail(
            f"the service at {url} answered {health.status_code} on /health and {hello.status_code} on /hello"
        )
    out.print(f"  GET {url}/hello -> {hello.status_code} {hello.text[:80]}")
    done = datetime.now(UTC)
    took, at = (done - started).total_seconds(), (done - pushed_at).total_seconds()
    return TimelineRow("health", "succeeded", took, at, "/health and /hello answer 200")


def _stop_on_sigterm() -> None:
    """SIGTERM (`kill`, a service manager) stops the line like Ctrl-C, services included."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _wait_for_interrupt(stack: Stack, watcher: Watcher | None = None) -> None:
    """Until Ctrl-C (SIGINT), printing what happens to the watched intent; a second Ctrl-C while the line
    stops is ignored, so nothing is left half-stopped."""
    out.print("The line keeps running (Ctrl-C stops it and the services it deployed).")
    try:
        while True:
            if watcher is not None:
                record = watcher.poll()
                if record is not None and record.state is IntentState.DEPLOYED and watcher.announce:
                    name = Path(watcher.path).stem
                    out.print(f"[bold green]{name} is running at {service_page(record.service_url)}[/]")
                    watcher.announce = False
            time.sleep(0.5 if watcher is not None else 3600)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        out.print("stopping ...")


def _sign_in_hint(stack: Stack) -> str:
    """How to sign in as the reviewer: the token itself only on a terminal, else where it is kept."""
    if sys.stdout.isatty():
        return f"with {REVIEWER}'s token (a secret, shown once): {stack.credentials.tokens[REVIEWER]}"
    return f"with {REVIEWER}'s token from {stack.data_dir / CREDENTIALS} (tokens → {REVIEWER})"


def _hand_over(stack: Stack) -> Watcher:
    """The second intent is the person's: it needs their sign-off on the dashboard."""
    out.print(f"{AUTHOR} commits {SECOND_PATH}, which needs a person's sign-off: yours.")
    commit_intent(stack, SECOND_PATH, SECOND_INTENT)
    out.print(f"[bold]Your turn[/]: open {stack.dashboard_url} and sign in as {REVIEWER} (the reviewer)")
    out.print(f"  {_sign_in_hint(stack)}")
    out.print(FORGE_SIGN_IN)
    out.print(
        "  On Approvals, once notes' pull request is open, read its SPEC and changes and press Approve: "
        "the bot merges it; follow it to deployed on Queue and Services."
    )
    watcher = Watcher(stack, time.monotonic(), SECOND_PATH)
    watcher.announce = True
    return watcher


DataOption = Annotated[
    Path, typer.Option("--data-dir", help="Where the demo keeps its forge, state and logs")
]
BotPort = Annotated[int, typer.Option("--port", help="The bot's port (dashboard, API, webhook, registry)")]
ForgePort = Annotated[int, typer.Option("--forge-port", help="The embedded forge's port")]
Backend = Annotated[str, typer.Option("--backend", help="local, docker or swarm")]


def demo(
    data_dir: DataOption = DEFAULT_DATA,
    port: BotPort = 8214,
    forge_port: ForgePort = 3000,
    backend: Backend = "local",
    stay: Annotated[
        bool | None,
        typer.Option(
            "--stay/--exit",
            help="Afterwards, commit a second intent for you to approve on the dashboard and stay up until "
            "Ctrl-C (default: when run from a terminal)",
        ),
    ] = None,
    self_improve: Annotated[
        bool,
        typer.Option(
            "--self-improve",
            help="Instead: the line builds a new version of its own spec-builder, proves it on recent work "
            "beside the built-in, adopts it through a pull request two people approve, and builds the next "
            "intent's SPEC with it",
        ),
    ] = False,
) -> None:
    """Drive the hello-world intent from commit to a running, registered service, and print a timeline;
    then (from a terminal, or with --stay) hand a second intent over to you on the dashboard.
    With --self-improve, show the line improving itself instead."""
    _stop_on_sigterm()
    stack = _start(data_dir, port, forge_port, backend)
    succeeded = False
    try:
        _describe(stack)
        succeeded = _improve(stack) if self_improve else _hello_world(stack, stay)
    finally:
        stack.stop(undeploy=True)
    if not succeeded:
        raise typer.Exit(1)


def _hello_world(stack: Stack, stay: bool | None) -> bool:
    """hello-world from commit to a running service; then, if asked, the hand-over."""
    started = time.monotonic()
    watcher = Watcher(stack, started)
    out.print(f"{AUTHOR} commits {INTENT_PATH} and pushes it to main")
    pushed_at = datetime.now(UTC)
    commit_intent(stack, INTENT_PATH, DEMO_INTENT)
    record = watcher.wait(IntentState.AWAITING_SIGNOFF, IntentState.APPROVED)
    out.print(f"  pull request: {record.pr_url} (waiting for {record.waiting_for or 'merge'})")
    _approve(stack, record)
    record = watcher.wait(IntentState.MERGED, IntentState.DEPLOYING, *DONE)
    if record.state is IntentState.MERGED:  # merged, but the bot refused to deploy it
        fail(f"hello-world was merged but not deployed: {record.waiting_for}")
    out.print(f"  the bot merges it ({record.commit_sha[:12]}): signed off, every check green")
    record = watcher.wait(*DONE)
    health = _check_service(record.service_url, pushed_at)
    rows = timeline_rows(stack.bot.line.ledger.history(record.id), pushed_at)
    out.print(_timeline([*rows, health]))
    out.print(
        f"[bold green]hello-world is running at {service_page(record.service_url)}[/bold green] "
        f"({time.monotonic() - started:.1f}s from commit); dashboard: {stack.dashboard_url}"
    )
    if stay if stay is not None else sys.stdin.isatty():
        _wait_for_interrupt(stack, _hand_over(stack))
    return True


def _improve(stack: Stack) -> bool:
    """`--self-improve`: True when the next intent's SPEC came from the adopted spec-builder-v2."""
    from bot.cli.selfimprove import ADOPTED, drive

    started = time.monotonic()
    watchers: dict[str, Watcher] = {}

    def watch(path: str, states: tuple[IntentState, ...]) -> IntentRecord:
        watcher = watchers.setdefault(path, Watcher(stack, started, path))
        return watcher.wait(*states)

    if not drive(stack, commit=commit_intent, watch=watch):
        out.print(f"[bold red]the line did not adopt {ADOPTED}[/]")
        return False
    out.print(
        f"[bold green]the line improved itself: {ADOPTED} builds its SPECs[/] "
        f"({time.monotonic() - started:.1f}s); see Stages on {stack.dashboard_url}"
    )
    return True


def up(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Where the line keeps its data")] = Path(
        ".data"
    )
    / "up",
    port: BotPort = 8214,
    forge_port: ForgePort = 3000,
    backend: Backend = "local",
) -> None:
    """Start the forge (with a demo repository and users), the bot and the dashboard; run until Ctrl-C."""
    _stop_on_sigterm()
    # A server's log: refused deliveries, retries, dead jobs (INFO and up), with the time; each intent's
    # stages are printed as they happen, so events nothing handles are not logged below WARNING.
    configure_logging(level=logging.INFO, quiet=True)
    stack = _start(data_dir, port, forge_port, backend)
    try:
        _describe(stack)
        out.print(
            f"Commit intents to {stack.forge.url}/{REPO}.git (as {AUTHOR}, with the token in the file above)."
        )
        with marked_running(stack.data_dir / "bot"):  # `intentops services` and the like find it
            _wait_for_interrupt(stack, LineWatcher(stack, time.monotonic()))
    finally:
        stack.stop(undeploy=True)


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(demo)
