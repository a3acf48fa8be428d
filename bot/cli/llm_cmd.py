"""`intentops usage`: what the line costs: model calls per month and per stage against the budgets, and
compute (build and sandbox seconds, uptime, and with Docker its containers' CPU seconds and memory) per
service, priced by the rate card. With the Docker backend the running containers are sampled first, so
their figures are the live ones."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from bot.cli.output import FormatOption, OutputFormat, err, fail, out, print_json
from bot.container_usage import NOT_SAMPLED, sample_containers
from bot.settings import Settings
from pipeline.costs import RateCard, month_total, service_costs
from pipeline.llm.usage import Budgets, UsageLedger, month_of, utc_now
from pipeline.state import Database

MONTH_FORMAT = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
BAD_MONTH = "--month must look like 2026-11 (year-month), got {value!r}"
NO_CALLS = "no model calls recorded yet (the offline provider makes none)"
TOTAL_LINE = "{month}: compute ${compute:.4f} + model ${model:.4f} = ${total:.4f}"
BUDGET_LINE = "{month}: ${spent:.4f} of the ${limit:.2f} monthly budget; ${per_intent:.2f} per intent"


def budgets_from(settings: Settings) -> Budgets:
    return Budgets(
        per_intent_usd=settings.llm_budget_per_intent_usd, monthly_usd=settings.llm_budget_monthly_usd
    )


def _ledger() -> tuple[UsageLedger, RateCard, Database, Settings]:
    try:
        settings = Settings()
        rates = RateCard.load(settings.rate_card)
    except ValidationError as exc:
        fail(escape(f"configuration: {exc.errors()[0]['msg']}"))
    except ValueError as exc:
        fail(escape(str(exc)))
    database = Database(settings.state_database_url())
    database.create_all()
    return UsageLedger(database, budgets_from(settings)), rates, database, settings


def _compute(database: Database, rates: RateCard, month: str) -> dict[str, Any]:
    now = utc_now()
    services = service_costs(database, month=month, now=now, rates=rates)
    total = month_total(database, month=month, now=now, rates=rates)
    return {
        "rate_card": rates.model_dump(),
        "compute_usd": round(total.compute_usd, 6),
        "total_usd": round(total.total_usd, 6),
        "services": [s.to_json() for s in services],
    }


def _report(ledger: UsageLedger, month: str) -> dict[str, Any]:
    months = ledger.cost_by_month()
    spent = next((m.cost_usd for m in months if m.month == month), 0.0)
    return {
        "month": month,
        "spent_usd": spent,
        "budgets": {
            "monthly_usd": ledger.budgets.monthly_usd,
            "per_intent_usd": ledger.budgets.per_intent_usd,
        },
        "months": [m.__dict__ for m in months],
        "stages": [s.__dict__ for s in ledger.usage_by_stage(month)],
    }


def _print_services(report: dict[str, Any]) -> None:
    table = Table(title=f"Cost per service in {report['month']}", title_justify="left")
    for column in (
        "service",
        "build s",
        "sandbox s",
        "uptime h",
        "CPU s",
        "memory GB·h",
        "compute (USD)",
        "model (USD)",
        "total (USD)",
    ):
        table.add_column(column)
    for row in report["services"]:
        table.add_row(
            escape(row["service"]),
            f"{row['build_seconds']:.1f}",
            f"{row['sandbox_seconds']:.1f}",
            f"{row['uptime_hours']:.2f}",
            f"{row['cpu_seconds']:.1f}",
            f"{row['memory_gb_hours']:.4f}",
            f"{row['compute_usd']:.4f}",
            f"{row['llm_usd']:.4f}",
            f"{row['total_usd']:.4f}",
        )
    out.print(table)
    out.print(
        TOTAL_LINE.format(
            month=report["month"],
            compute=report["compute_usd"],
            model=report["spent_usd"],
            total=report["total_usd"],
        )
    )


def _print_report(report: dict[str, Any]) -> None:
    if report["services"]:
        _print_services(report)
    if not report["months"]:
        out.print(NO_CALLS)
        return
    months = Table(title="Model cost per month", title_justify="left")
    for column in ("month", "calls", "cost (USD)"):
        months.add_column(column)
    for row in report["months"]:
        months.add_row(row["month"], str(row["calls"]), f"{row['cost_usd']:.4f}")
    stages = Table(title=f"Usage per stage in {report['month']}", title_justify="left")
    for column in ("stage", "calls", "input", "output", "cache write", "cache read", "cost (USD)"):
        stages.add_column(column)
    for row in report["stages"]:
        tokens = (row["input_tokens"], row["output_tokens"])
        cache = (row["cache_creation_input_tokens"], row["cache_read_input_tokens"])
        stages.add_row(
            escape(row["stage"]), str(row["calls"]), *map(str, tokens + cache), f"{row['cost_usd']:.4f}"
        )
    out.print(months)
    out.print(stages)
    budgets = report["budgets"]
    out.print(
        BUDGET_LINE.format(
            month=report["month"],
            spent=report["spent_usd"],
            limit=budgets["monthly_usd"],
            per_intent=budgets["per_intent_usd"],
        )
    )


def usage(
    month: Annotated[
        str | None, typer.Option(help="Year-month to detail, e.g. 2026-11 (default: this month)")
    ] = None,
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Show cost per month from the state database: model calls per stage, and compute per service (build
    and sandbox seconds, uptime; with Docker, CPU seconds and memory, the running containers sampled now)
    priced by the rate card."""
    if month is not None and not MONTH_FORMAT.match(month):
        fail(escape(BAD_MONTH.format(value=month)))
    ledger, rates, database, settings = _ledger()
    not_sampled = sample_containers(settings, database)
    chosen = month or month_of(utc_now())
    report = {**_report(ledger, chosen), **_compute(database, rates, chosen)}
    report["containers_not_sampled"] = not_sampled
    if output_format is OutputFormat.JSON:
        print_json(report)
    else:
        if not_sampled:
            err.print(escape(NOT_SAMPLED.format(reason=not_sampled)))
        _print_report(report)


def register(app: typer.Typer) -> None:
    app.command()(usage)
