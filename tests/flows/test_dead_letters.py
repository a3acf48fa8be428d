"""Work that gives up for good is told to the people concerned, whatever its kind."""

from __future__ import annotations

import pytest

from bot.handlers.common import dead_jobs_of
from pipeline.ledger import IntentState
from tests.fixtures.line import NOTES_INTENT, Rig
from tests.flows.test_signoff import approve, wait_for_reply

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]

PATH = "intents/notes.yaml"


def test_a_signoff_that_keeps_failing_is_reported_on_its_pull_request(rig: Rig) -> None:
    rig.push({PATH: NOTES_INTENT}, "Add notes")
    record = rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF)
    assert record.pr_number is not None and record.decision is not None
    # The decision kept for the intent is damaged: counting its sign-offs fails on every attempt.
    rig.ledger.record_decision(record.id, {**record.decision, "approvals_required": "two"})
    approve(rig, "bob", record.pr_number, record.head_sha)

    failed = rig.wait_for(PATH, IntentState.FAILED, timeout=60)
    assert failed.waiting_for.startswith("/intentops retry (ValueError")
    note = wait_for_reply(rig, record.pr_number, "gave up on `pr.signoff`")
    assert "(counting the sign-offs)" in note and "after 5 attempt(s)" in note
    assert "invalid literal for int()" in note and "/intentops retry" in note
    tokens = [account.token for account in rig.accounts.values()]
    assert not any(token in note for token in tokens)
    # What `/intentops retry` on that PR finds to queue again.
    assert [job.kind for job in dead_jobs_of(rig.bot.app.state.context, failed)] == ["pr.signoff"]
