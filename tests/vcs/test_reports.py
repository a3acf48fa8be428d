"""What the bot writes about cost: the intent's real model spend, or that no model was used."""

from __future__ import annotations

from pathlib import Path

from bot.reports import intent_cost
from pipeline.llm import Usage
from pipeline.llm.usage import Budgets, UsageLedger
from pipeline.state import Database

KEY = "acme/intents:intents/notes.yaml"


def test_the_cost_line_is_the_intents_recorded_spend(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'state.db'}")
    database.create_all()
    usage = UsageLedger(database, Budgets(per_intent_usd=5.0, monthly_usd=50.0))
    for cost, key in ((0.42, KEY), (0.31, KEY), (9.0, "acme/intents:intents/other.yaml")):
        call = usage.reserve(
            stage="spec-builder", model="claude-sonnet-4-6", budget_key=key, estimate_usd=min(cost, 4)
        )
        usage.settle(call, usage=Usage(input_tokens=100, output_tokens=50, cost_usd=cost), message_id=None)
    assert intent_cost(False, usage, KEY) == "$0.73 of model calls"
    assert intent_cost(True, usage, KEY) == "offline (no model calls)"
    database.dispose()
