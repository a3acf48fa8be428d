"""`intentops govern` (decide on one intent) and `intentops policy test` (run policy unit tests)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from bot.cli.output import FormatOption, OutputFormat, err, fail, out, print_json
from bot.settings import Settings
from pipeline.governance import (
    AlignmentScorer,
    Decision,
    FloorLoadError,
    GivenScore,
    LexicalScorer,
    PolicyAction,
    PolicyLoadError,
    PolicySet,
    PushContext,
    govern,
    load_floor,
    load_policies,
    scorer_for,
)
from pipeline.governance.decision import EvaluatedPolicy, RuleResult
from pipeline.governance.policytest import CaseResult, PolicyTestReport, run_policy_tests
from pipeline.intents import InvalidIntent, load_intent_file

BLUEPRINT_NAME = "BLUEPRINT.md"
NO_POLICIES = "{path}: no such file or directory; pass --policies with a policy file or directory"
OFFLINE_SCORING = "alignment is scored lexically (offline)"
DEFAULT_POLICIES = Path("policies")
SCORE_RANGE = "must be a number between 0 and 1, got '{text}'"
ACTION_STYLE = {
    PolicyAction.AUTO_APPROVE: "green",
    PolicyAction.REQUIRES_APPROVAL: "yellow",
    PolicyAction.BLOCKED: "red",
}

PoliciesOption = Annotated[
    Path, typer.Option("--policies", help="A policy file, or a directory of *.yaml / *.json policy files")
]
FloorOption = Annotated[
    Path | None,
    typer.Option(
        "--floor",
        help="The server-side floor: a policy file or directory applied beside --policies, which they cannot "
        "weaken (default: the shipped policies/floor/floor.yaml, as the bot applies it)",
    ),
]
NoFloorOption = Annotated[
    bool, typer.Option("--no-floor", help="Apply no floor (to see what the repository's policies alone do)")
]
NO_FLOOR_AND_FLOOR = "--floor and --no-floor exclude each other"


def parse_score(text: str) -> float:
    """A score from the command line: a finite number from 0 to 1 ('nan' compares false with everything)."""
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(SCORE_RANGE.format(text=text)) from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise typer.BadParameter(SCORE_RANGE.format(text=text))
    return value


def find_blueprint(start: Path) -> Path | None:
    """The nearest BLUEPRINT.md in `start`'s directory or above it (an intents repo keeps it at the root)."""
    directory = start.resolve().parent
    for candidate in (directory, *directory.parents):
        path = candidate / BLUEPRINT_NAME
        if path.is_file():
            return path
    return None


def govern_command(
    path: Annotated[Path, typer.Argument(help="The intent file")],
    policies: PoliciesOption = DEFAULT_POLICIES,
    blueprint: Annotated[
        Path | None,
        typer.Option("--blueprint", help="BLUEPRINT.md to score against (default: nearest above)"),
    ] = None,
    alignment_score: Annotated[
        float | None,
        typer.Option(
            "--alignment-score",
            parser=parse_score,
            metavar="FLOAT",
            help="Evaluate as if alignment were this score (0 to 1)",
        ),
    ] = None,
    author: Annotated[
        str, typer.Option("--author", help="Who pushed the intent (the rules see `author`)")
    ] = "",
    changed_files: Annotated[
        list[str] | None,
        typer.Option("--changed-file", help="A file the push changed (repeatable; default: the intent path)"),
    ] = None,
    floor: FloorOption = None,
    no_floor: NoFloorOption = False,
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Run governance on one intent: print every policy's result, the findings and the decision."""
    try:
        intent = load_intent_file(path)
    except InvalidIntent as exc:
        _fail_lines([str(problem) for problem in exc.problems])
    if not policies.exists():
        fail(escape(NO_POLICIES.format(path=policies)))
    try:
        policy_set = load_policies(policies)
    except PolicyLoadError as exc:
        _fail_lines([str(problem) for problem in exc.problems])
    floor_set = _floor(floor, no_floor=no_floor)
    blueprint_path = blueprint or find_blueprint(path)
    blueprint_text = _read_blueprint(blueprint_path) if blueprint_path else None
    context = PushContext.of(author=author, changed_files=changed_files or [path.as_posix()])
    scorer = _scorer(alignment_score, budget_key=f"cli:{path.as_posix()}")
    decision = govern(
        intent, policy_set, scorer=scorer, blueprint=blueprint_text, context=context, floor=floor_set
    )
    if output_format is OutputFormat.JSON:
        print_json(decision.to_json())
    else:
        _print_decision(decision)


def _floor(path: Path | None, *, no_floor: bool) -> PolicySet | None:
    """The floor to apply: none with --no-floor, the file or directory given, else the shipped one."""
    if no_floor:
        if path is not None:
            raise typer.BadParameter(NO_FLOOR_AND_FLOOR)
        return None
    try:
        return load_floor(path)
    except FloorLoadError as exc:
        _fail_lines(str(exc).splitlines())


def _fail_lines(lines: list[str]) -> NoReturn:
    for line in lines[:-1]:
        err.print(f"[red]error:[/red] {escape(line)}")
    fail(escape(lines[-1]))


def _read_blueprint(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(escape(f"{path}: cannot read the blueprint: {exc.strerror or exc}"))
    except UnicodeDecodeError:
        fail(escape(f"{path}: the blueprint is not valid UTF-8"))


def _scorer(alignment_score: float | None, *, budget_key: str) -> AlignmentScorer:
    if alignment_score is not None:
        return GivenScore(alignment_score, "given with --alignment-score")
    try:
        settings = Settings()
    except ValidationError as exc:
        fail(escape(f"configuration: {exc.errors()[0]['msg']}"))
    if settings.offline_llm:
        from pipeline.llm.factory import OFFLINE

        OFFLINE.say()
        err.print(f"[dim]{OFFLINE_SCORING}[/dim]")
        return LexicalScorer()
    # Imported here: the SDK and the database layer take seconds to import, and offline runs need neither.
    from pipeline.governance.cache import AlignmentCache, CachingScorer
    from pipeline.llm.factory import build_provider
    from pipeline.llm.usage import Budgets
    from pipeline.state import Database

    database = Database(settings.state_database_url())
    provider = build_provider(
        api_key=settings.anthropic_api_key,
        model=settings.anthropic_model,
        budgets=Budgets(
            per_intent_usd=settings.llm_budget_per_intent_usd, monthly_usd=settings.llm_budget_monthly_usd
        ),
        database=database,
        base_url=settings.anthropic_base_url,
    )
    database.create_all()
    # A recorded score makes a second run on the same intent give the same decision (and cost nothing).
    return CachingScorer(
        scorer_for(provider, budget_key=budget_key),
        AlignmentCache(database),
        namespace=f"{provider.name}:{settings.anthropic_model}",
    )


RESULT_TEXT = {
    RuleResult.MATCHED: "[bold]matched[/bold]",
    RuleResult.NOT_MATCHED: "[dim]not matched[/dim]",
    RuleResult.ERROR: "[red]error[/red]",
}
WITHHELD_TEXT = "[bold]matched[/bold], [yellow]withheld[/yellow]"
FINDING_LINE = '[yellow]finding:[/yellow] {field}: "{text}": {message}'


def _print_decision(decision: Decision) -> None:
    """Every policy evaluated, with its result and why (decisions before version 2: the matched ones)."""
    # Result and action never wrap or shorten (they are what a reader scans for); the policy's name with
    # its source beneath, and why, take the rest of the width and fold, so a narrow terminal loses nothing.
    table = Table(title=f"Governance: {escape(decision.service_name)}", title_justify="left")
    table.add_column("policy (where)", ratio=2, overflow="fold")
    table.add_column("result", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("why", ratio=3, overflow="fold")
    rows = decision.evaluated or [
        EvaluatedPolicy(
            name=m.name, result=RuleResult.MATCHED, action=m.action, rule="", reason=m.reason, source=m.source
        )
        for m in decision.matched
    ]
    for policy in rows:
        table.add_row(*_row(policy))
    if rows:
        out.print(table)
    if not decision.matched:
        out.print("no policy matched")
    for finding in decision.findings:
        out.print(
            FINDING_LINE.format(
                field=escape(finding.field), text=escape(finding.text), message=escape(finding.message)
            )
        )
    for error in decision.errors:
        err.print(f"[red]error:[/red] {escape(str(error))}")
    alignment = decision.alignment
    if alignment.score is not None and alignment.method is not None:
        out.print(
            f"alignment {alignment.score:.2f} ({alignment.method.value}): {escape(alignment.rationale)}"
        )
    style = ACTION_STYLE[decision.action]
    needs = ""
    if decision.approvals_required:
        who = f" from {', '.join(decision.approvers)}" if decision.approvers else ""
        needs = f" ({decision.approvals_required} approval(s){escape(who)})"
    out.print(
        f"decision: [bold {style}]{decision.action.value}[/bold {style}]{needs}: {escape(decision.summary)}"
    )
    teams = sorted({a for m in decision.matched for a in m.approvers if a.startswith("@")})
    if teams:
        err.print(f"[yellow]warning:[/yellow] {escape(TEAM_WARNING.format(teams=', '.join(teams)))}")


def _row(policy: EvaluatedPolicy) -> tuple[str, str, str, str]:
    """policy (its source beneath), result, action, why: a withheld match says so and why; a floor policy's
    source starts with `floor:`."""
    style = ACTION_STYLE[policy.action]
    action = f"[{style}]{policy.action.value}[/{style}]" if policy.result is RuleResult.MATCHED else ""
    result = WITHHELD_TEXT if policy.withheld else RESULT_TEXT[policy.result]
    if policy.rule and policy.result is RuleResult.NOT_MATCHED:
        why = f"[dim]false: {escape(policy.rule)}[/dim]"
    elif policy.withheld:
        why = f"{escape(policy.reason)} [yellow]({escape(policy.withheld)})[/yellow]"
    else:
        why = escape(policy.reason)
    return f"{escape(policy.name)}\n[dim]{escape(policy.source)}[/dim]", result, action, why


TEAM_WARNING = (
    "team approvers ({teams}) count only where the bot can read team membership (GitHub, with access "
    "to the organization's teams); the embedded forge has no teams: name approvers by login there"
)


def policy_test(
    directory: Annotated[
        Path, typer.Argument(help="Policy directory; its tests/*.yaml hold the cases")
    ] = DEFAULT_POLICIES,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List passing cases too")] = False,
    floor: FloorOption = None,
    no_floor: NoFloorOption = False,
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Run the policy unit tests (intent + expected action), like `opa test`, with the floor applied as the
    bot applies it; exit 1 on any failure."""
    report = run_policy_tests(directory, floor=_floor(floor, no_floor=no_floor))
    if output_format is OutputFormat.JSON:
        print_json(_report_json(report))
    else:
        _print_report(report, verbose=verbose)
    if not report.passed:
        raise typer.Exit(1)


def _case_json(result: CaseResult) -> dict[str, object]:
    return {
        "name": result.case.name,
        "source": str(result.case.location),
        "passed": result.passed,
        "expected": result.case.expect.value,
        "action": result.decision.action.value,
        "failures": list(result.failures),
    }


def _report_json(report: PolicyTestReport) -> dict[str, object]:
    return {
        "passed": report.passed,
        "cases": [_case_json(result) for result in report.results],
        "errors": [problem.to_json() for problem in report.problems],
    }


def _print_report(report: PolicyTestReport, *, verbose: bool) -> None:
    for problem in report.problems:
        err.print(f"[red]error:[/red] {escape(str(problem))}")
    for result in report.results:
        where = escape(f"{result.case.location}: {result.case.name}")
        if not result.passed:
            out.print(f"[red]FAIL[/red] {where}")
            for failure in result.failures:
                out.print(f"  {escape(failure)}")
        elif verbose:
            out.print(f"[green]PASS[/green] {where}")
    passed = sum(result.passed for result in report.results)
    label = "[green]PASS[/green]" if report.passed else "[red]FAIL[/red]"
    unreadable = f", {len(report.problems)} problem(s) in the files" if report.problems else ""
    out.print(f"{label}: {passed}/{len(report.results)} cases passed{unreadable}")


def register(app: typer.Typer) -> None:
    app.command(name="govern")(govern_command)
    policy_app = typer.Typer(help="Governance policies: run their unit tests.", no_args_is_help=True)
    policy_app.command(name="test")(policy_test)
    app.add_typer(policy_app, name="policy")
