"""The sign-off and governance-status logic of intent pull requests, against the strict in-memory repository:
what counts on which head, who may not approve, what the bot merges. Milliseconds each; the flows in
tests/flows and tests/security prove the same through the real forge."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dashboard.eligibility import eligibility
from bot.handlers.reviews import evaluate_pull
from bot.line import Line
from bot.vcs.models import PullRequest, ReviewState, StatusState
from pipeline.governance import Decision
from pipeline.ledger import IntentRecord, IntentState, TestedBy
from tests.fixtures.fake_repo import BOT, FakeRepo, handler_line
from tests.fixtures.records import enter, make_decision

REPO = "acme/intents"
BUILT = "b" * 40
PUSHED = "c" * 40
GOVERNANCE = "intentops/governance"
REQUIRES_ONE = make_decision(
    matched=[{"name": "People decide", "action": "requires_approval", "approvals": 1}]
)
AUTO = make_decision(action="auto_approve", summary="policy 'Go': go")


@pytest.fixture
def repo() -> FakeRepo:
    return FakeRepo(REPO, permissions={"bob": "write", "carol": "write", "dave": "read", "alice": "write"})


@pytest.fixture
def line(tmp_path: Path, repo: FakeRepo) -> Line:
    return handler_line(tmp_path, repo)


def intent_pull(
    line: Line, repo: FakeRepo, decision: Decision, *, head: str = BUILT, tested: bool | None = True
) -> tuple[IntentRecord, PullRequest]:
    """An intent whose PR the line opened at `head`; `tested`: recorded green (True), red (False), or not."""
    record, _ = line.ledger.receive(
        repo=REPO, path="intents/notes.yaml", service_name="notes", content_hash="h1", author="alice"
    )
    line.ledger.record_decision(record.id, decision)
    pull = repo.open_pull(head="intentops/notes", head_sha=head, files=["services/notes/app/main.py"])
    enter(line.ledger, record.id, IntentState.BUILDING, pr_number=pull.number, head_sha=head)
    if tested is not None:
        line.checks.record_tested(record.id, head_sha=head, ok=tested, by=TestedBy.BUILD, pushed_by=BOT)
    return line.ledger.get(record.id), pull


def test_a_writers_approval_of_a_tested_head_signs_off_and_the_bot_merges(line: Line, repo: FakeRepo) -> None:
    record, pull = intent_pull(line, repo, REQUIRES_ONE)
    repo.review(pull.number, "bob", ReviewState.APPROVED, BUILT)

    status = evaluate_pull(line, repo, pull.number)

    assert status is not None and status.counted == ("bob",)
    assert repo.status_of(BUILT, GOVERNANCE).state is StatusState.SUCCESS
    assert repo.merged == [(pull.number, BUILT)]
    assert line.ledger.get(record.id).state is IntentState.APPROVED


@pytest.mark.parametrize(
    ("reviewer", "commit", "why"),
    [("alice", BUILT, "author"), (BOT, BUILT, "bot"), ("dave", BUILT, "write"), ("bob", "0" * 40, "earlier")],
)
def test_approvals_that_do_not_count_leave_it_waiting(
    line: Line, repo: FakeRepo, reviewer: str, commit: str, why: str
) -> None:
    _, pull = intent_pull(line, repo, REQUIRES_ONE)
    repo.review(pull.number, reviewer, ReviewState.APPROVED, commit)

    status = evaluate_pull(line, repo, pull.number)

    assert status is not None and status.counted == ()
    assert any(why in reason.value for _login, reason in status.refused)
    assert repo.status_of(BUILT, GOVERNANCE).state is StatusState.PENDING
    assert repo.merged == []


def test_a_head_the_line_has_not_tested_counts_no_approval(line: Line, repo: FakeRepo) -> None:
    record, pull = intent_pull(line, repo, AUTO, head=PUSHED, tested=None)
    repo.review(pull.number, "bob", ReviewState.APPROVED, PUSHED)

    evaluate_pull(line, repo, pull.number)

    governance = repo.status_of(PUSHED, GOVERNANCE)
    assert governance.state is StatusState.PENDING and "the line to test" in governance.description
    assert repo.merged == [], "not even an auto-approved intent merges before its head is tested"
    assert line.ledger.get(record.id).state is IntentState.BUILDING


def test_failing_tests_hold_back_the_bots_merge_whatever_the_policy(line: Line, repo: FakeRepo) -> None:
    record, pull = intent_pull(line, repo, AUTO, tested=False)

    evaluate_pull(line, repo, pull.number)

    assert repo.merged == []
    assert line.ledger.get(record.id).state is IntentState.NEEDS_HUMAN


def test_whoever_pushed_the_head_cannot_approve_it(line: Line, repo: FakeRepo) -> None:
    record, pull = intent_pull(line, repo, REQUIRES_ONE, head=PUSHED, tested=None)
    line.checks.record_tested(record.id, head_sha=PUSHED, ok=True, by=TestedBy.RETEST, pushed_by="bob")
    repo.review(pull.number, "bob", ReviewState.APPROVED, PUSHED)

    status = evaluate_pull(line, repo, pull.number)
    assert status is not None and [(login, r.name) for login, r in status.refused] == [("bob", "PUSHER")]

    repo.review(pull.number, "carol", ReviewState.APPROVED, PUSHED)
    status = evaluate_pull(line, repo, pull.number)
    assert status is not None and status.counted == ("carol",)


def test_an_intent_pull_request_that_changes_policies_fails_governance(line: Line, repo: FakeRepo) -> None:
    record, pull = intent_pull(line, repo, AUTO)
    repo.changed_files[pull.number].append("policies/allow.yaml")

    evaluate_pull(line, repo, pull.number)

    governance = repo.status_of(BUILT, GOVERNANCE)
    assert governance.state is StatusState.FAILURE and "policies/allow.yaml" in governance.description
    assert repo.merged == []
    assert line.ledger.get(record.id).state is IntentState.NEEDS_HUMAN


def test_the_dashboard_offers_approve_to_exactly_whom_the_bot_would_count(line: Line, repo: FakeRepo) -> None:
    """The dashboard asks the bot's own sign-off computation: a team approver counts there too."""
    repo.teams = {"@acme/platform": {"carol"}}
    by_team = make_decision(
        matched=[
            {
                "name": "Platform",
                "action": "requires_approval",
                "approvals": 1,
                "approvers": ["@acme/platform"],
            }
        ]
    )
    record, pull = intent_pull(line, repo, by_team)
    enter(line.ledger, record.id, IntentState.AWAITING_SIGNOFF, pr_number=pull.number)
    record = line.ledger.get(record.id)

    carol = eligibility(repo, record, login="carol", bot_login=BOT, ledger=line.ledger)
    bob = eligibility(repo, record, login="bob", bot_login=BOT, ledger=line.ledger)

    assert carol.allowed, carol.reason
    assert not bob.allowed and "not one of the policy's approvers" in bob.reason
