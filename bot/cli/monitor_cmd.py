"""`intentops monitor --once`: evaluate the assembly-line monitor's rules on the line's metrics (the state
database) and say what each would file; nothing is filed from here (the bot files)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from bot.cli.output import FormatOption, OutputFormat, err, fail, out, print_json
from bot.settings import Settings
from pipeline.ledger import Ledger
from pipeline.monitor import FilingStore, line_metrics, load_rule_dir, plan_rules
from pipeline.monitor.report import lines
from pipeline.monitor.rules import SHIPPED_RULES
from pipeline.state import Database

NEEDS_ONCE = "the monitor runs inside the bot; `intentops monitor --once` evaluates its rules once"
NO_REPO = "name the intents repository with --repo OWNER/NAME (or set INTENTOPS_REPO)"
NO_RULES = "no monitor rule loaded from {folder}"


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)


def monitor(
    once: Annotated[bool, typer.Option("--once", help="Evaluate the rules once and exit")] = False,
    repo: Annotated[
        str | None, typer.Option("--repo", help="The intents repository (default: INTENTOPS_REPO)")
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules", help="A folder of monitor rules (default: INTENTOPS_MONITOR_RULES, or shipped)"
        ),
    ] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Evaluate the assembly-line monitor's rules on the line's metrics and say what each would file: exit 0
    when none would file, 3 when one would, 1 when a rule does not load."""
    if not once:
        fail(NEEDS_ONCE, code=2)
    try:
        settings = Settings()
    except ValidationError as exc:
        fail(escape(f"configuration: {exc.errors()[0]['msg']}"))
    name = repo or settings.intents_repo
    if not name:
        fail(NO_REPO, code=2)
    folder = rules or settings.monitor_rules or SHIPPED_RULES
    loaded = load_rule_dir(folder)
    if not loaded.rules and not loaded.problems:
        fail(NO_RULES.format(folder=folder))
    database = Database(settings.state_database_url())
    database.create_all()
    now = datetime.now(UTC)
    store = FilingStore(database)
    ledger = Ledger(database)
    outcomes = plan_rules(
        loaded.rules,
        metrics_for=lambda days: line_metrics(database, repo=name, days=days, now=now),
        open_pulls={f.rule: f.pr_number or 0 for f in store.open_filings(name)},
        filed_today=store.filed_today(name),
        max_per_day=settings.monitor_max_per_day,
        taken=lambda service: bool(ledger.records_for_service(name, service)),
    )
    if output is OutputFormat.JSON:
        print_json(
            {
                "repo": name,
                "at": now.isoformat(),
                "max_per_day": settings.monitor_max_per_day,
                "problems": [str(p) for p in loaded.problems],
                "rules": [o.to_json() for o in outcomes],
            }
        )
    else:
        for problem in loaded.problems:
            err.print(escape(str(problem)))
        for line in lines(outcomes):
            out.print(escape(line))
        for outcome in outcomes:
            if outcome.intent_text:
                out.print(escape(f"\n# {outcome.intent_path}\n{outcome.intent_text}"))
    if loaded.problems:
        raise typer.Exit(1)
    if any(o.intent_text for o in outcomes):
        raise typer.Exit(3)
