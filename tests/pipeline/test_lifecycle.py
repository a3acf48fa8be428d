"""The intent lifecycle, tested as the table it is: every event from every state."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ledger import Event, IntentState, Ledger
from pipeline.ledger.lifecycle import STAGES, TABLE, transition
from pipeline.state import Database

# What each event leads to, from any state the table does not refuse it in.
EXPECTED = {
    Event.RECEIVED: IntentState.RECEIVED,
    Event.INVALID: IntentState.INVALID,
    Event.BLOCKED: IntentState.BLOCKED,
    Event.HELD: IntentState.NEEDS_HUMAN,
    Event.BUILD_STARTED: IntentState.BUILDING,
    Event.BUILT: IntentState.BUILDING,
    Event.SPEC_BELOW_GATE: IntentState.NEEDS_HUMAN,
    Event.PR_UPDATED: IntentState.BUILDING,
    Event.RETEST_PENDING: IntentState.BUILDING,
    Event.GOVERNING_FILES: IntentState.NEEDS_HUMAN,
    Event.TESTS_FAILED: IntentState.NEEDS_HUMAN,
    Event.SIGNOFF_PENDING: IntentState.AWAITING_SIGNOFF,
    Event.SIGNED_OFF: IntentState.APPROVED,
    Event.MERGE_FAILED: IntentState.APPROVED,
    Event.MERGED_UNDEPLOYABLE: IntentState.MERGED,
    Event.DEPLOY_STARTED: IntentState.DEPLOYING,
    Event.DEPLOYED: IntentState.DEPLOYED,
    Event.DEPLOY_FAILED: IntentState.DEPLOY_FAILED,
    Event.CLOSED: IntentState.REJECTED,
    Event.DELETED: IntentState.UNDEPLOYED,
    Event.GAVE_UP: IntentState.FAILED,
}
REFUSED = {
    # A pull request closed without merging rejects an intent, unless it was merged already (the closing
    # event of a merged PR can arrive late, or after a retry).
    (IntentState.MERGED, Event.CLOSED),
    (IntentState.DEPLOYING, Event.CLOSED),
    (IntentState.DEPLOYED, Event.CLOSED),
}


def test_every_event_has_a_row_and_every_state_a_way_in() -> None:
    assert set(TABLE) == set(Event) == set(EXPECTED)
    assert {rule.to for rule in TABLE.values()} == set(IntentState)


@pytest.mark.parametrize("event", list(Event))
@pytest.mark.parametrize("state", list(IntentState))
def test_the_table(state: IntentState, event: Event) -> None:
    step = transition(state, event)
    if (state, event) in REFUSED:
        assert step.refused and step.to is state
        assert step.reason == f"{event.value} does not apply to an intent that is {state.value}"
    else:
        assert not step.refused and step.to is EXPECTED[event]
        assert step.reason == TABLE[event].reason


def test_an_event_may_say_what_the_intent_waits_for() -> None:
    step = transition(IntentState.BUILDING, Event.SIGNOFF_PENDING, reason="1 more approval from bob")
    assert (step.to, step.reason) == (IntentState.AWAITING_SIGNOFF, "1 more approval from bob")


def test_the_ledger_applies_the_table_and_changes_nothing_on_a_refusal(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'state.db'}")
    database.create_all()
    ledger = Ledger(database)
    record, _ = ledger.receive(repo="acme/intents", path="intents/a.yaml", service_name="a", content_hash="h")
    ledger.apply(record.id, Event.DEPLOY_STARTED, commit_sha="c" * 40)
    ledger.apply(record.id, Event.DEPLOYED, service_url="http://127.0.0.1:9000")

    late = ledger.apply(record.id, Event.CLOSED)

    after = ledger.get(record.id)
    assert late.refused and after.state is IntentState.DEPLOYED
    assert (after.commit_sha, after.service_url) == ("c" * 40, "http://127.0.0.1:9000")


def test_the_stage_strip_is_the_lines_order() -> None:
    assert [stage.value for stage in STAGES] == [
        "received",
        "governed",
        "spec",
        "code",
        "tests",
        "pr",
        "signoff",
        "merged",
        "deployed",
    ]
