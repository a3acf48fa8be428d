"""A whole line on one machine: the embedded forge, the bot (webhook, workers, API, registry, dashboard)
served on a real port, the forge's webhook pointing at it, and people pushing through git."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.queue import JOBS, JobState
from bot.server import Bot, build_bot
from bot.settings import Settings
from forge.admin import Account
from pipeline.ledger import IntentRecord, IntentState
from pipeline.wheelhouse import prepare_wheelhouse
from tests.conftest import EXAMPLES, ROOT
from tests.fixtures.forge import ForgeKit
from tests.fixtures.servers import free_port, serve_app

REPO = "acme/intents"
SECRET = "flow-test-webhook-secret"
BOT = "intentops-bot"
SHARED_DATA = ROOT / ".data"


@dataclass
class Rig:
    kit: ForgeKit
    bot: Bot
    url: str
    accounts: dict[str, Account]
    clone: Path

    @property
    def ledger(self):  # type: ignore[no-untyped-def]
        return self.bot.line.ledger

    def push(self, files: dict[str, str | None], message: str = "intents") -> str:
        """Commit on top of the forge's current main (the bot merges into it) and push."""
        self.kit.git(self.clone, "fetch", "--quiet", "origin")
        self.kit.git(self.clone, "reset", "--quiet", "--hard", "origin/main")
        sha = self.kit.commit(self.clone, files, message)
        self.kit.git(self.clone, "push", "--quiet", "origin", "HEAD:main")
        return sha

    def wait_for(self, path: str, *states: IntentState, timeout: float = 180.0) -> IntentRecord:
        deadline = time.monotonic() + timeout
        record = None
        while time.monotonic() < deadline:
            record = self.ledger.find(REPO, path)
            if record is not None and record.state in states:
                return record
            if record is not None and record.state is IntentState.FAILED and IntentState.FAILED not in states:
                break  # a job gave up for good: no point waiting
            time.sleep(0.2)
        history = self.ledger.history(record.id) if record else []
        jobs = self.bot.app.state.context.queue.counts()
        raise AssertionError(
            f"{path} did not reach {[s.value for s in states]} in {timeout}s: "
            f"{record.state if record else 'not in the ledger'} "
            f"{[(e.stage.value, e.outcome.value, e.message) for e in history]} jobs={jobs}"
        )

    def github(self, login: str):  # type: ignore[no-untyped-def]
        return self.kit.github(self.accounts[login])

    def job_counts(self) -> dict[str, int]:
        """Jobs ever enqueued, by kind."""
        with self.bot.database.session() as session:
            rows = session.execute(select(JOBS.c.kind, func.count()).group_by(JOBS.c.kind)).all()
        return {str(kind): int(count) for kind, count in rows}

    def wait_until_idle(self, timeout: float = 60.0) -> None:
        """Until every delivery the forge made has been answered and no job is queued or running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending = [d for d in self.kit.admin.deliveries(REPO) if d.status_code == 0]
            counts = self.bot.app.state.context.queue.counts()
            if not pending and counts[JobState.QUEUED] == 0 and counts[JobState.RUNNING] == 0:
                return
            time.sleep(0.2)
        raise AssertionError(
            f"the line did not settle in {timeout}s: {self.bot.app.state.context.queue.counts()}"
        )


def _policy_files() -> dict[str, bytes]:
    return {f"policies/{p.name}": p.read_bytes() for p in (ROOT / "policies").iterdir() if p.is_file()}


@pytest.fixture
def rig(forge_kit: ForgeKit, tmp_path: Path) -> Iterator[Rig]:
    kit = forge_kit
    # "acme" owns the intents repository (and administers it); the others are collaborators.
    accounts = {login: kit.user(login) for login in ("acme", BOT, "alice", "bob", "carol")}
    files = {"BLUEPRINT.md": (EXAMPLES / "BLUEPRINT.md").read_bytes(), **_policy_files()}
    kit.repo(
        REPO, files=files, collaborators={BOT: "write", "alice": "write", "bob": "write", "carol": "read"}
    )
    prepare_wheelhouse(SHARED_DATA / "wheelhouse")  # a no-op once set-up has run
    data = tmp_path / "bot"
    data.mkdir()
    (data / "wheelhouse").symlink_to(SHARED_DATA / "wheelhouse")
    port = free_port()
    settings = Settings(
        INTENTOPS_WEBHOOK_SECRET=SECRET,
        GITHUB_TOKEN=accounts[BOT].token,
        GITHUB_BASE_URL=kit.api_url,
        INTENTOPS_BOT_LOGIN=BOT,
        INTENTOPS_DATA_DIR=str(data),
        INTENTOPS_PUBLIC_URL=f"http://127.0.0.1:{port}",
        INTENTOPS_REPO=REPO,
        INTENTOPS_WORKER_THREADS=2,
        INTENTOPS_JOB_BACKOFF_SECONDS=0.5,
        INTENTOPS_DASHBOARD_SECRET="flow-test-dashboard-secret-0123456789",
    )
    bot = build_bot(settings)
    bot.line.venv_cache = SHARED_DATA / "venvs"  # the sandbox's venv is content-addressed: share it
    with serve_app(bot.app, port=port) as url:
        kit.admin.add_webhook(REPO, f"{url}/webhook", secret=SECRET)
        clone = kit.clone(REPO, accounts["alice"])
        yield Rig(kit=kit, bot=bot, url=url, accounts=accounts, clone=clone)
        for instance in bot.line.deployer.running():
            bot.line.deployer.undeploy(instance.name)
    bot.database.dispose()
