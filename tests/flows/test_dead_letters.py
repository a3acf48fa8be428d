"""Work that gives up for good is told to the people concerned, whatever its kind."""

from __future__ import annotations

import pytest

from bot.handlers.common import JobKind
from bot.handlers.deadletters import dead_jobs_of, report_dead
from bot.queue import Job, JobState
from pipeline.ledger import IntentState
from pipeline.ledger.tables import IntentRow
from tests.fixtures.line import BOT, NOTES_INTENT, REPO, Rig
from tests.flows.test_signoff import approve, comment, wait_for_reply

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]

PATH = "intents/notes.yaml"


def test_a_signoff_that_keeps_failing_is_reported_on_its_pull_request(rig: Rig) -> None:
    rig.push({PATH: NOTES_INTENT}, "Add notes")
    record = rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF)
    assert record.pr_number is not None and record.decision is not None
    # The decision kept for the intent is damaged: counting its sign-offs fails on every attempt.
    with rig.ledger.database.session() as session:
        row = session.get(IntentRow, record.id)
        assert row is not None
        row.decision = {**record.decision.to_json(), "approvals_required": "two"}
    approve(rig, "bob", record.pr_number, record.head_sha)

    failed = rig.wait_for(PATH, IntentState.FAILED, timeout=60)
    assert failed.waiting_for.startswith("/intentops retry (UnreadableRecord")
    note = wait_for_reply(rig, record.pr_number, "gave up on `pr.signoff`")
    assert "(counting the sign-offs)" in note and "after 5 attempt(s)" in note
    assert "decision is unreadable (approvals_required" in note and "/intentops retry" in note
    tokens = [account.token for account in rig.accounts.values()]
    assert not any(token in note for token in tokens)
    # What `/intentops retry` on that PR finds to queue again.
    assert [job.kind for job in dead_jobs_of(rig.bot.app.state.context, failed)] == ["pr.signoff"]

    rig.ledger.record_decision(record.id, record.decision)  # repaired: the retried job can count
    comment(rig, "bob", record.pr_number, "/intentops retry")
    wait_for_reply(rig, record.pr_number, "queued again")
    assert rig.wait_for(PATH, IntentState.DEPLOYED, timeout=120).pr_number == record.pr_number
    assert dead_jobs_of(rig.bot.app.state.context, failed) == []


def test_an_intent_job_that_dies_before_the_intent_is_recorded_still_shows_on_its_commit(rig: Rig) -> None:
    sha = rig.push({"docs/notes.txt": "not an intent\n"}, "A note")
    path = "intents/ghost.yaml"
    # A read that gave up before the intent was ever recorded (e.g. the forge kept failing to serve it).
    job = Job(
        id=0,
        kind=JobKind.READ,
        key=f"read:{path}",
        payload={"repo": REPO, "path": path, "sha": sha, "author": "alice"},
        priority=0,
        state=JobState.DEAD,
        attempts=5,
        max_attempts=5,
        run_after=0.0,
        lease_owner=None,
        lease_expires_at=None,
        last_error="OSError: the forge did not answer",
        created_at=0.0,
        finished_at=0.0,
    )

    report_dead(job, rig.bot.app.state.context)

    record = rig.ledger.find(REPO, path)
    assert record is not None and record.state is IntentState.FAILED
    assert record.waiting_for.startswith("/intentops retry (OSError: the forge did not answer")
    repo = rig.github(BOT).get_repo(REPO)
    (status,) = [
        s
        for s in repo.get_commit(sha).get_combined_status().statuses
        if s.context == f"intentops/governance: {path}"
    ]
    assert status.state == "failure" and "gave up" in status.description
    assert record.issue_number is not None
    assert "gave up on `intent.read`" in str(repo.get_issue(record.issue_number).body)
