"""What a push makes of its intents, and how a pull request changing the policies is governed, against the
strict in-memory repository (milliseconds each; tests/security/test_trust_flows.py does it on the forge)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.events import Commit, PushEvent
from bot.handlers.changes import on_changed
from bot.handlers.common import JobKind
from bot.handlers.intents import build_intent, on_push, read_intent
from bot.line import Line
from bot.queue import Job, JobQueue
from bot.routing import BotContext
from bot.settings import Settings
from bot.vcs.models import ReviewState, StatusState
from pipeline.governance.floor import load_floor
from pipeline.ledger import IntentState
from tests.conftest import EXAMPLES, ROOT
from tests.fixtures.fake_repo import BOT, FakeRepo, handler_line
from tests.fixtures.records import make_decision

REPO = "acme/intents"
BEFORE, AFTER = "a" * 40, "d" * 40
NOTES = b"service_name: notes\npurpose: Keep short team notes, so the team shares knowledge.\ntier: 1\n"
BLOCK_NOTES = (
    b"policies:\n  - {name: No notes, rule: \"service_name == 'notes'\", action: blocked, reason: r}\n"
)


def shipped_policies() -> dict[str, bytes]:
    return {f"policies/{p.name}": p.read_bytes() for p in (ROOT / "policies").iterdir() if p.is_file()}


@pytest.fixture
def repo() -> FakeRepo:
    governing = {"BLUEPRINT.md": (EXAMPLES / "BLUEPRINT.md").read_bytes(), **shipped_policies()}
    return FakeRepo(
        REPO,
        files={"main": dict(governing), BEFORE: dict(governing)},
        permissions={"bob": "write", "carol": "write", "alice": "write"},
    )


@pytest.fixture
def line(tmp_path: Path, repo: FakeRepo) -> Line:
    made = handler_line(tmp_path, repo)
    made.floor = load_floor(None)
    return made


@pytest.fixture
def context(line: Line) -> BotContext:
    settings = Settings(INTENTOPS_DATA_DIR=str(line.workdir))  # type: ignore[call-arg]
    return BotContext(settings, line.ledger.database, JobQueue(line.ledger.database), line)


def push(*added: str) -> PushEvent:
    return PushEvent(
        repo=REPO,
        sender="alice",
        installation_id=None,
        ref="refs/heads/main",
        before=BEFORE,
        after=AFTER,
        default_branch="main",
        pusher="alice",
        commits=(Commit(AFTER, "intents", tuple(added), (), ()),),
        deleted=False,
        forced=False,
    )


def queued(context: BotContext, kind: str) -> list[Job]:
    jobs = []
    while (job := context.queue.claim("test")) is not None:
        jobs.append(job)
    return [job for job in jobs if job.kind == kind]


def test_a_push_queues_its_intents_with_the_commit_before_it(context: BotContext) -> None:
    on_push(push("intents/notes.yaml", "README.md"), context)

    (job,) = queued(context, JobKind.READ)
    assert job.payload["path"] == "intents/notes.yaml"
    assert (job.payload["sha"], job.payload["base"]) == (AFTER, BEFORE), "governed by what came before"


def test_a_second_file_cannot_take_a_service_name_its_owner_keeps(
    context: BotContext, repo: FakeRepo, line: Line
) -> None:
    repo.files[AFTER] = {"intents/notes.yaml": NOTES, "intents/a-notes.yaml": NOTES}
    line.ledger.receive(repo=REPO, path="intents/notes.yaml", service_name="notes", content_hash="h0")

    on_push(push("intents/a-notes.yaml"), context)
    read_intent(queued(context, JobKind.READ)[0], context)

    taken = line.ledger.find(REPO, "intents/a-notes.yaml")
    assert taken is not None and taken.state is IntentState.INVALID
    assert "already owned by intents/notes.yaml" in taken.waiting_for
    failing = repo.status_of(AFTER, "intentops/governance: intents/a-notes.yaml")
    assert failing.state is StatusState.FAILURE
    assert queued(context, JobKind.BUILD) == [], "nothing is built from it"


def test_a_policy_pull_request_is_governed_by_the_policies_in_force_with_a_plan(
    context: BotContext, repo: FakeRepo, line: Line
) -> None:
    record, _ = line.ledger.receive(
        repo=REPO, path="intents/notes.yaml", service_name="notes", content_hash="h1", commit_sha=AFTER
    )
    repo.files[AFTER] = {"intents/notes.yaml": NOTES}
    line.ledger.record_decision(
        record.id, make_decision(alignment={"score": 0.9, "method": "lexical", "rationale": ""})
    )
    head = "e" * 40
    repo.files[head] = {**repo.files["main"], "policies/block.yaml": BLOCK_NOTES}
    pull = repo.open_pull(
        head="block-notes", head_sha=head, author="alice", files=["policies/block.yaml"], base_sha="main"
    )
    payload = {"repo": REPO, "number": pull.number, "head_sha": head, "pusher": "alice"}
    context.queue.enqueue(JobKind.CHANGED, key=f"changed:{head}", payload=payload)
    (job,) = queued(context, JobKind.CHANGED)

    on_changed(job, context)

    (plan,) = repo.comments[pull.number]
    assert "would newly block 1: notes" in plan
    governance = repo.status_of(head, "intentops/governance")
    assert governance.state is StatusState.PENDING and "2 more approvals" in governance.description
    assert repo.status_of(head, "intentops/tests").state is StatusState.SUCCESS

    repo.review(pull.number, "bob", ReviewState.APPROVED, head)
    repo.review(pull.number, "carol", ReviewState.APPROVED, head)
    on_changed(job, context)  # a redelivery: the same plan is not posted twice
    assert repo.status_of(head, "intentops/governance").state is StatusState.SUCCESS
    assert len(repo.comments[pull.number]) == 1
    assert BOT not in repo.permissions


def test_the_blocked_issue_gives_the_intents_own_values_in_numbers(
    context: BotContext, repo: FakeRepo, line: Line
) -> None:
    block_tier = b"policies:\n  - {name: No tier 3, rule: 'tier >= 3', action: blocked, reason: r}\n"
    repo.files[BEFORE]["policies/block.yaml"] = block_tier
    repo.files[AFTER] = {"intents/notes.yaml": NOTES.replace(b"tier: 1", b"tier: 3")}

    on_push(push("intents/notes.yaml"), context)
    read_intent(queued(context, JobKind.READ)[0], context)
    build_intent(queued(context, JobKind.BUILD)[0], context)

    blocked = line.ledger.find(REPO, "intents/notes.yaml")
    assert blocked is not None and blocked.state is IntentState.BLOCKED
    ((_title, body),) = repo.issues.values()
    numbers = body[body.index("**In numbers**") :]
    assert "**No tier 3**: `tier 3 >= 3" in numbers, numbers
