"""Cost per service and per month: model calls, plus compute (build and sandbox seconds from the ledger's
stage durations, uptime from deploy to undeploy) priced by a rate card, in `intentops usage`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import build_app
from pipeline.costs import RateCard, month_total, service_costs
from pipeline.ledger import Ledger, Outcome, Stage
from pipeline.llm import Usage
from pipeline.llm.usage import Budgets, UsageLedger
from pipeline.state import Database, default_sqlite_url

REPO = "acme/intents"
NOW = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
RATES = RateCard(build_second_usd=0.001, sandbox_second_usd=0.002, uptime_hour_usd=0.5)


def day(n: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, n, hour, 0, tzinfo=UTC)


def seed(database: Database) -> None:
    ledger = Ledger(database)
    for name in ("notes", "links"):
        record, _ = ledger.receive(
            repo=REPO, path=f"intents/{name}.yaml", service_name=name, content_hash=f"h-{name}"
        )
        ledger.record(record.id, Stage.SPEC, Outcome.SUCCEEDED, duration_ms=2000, at=day(1, 9))
        ledger.record(record.id, Stage.CODE, Outcome.SUCCEEDED, duration_ms=1000, at=day(1, 9))
        ledger.record(record.id, Stage.TESTS, Outcome.FAILED, duration_ms=4000, at=day(1, 9))
        ledger.record(record.id, Stage.DEPLOYED, Outcome.SUCCEEDED, at=day(1))
        if name == "notes":
            ledger.record(record.id, Stage.UNDEPLOYED, Outcome.SUCCEEDED, at=day(2))
    ledger.record(
        record.id, Stage.TESTS, Outcome.SUCCEEDED, duration_ms=9000, at=datetime(2026, 10, 30, tzinfo=UTC)
    )
    usage = UsageLedger(database, Budgets(per_intent_usd=10, monthly_usd=10), clock=lambda: day(3))
    reservation = usage.reserve(
        stage="spec", model="claude-haiku-4-5", budget_key=f"{REPO}:intents/links.yaml", estimate_usd=1
    )
    usage.settle(reservation, usage=Usage(input_tokens=10, output_tokens=1, cost_usd=0.25), message_id=None)


def test_each_service_costs_its_build_sandbox_uptime_and_model_calls(database: Database) -> None:
    seed(database)
    costs = {c.service: c for c in service_costs(database, month="2026-11", now=NOW, rates=RATES)}
    notes, links = costs["notes"], costs["links"]
    assert (notes.build_seconds, notes.sandbox_seconds, notes.uptime_hours) == (3.0, 4.0, 24.0)
    assert notes.compute_usd == pytest.approx(3 * 0.001 + 4 * 0.002 + 24 * 0.5)
    assert links.uptime_hours == 9 * 24, "still running: up until now"
    assert (links.llm_calls, links.llm_usd) == (1, 0.25)
    assert links.total_usd == pytest.approx(links.compute_usd + 0.25)
    october = {c.service: c for c in service_costs(database, month="2026-10", now=NOW, rates=RATES)}
    assert october["links"].sandbox_seconds == 9.0 and october["links"].uptime_hours == 0
    total = month_total(database, month="2026-11", now=NOW, rates=RATES)
    assert total.llm_usd == 0.25 and total.compute_usd == pytest.approx(notes.compute_usd + links.compute_usd)


def test_intentops_usage_shows_cost_per_service_priced_by_the_rate_card(tmp_path: Path) -> None:
    database = Database(default_sqlite_url(tmp_path))
    database.create_all()
    seed(database)
    database.dispose()
    card = tmp_path / "rates.yaml"
    card.write_text("uptime_hour_usd: 0\nbuild_second_usd: 0.5\n")
    env = {
        "INTENTOPS_DATA_DIR": str(tmp_path),
        "INTENTOPS_RATE_CARD": str(card),
        "DATABASE_URL": None,
        "COLUMNS": "200",
    }
    result = CliRunner().invoke(build_app(), ["usage", "--month", "2026-11", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    services = {s["service"]: s for s in report["services"]}
    assert services["notes"]["compute_usd"] == pytest.approx(3 * 0.5 + 4 * 0.00004)
    assert report["rate_card"]["uptime_hour_usd"] == 0 and report["spent_usd"] == 0.25
    text = CliRunner().invoke(build_app(), ["usage", "--month", "2026-11"], env=env)
    assert "Cost per service in 2026-11" in text.stdout and "compute $" in text.stdout

    card.write_text("uptime_hour_usd: -1\n")
    refused = CliRunner().invoke(build_app(), ["usage"], env=env)
    assert refused.exit_code == 1 and "rates.yaml: line 1: uptime_hour_usd" in refused.stderr
    card.write_text("uptime_hours: 1\n")
    assert "uptime_hours: Extra inputs" in CliRunner().invoke(build_app(), ["usage"], env=env).stderr
