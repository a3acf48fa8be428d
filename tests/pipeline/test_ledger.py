"""The intent ledger on a real SQLite database: states, history, the decision audit log, sign-offs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.ledger import (
    Checks,
    Event,
    IntentState,
    Ledger,
    Outcome,
    Stage,
    TestedBy,
    UnknownIntent,
    UnreadableRecord,
)
from pipeline.ledger.tables import IntentRow
from pipeline.state import Database
from tests.fixtures.clock import ManualClock
from tests.fixtures.records import decision_json, make_decision


@pytest.fixture
def ledger(database: Database) -> Ledger:
    return Ledger(database)


def receive(ledger: Ledger, content_hash: str = "h1", path: str = "intents/hello.yaml") -> tuple[int, bool]:
    record, new = ledger.receive(
        repo="acme/intents", path=path, service_name="hello", content_hash=content_hash, priority="high"
    )
    return record.id, new


def test_the_same_content_again_is_not_new_work(ledger: Ledger) -> None:
    first, new = receive(ledger)
    again, new_again = receive(ledger)
    assert new and not new_again
    assert first == again
    assert [e.stage for e in ledger.history(first)] == [Stage.RECEIVED]


def test_changed_content_restarts_the_same_intent(ledger: Ledger) -> None:
    intent_id, _ = receive(ledger)
    ledger.apply(intent_id, Event.SIGNOFF_PENDING, reason="1 approval", pr_number=7)
    ledger.record_decision(intent_id, make_decision())
    same_id, new = receive(ledger, content_hash="h2")
    record = ledger.get(intent_id)
    assert new and same_id == intent_id
    assert record.state is IntentState.RECEIVED
    assert record.pr_number == 7, "the open PR stays linked: a change updates it instead of opening another"
    assert record.decision is None and record.content_hash == "h2"


def test_state_changes_carry_what_the_intent_waits_for(ledger: Ledger) -> None:
    intent_id, _ = receive(ledger)
    step = ledger.apply(intent_id, Event.SIGNOFF_PENDING, reason="1 approval from alice", head_sha="abc")
    assert (step.before, step.to, step.refused) == (IntentState.RECEIVED, IntentState.AWAITING_SIGNOFF, False)
    record = ledger.get(intent_id)
    assert (record.state, record.waiting_for, record.head_sha) == (
        IntentState.AWAITING_SIGNOFF,
        "1 approval from alice",
        "abc",
    )
    assert ledger.find_by_pr("acme/intents", 99) is None
    assert ledger.list_intents(state="awaiting_signoff")[0].id == intent_id
    assert ledger.list_intents(state="deployed") == []
    assert ledger.list_intents(priority="high")[0].id == intent_id
    assert ledger.counts_by_state() == {"awaiting_signoff": 1}


def test_only_known_fields_can_be_set(ledger: Ledger) -> None:
    intent_id, _ = receive(ledger)
    with pytest.raises(ValueError, match="cannot set repo"):
        ledger.apply(intent_id, Event.BUILD_STARTED, repo="evil/repo")
    with pytest.raises(ValueError, match="cannot set repo"):
        ledger.update(intent_id, repo="evil/repo")
    assert ledger.get(intent_id).repo == "acme/intents"


def test_unknown_intents_are_reported(ledger: Ledger) -> None:
    with pytest.raises(UnknownIntent):
        ledger.get(404)
    with pytest.raises(UnknownIntent):
        ledger.apply(404, Event.BUILD_STARTED)


def test_stage_records_duration_and_failure(ledger: Ledger) -> None:
    intent_id, _ = receive(ledger)
    with ledger.stage(intent_id, Stage.SPEC) as run:
        run.message = "score 94/100"
        run.detail["score"] = 94
    with pytest.raises(RuntimeError), ledger.stage(intent_id, Stage.TESTS):
        raise RuntimeError("sandbox died")
    with ledger.stage(intent_id, Stage.CODE) as run:
        run.failed = True
        run.message = "ruff failed"
    events = [(e.stage, e.outcome, e.message) for e in ledger.history(intent_id)]
    assert events == [
        (Stage.RECEIVED, Outcome.SUCCEEDED, "from push"),
        (Stage.SPEC, Outcome.STARTED, ""),
        (Stage.SPEC, Outcome.SUCCEEDED, "score 94/100"),
        (Stage.TESTS, Outcome.STARTED, ""),
        (Stage.TESTS, Outcome.FAILED, "RuntimeError: sandbox died"),
        (Stage.CODE, Outcome.STARTED, ""),
        (Stage.CODE, Outcome.FAILED, "ruff failed"),
    ]
    spec_end = ledger.history(intent_id)[2]
    assert spec_end.detail == {"score": 94}
    assert spec_end.duration_ms is not None and spec_end.duration_ms >= 0


def test_every_decision_is_kept_in_the_audit_log(ledger: Ledger) -> None:
    intent_id, _ = receive(ledger)
    blocked = make_decision(action="blocked", matched=[{"name": "misaligned", "action": "blocked"}])
    ledger.record_decision(intent_id, blocked)
    receive(ledger, content_hash="h2")
    ledger.record_decision(intent_id, make_decision(action="auto_approve"))
    log = ledger.decisions(intent_id)
    assert [(d["action"], d["content_hash"]) for d in log] == [("blocked", "h1"), ("auto_approve", "h2")]
    assert ledger.get(intent_id).decision == make_decision(action="auto_approve")


def test_a_stored_decision_that_cannot_be_read_says_so_and_stops_work_that_needs_it(ledger: Ledger) -> None:
    intent_id, _ = receive(ledger)
    with ledger.database.session() as session:  # damaged by hand, or by a broken version
        session.get(IntentRow, intent_id).decision = decision_json(approvals_required="two")  # type: ignore[union-attr]
    record = ledger.get(intent_id)
    assert record.decision is None
    (problem,) = record.unreadable
    assert problem.startswith("decision is unreadable (approvals_required: Input should be a valid integer")
    with pytest.raises(UnreadableRecord, match="intents/hello.yaml: the ledger's decision is unreadable"):
        record.checked()


def test_signoffs_count_once_per_reviewer_and_head(ledger: Ledger) -> None:
    intent_id, _ = receive(ledger)
    assert ledger.add_signoff(intent_id, pr_number=1, reviewer="alice", head_sha="s1", via="review")
    assert not ledger.add_signoff(intent_id, pr_number=1, reviewer="alice", head_sha="s1", via="comment")
    assert ledger.add_signoff(intent_id, pr_number=1, reviewer="bob", head_sha="s1", via="comment")
    assert ledger.signoffs(intent_id, head_sha="s1") == ["alice", "bob"]
    assert ledger.signoffs(intent_id, head_sha="s2") == [], "a new head makes earlier sign-offs stale"


def test_the_ledger_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first = Database(url)
    first.create_all()
    intent_id, _ = receive(Ledger(first))
    first.dispose()
    second = Database(url)
    second.create_all()
    assert Ledger(second).get(intent_id).service_name == "hello"


def test_an_event_known_late_keeps_the_time_it_happened(ledger: Ledger) -> None:
    from datetime import UTC, datetime

    intent_id, _ = receive(ledger)
    earlier = datetime.now(UTC) - timedelta(seconds=30)
    ledger.record(intent_id, Stage.SPEC, Outcome.SUCCEEDED, "score 94/100", duration_ms=1200, at=earlier)
    event = ledger.history(intent_id)[-1]
    assert abs((event.at.replace(tzinfo=UTC) - earlier).total_seconds()) < 0.01
    assert ledger.get(intent_id).updated_at.replace(tzinfo=UTC) > earlier, "the intent itself changed now"


def test_a_wait_is_measured_from_the_last_success_of_the_stage_it_waited_after(database: Database) -> None:
    clock = ManualClock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    ledger = Ledger(database, clock=clock)
    intent_id, _ = receive(ledger)
    assert ledger.waited_ms(intent_id, since=Stage.PR) is None  # no PR yet: nothing was waited for

    ledger.record(intent_id, Stage.PR, Outcome.SUCCEEDED, "opened #3")
    clock.advance(minutes=42, seconds=5)

    assert ledger.waited_ms(intent_id, since=Stage.PR) == (42 * 60 + 5) * 1000


def test_a_stage_retried_after_a_crash_is_recorded_once(ledger: Ledger) -> None:
    intent_id, _ = receive(ledger)
    # The first attempt started the stage, then its worker was killed: no end was recorded.
    ledger.record(intent_id, Stage.PR, Outcome.STARTED, once="build:1")
    with ledger.stage(intent_id, Stage.PR, once="build:1") as run:  # the retry, under the same job key
        run.message = "#1"
    with ledger.stage(intent_id, Stage.PR, once="build:1"):  # a redelivered retry after it ended
        pass
    assert [(e.stage, e.outcome) for e in ledger.history(intent_id)] == [
        (Stage.RECEIVED, Outcome.SUCCEEDED),
        (Stage.PR, Outcome.STARTED),
        (Stage.PR, Outcome.SUCCEEDED),
    ]
    with ledger.stage(intent_id, Stage.PR, once="rebuild:2"):  # new work (another job) is recorded again
        pass
    assert [e.outcome for e in ledger.history(intent_id) if e.stage is Stage.PR].count(Outcome.SUCCEEDED) == 2


def test_each_failed_attempt_of_a_stage_is_kept(ledger: Ledger) -> None:
    intent_id, _ = receive(ledger)
    for _ in range(2):
        with pytest.raises(OSError), ledger.stage(intent_id, Stage.PR, once="build:1"):
            raise OSError("the forge did not answer")
    outcomes = [e.outcome for e in ledger.history(intent_id) if e.stage is Stage.PR]
    assert outcomes == [Outcome.STARTED, Outcome.FAILED, Outcome.FAILED]


def test_tested_heads_say_who_pushed_a_head_the_line_did_not_build(ledger: Ledger) -> None:
    intent_id, _ = receive(ledger)
    checks = Checks(ledger.database)
    checks.record_tested(intent_id, head_sha="a" * 40, ok=True, by=TestedBy.BUILD, pushed_by="intentops-bot")
    checks.record_tested(intent_id, head_sha="b" * 40, ok=False, by=TestedBy.RETEST, pushed_by="bob")
    assert checks.pusher_of(intent_id, "a" * 40) == "", "the line's own commits bar nobody"
    assert checks.pusher_of(intent_id, "b" * 40) == "bob"
    assert checks.tested(intent_id, "c" * 40) is None
    checks.record_tested(intent_id, head_sha="b" * 40, ok=True, by=TestedBy.RETEST, pushed_by="bob")
    tested = checks.tested(intent_id, "b" * 40)
    assert tested is not None and tested.ok, "testing a head again replaces its result"
