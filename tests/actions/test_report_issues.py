"""The issue the line opens about an intent without a pull request is closed when the intent is removed,
against the strict in-memory repository (tests/actions/test_action_flow.py: when it is fixed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.events import Commit, PushEvent
from bot.handlers.common import JobKind
from bot.handlers.intents import on_push, read_intent, undeploy_intent
from bot.line import Line
from bot.queue import JobQueue
from bot.routing import BotContext
from bot.settings import Settings
from pipeline.deploy import Backend
from pipeline.deploy.wiring import DeploySetup, build_deployer
from pipeline.governance.floor import load_floor
from tests.conftest import EXAMPLES, ROOT
from tests.fixtures.fake_repo import FakeRepo, handler_line

REPO = "acme/intents"
PATH = "intents/hello-world.yaml"
BEFORE = "a" * 40
INVALID = b"service_name: hello-world\npurpose: Say hello\nowner: me\n"


@pytest.fixture
def repo() -> FakeRepo:
    governing = {
        "BLUEPRINT.md": (EXAMPLES / "BLUEPRINT.md").read_bytes(),
        **{f"policies/{p.name}": p.read_bytes() for p in (ROOT / "policies").iterdir() if p.is_file()},
    }
    return FakeRepo(REPO, files={"main": dict(governing), BEFORE: dict(governing)}, permissions={})


@pytest.fixture
def context(tmp_path: Path, repo: FakeRepo) -> BotContext:
    line: Line = handler_line(tmp_path, repo)
    line.floor = load_floor(None)
    setup = DeploySetup(data_dir=tmp_path / "deploy", registry_url="http://127.0.0.1:9", registry_token="t")
    line.deployer = build_deployer(Backend.LOCAL, setup, line.ledger.database, line.registry)
    settings = Settings(INTENTOPS_DATA_DIR=str(line.workdir))  # type: ignore[call-arg]
    return BotContext(settings, line.ledger.database, JobQueue(line.ledger.database), line)


def push(repo: FakeRepo, sha: str, *, content: bytes | None, before: str = BEFORE) -> PushEvent:
    files = dict(repo.files["main"])
    if content is not None:
        files[PATH] = content
    repo.files[sha] = files
    changed = ((PATH,), (), ()) if content is not None else ((), (), (PATH,))
    return PushEvent(
        repo=REPO,
        sender="alice",
        installation_id=None,
        ref="refs/heads/main",
        before=before,
        after=sha,
        default_branch="main",
        pusher="alice",
        commits=(Commit(sha, "intents", *changed),),
        deleted=False,
        forced=False,
    )


def run_all(context: BotContext) -> None:
    handlers = {JobKind.READ: read_intent, JobKind.UNDEPLOY: undeploy_intent}
    while (job := context.queue.claim("test")) is not None:
        assert job.kind in handlers, job.kind
        handlers[JobKind(job.kind)](job, context)
        context.queue.complete(job)


def _opened_issue(context: BotContext, repo: FakeRepo) -> int:
    assert context.line is not None
    run_all(context)
    record = context.line.ledger.find(REPO, PATH)
    assert record is not None and record.issue_number in repo.issues
    return record.issue_number


def test_the_issue_about_an_invalid_intent_is_closed_when_it_is_removed(
    context: BotContext, repo: FakeRepo
) -> None:
    on_push(push(repo, "b" * 40, content=INVALID), context)
    number = _opened_issue(context, repo)

    on_push(push(repo, "c" * 40, content=None, before="b" * 40), context)
    run_all(context)
    assert number in repo.closed_issues
    assert repo.comments[number][-1] == f"Closed: `{PATH}` was deleted from the default branch."
