"""`intentops stages`: each stage of the line, what serves it, since when, its lineage and error rate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from bot.cli.output import FormatOption, OutputFormat, fail, out, print_json
from bot.settings import Settings
from pipeline.adoption.overview import StageStatus, known_repos, stage_overview
from pipeline.adoption.stagefile import BUILTIN
from pipeline.state import Database

NO_REPO = "no repository has adopted a stage yet: every stage is built in (name one with --repo OWNER/NAME)"


def register(app: typer.Typer) -> None:
    app.command("stages")(stages)


def stages(
    repo: Annotated[
        str | None, typer.Option("--repo", help="The intents repository (default: INTENTOPS_REPO)")
    ] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Each stage of the line: what serves it (built in, or an adopted stage service), since when, the
    shadow report that proved it, its lineage and its error rate over the last 24 hours."""
    try:
        settings = Settings()
    except ValidationError as exc:
        fail(escape(f"configuration: {exc.errors()[0]['msg']}"))
    database = Database(settings.state_database_url())
    database.create_all()
    name = repo or settings.intents_repo or next(iter(known_repos(database)), None)
    if name is None:
        if output is OutputFormat.JSON:
            print_json({"repo": None, "stages": []})
            return
        out.print(NO_REPO)
        return
    statuses = stage_overview(database, name, now=datetime.now(UTC))
    if output is OutputFormat.JSON:
        print_json({"repo": name, "stages": [status.to_json() for status in statuses]})
        return
    _print(name, statuses)


def _print(repo: str, statuses: list[StageStatus]) -> None:
    table = Table(title=f"Stages of the line for {escape(repo)}", title_justify="left")
    for column in ("stage", "served by", "since", "shadow", "errors (24 h)", "lineage"):
        table.add_column(column, overflow="fold")
    for status in statuses:
        serving = escape(status.serving)
        if not status.signed_off:
            serving += (
                "\n[yellow]not signed off[/yellow]: merged without a complete sign-off (builtin serves)"
            )
        if status.suspended:
            serving += f"\n[red]suspended[/red]: {escape(status.suspended)} (builtin serves)"
        lineage = " -> ".join([BUILTIN, *(escape(a.service) for a in status.lineage)])
        errors = (
            f"{status.errors.failures}/{status.errors.calls} ({status.errors.rate:.0%})"
            if status.errors.calls
            else "-"
        )
        table.add_row(
            status.stage.value,
            serving + (f" {escape(status.version[:12])}" if status.version else ""),
            status.since.strftime("%Y-%m-%d %H:%M") if status.since else "-",
            f"#{status.shadow}" if status.shadow else "-",
            errors,
            lineage,
        )
    out.print(table)
