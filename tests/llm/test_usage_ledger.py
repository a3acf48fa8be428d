"""The usage table and its budget checks, on a real SQLite state database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from pipeline.llm import BudgetExceeded, Usage
from pipeline.llm.usage import Budgets, MonthlyCost, UsageLedger
from pipeline.state import Database
from tests.fixtures.clock import ManualClock
from tests.fixtures.database import on_every_engine

# The ledger on both engines the state database supports: the budget race differs between them.
pytest_generate_tests = on_every_engine


NOVEMBER = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)


def spend(ledger: UsageLedger, cost: float, *, stage: str = "spec-builder", key: str | None = None) -> None:
    """One answered call that cost `cost`."""
    reservation = ledger.reserve(stage=stage, model="claude-haiku-4-5", budget_key=key, estimate_usd=cost)
    ledger.settle(
        reservation, usage=Usage(input_tokens=10, output_tokens=5, cost_usd=cost), message_id="msg_1"
    )


def test_a_reservation_that_never_settles_keeps_counting(database: Database) -> None:
    budgets = Budgets(per_intent_usd=1.0, monthly_usd=10.0)
    UsageLedger(database, budgets).reserve(
        stage="codegen", model="claude-haiku-4-5", budget_key="intent-a", estimate_usd=0.7
    )

    # The process that reserved died mid-call: its worst case still counts, so the next call is refused.
    restarted = UsageLedger(database, budgets)
    assert restarted.spend_this_month() == pytest.approx(0.7)
    with pytest.raises(BudgetExceeded, match=r"\$0\.7000 of the \$1\.00 budget for intent-a"):
        restarted.reserve(stage="codegen", model="claude-haiku-4-5", budget_key="intent-a", estimate_usd=0.4)


def test_settling_replaces_the_worst_case_and_releasing_frees_it(database: Database) -> None:
    ledger = UsageLedger(database, Budgets(per_intent_usd=1.0, monthly_usd=1.0))
    answered = ledger.reserve(stage="alignment", model="m", budget_key="k", estimate_usd=0.6)
    ledger.settle(answered, usage=Usage(output_tokens=3, cost_usd=0.05), message_id="msg_x")
    failed = ledger.reserve(stage="alignment", model="m", budget_key="k", estimate_usd=0.9)
    ledger.release(failed)

    assert ledger.spend_for_key("k") == pytest.approx(0.05)
    assert ledger.spend_this_month() == pytest.approx(0.05)
    [stage] = ledger.usage_by_stage()
    assert (stage.calls, stage.output_tokens) == (1, 3)


def test_a_refused_call_leaves_no_row(database: Database) -> None:
    ledger = UsageLedger(database, Budgets(per_intent_usd=1.0, monthly_usd=0.5))
    with pytest.raises(BudgetExceeded, match="monthly budget"):
        ledger.reserve(stage="alignment", model="m", budget_key=None, estimate_usd=0.51)

    assert ledger.usage_by_stage() == []
    assert ledger.spend_this_month() == 0.0


def test_monthly_spend_starts_again_each_month(database: Database) -> None:
    clock = ManualClock(NOVEMBER)
    ledger = UsageLedger(database, Budgets(per_intent_usd=10.0, monthly_usd=1.0), clock=clock)
    spend(ledger, 0.9, key="intent-a")
    with pytest.raises(BudgetExceeded):
        ledger.reserve(stage="codegen", model="m", budget_key="intent-b", estimate_usd=0.2)

    clock.now = DECEMBER
    spend(ledger, 0.2, stage="codegen", key="intent-b")

    assert ledger.spend_this_month() == pytest.approx(0.2)
    assert ledger.spend_for_key("intent-a") == pytest.approx(0.9)  # an intent's budget spans months
    assert ledger.cost_by_month() == [
        MonthlyCost("2026-11", 1, pytest.approx(0.9)),
        MonthlyCost("2026-12", 1, pytest.approx(0.2)),
    ]
    assert [s.stage for s in ledger.usage_by_stage("2026-12")] == ["codegen"]
    assert [s.stage for s in ledger.usage_by_stage()] == ["codegen", "spec-builder"]


def test_concurrent_reservations_never_overshoot_the_budget(database: Database) -> None:
    # Eight workers each want 0.3 of a 1.0 budget: exactly three may go, whatever the interleaving.
    budgets = Budgets(per_intent_usd=100.0, monthly_usd=1.0)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def worker() -> None:
        ledger = UsageLedger(database, budgets)
        start.wait()
        try:
            ledger.reserve(stage="codegen", model="m", budget_key=None, estimate_usd=0.3)
        except BudgetExceeded:
            outcomes.append("refused")
        else:
            outcomes.append("reserved")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["refused"] * 5 + ["reserved"] * 3
    assert UsageLedger(database, budgets).spend_this_month() == pytest.approx(0.9)
