"""`intentops usage` through the CLI app, on a state database filled through the ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import build_app
from pipeline.llm import Usage
from pipeline.llm.usage import Budgets, UsageLedger
from pipeline.state import Database, default_sqlite_url


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def run(data_dir: Path, *args: str) -> Outcome:
    """The command through the real CLI app, in process (a subprocess per case would cost seconds)."""
    env = {
        "INTENTOPS_DATA_DIR": str(data_dir),
        "INTENTOPS_BUDGET_MONTHLY_USD": "50",
        "INTENTOPS_BUDGET_PER_INTENT_USD": "3",
        "DATABASE_URL": None,
        "ANTHROPIC_API_KEY": None,
        "COLUMNS": "200",
    }
    result = CliRunner().invoke(build_app(), ["usage", *args], env=env)
    return Outcome(result.exit_code, result.stdout, result.stderr)


def record(data_dir: Path, when: datetime, stage: str, cost: float, tokens: int) -> None:
    database = Database(default_sqlite_url(data_dir))
    database.create_all()
    ledger = UsageLedger(database, Budgets(per_intent_usd=100, monthly_usd=100), clock=lambda: when)
    reservation = ledger.reserve(stage=stage, model="claude-haiku-4-5", budget_key=None, estimate_usd=cost)
    usage = Usage(
        input_tokens=tokens, output_tokens=tokens // 10, cache_read_input_tokens=tokens * 2, cost_usd=cost
    )
    ledger.settle(reservation, usage=usage, message_id=None)
    database.dispose()


def test_usage_reports_months_stages_and_budgets(tmp_path: Path) -> None:
    record(tmp_path, datetime(2026, 10, 3, tzinfo=UTC), "alignment", 0.25, 1000)
    record(tmp_path, datetime(2026, 11, 2, tzinfo=UTC), "alignment", 0.5, 2000)
    record(tmp_path, datetime(2026, 11, 9, tzinfo=UTC), "codegen", 1.25, 3000)

    result = run(tmp_path, "--month", "2026-11", "--format", "json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["spent_usd"] == pytest.approx(1.75)
    assert report["budgets"] == {"monthly_usd": 50.0, "per_intent_usd": 3.0}
    assert [(m["month"], m["calls"]) for m in report["months"]] == [("2026-10", 1), ("2026-11", 2)]
    assert [(s["stage"], s["input_tokens"], s["cache_read_input_tokens"]) for s in report["stages"]] == [
        ("alignment", 2000, 4000),
        ("codegen", 3000, 6000),
    ]

    text = run(tmp_path, "--month", "2026-11")
    assert text.returncode == 0, text.stderr
    assert "2026-11: $1.7500 of the $50.00 monthly budget; $3.00 per intent" in text.stdout
    assert "codegen" in text.stdout


def test_a_malformed_month_is_one_clear_line(tmp_path: Path) -> None:
    result = run(tmp_path, "--month", "November")

    assert result.returncode == 1
    assert result.stderr.strip() == "error: --month must look like 2026-11 (year-month), got 'November'"


def test_an_empty_database_says_so(tmp_path: Path) -> None:
    result = run(tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no model calls recorded yet (the offline provider makes none)"
