"""`intentops shadow STAGE`: run a candidate stage beside the incumbent on recent intents, or show the last
report on that stage.

With `--candidate` (a stage service's URL, or its name in the registry) it runs a shadow evaluation: the
incumbent and the referees are the line's stages as INTENTOPS_STAGES routes them, offline; the cases are the
last intents of the repository (`--repo`, or INTENTOPS_REPO) in the ledger, read from the forge with
GITHUB_TOKEN; without ledger history, the bundled example history (or a history file, `--cases`). The report
is kept in the state database. Without `--candidate` it shows the newest kept report on the stage.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bot.cli.output import FormatOption, OutputFormat, err, fail, out, print_json
from bot.settings import Settings
from bot.vcs.github import GithubRepoClient, token_connection
from pipeline.factory.contracts import Stage
from pipeline.factory.interfaces import FactoryStages
from pipeline.factory.routing import BUILTIN, StageConfigError, StageRegistry
from pipeline.governance.floor import FloorLoadError, load_floor
from pipeline.governance.loading import PolicySet
from pipeline.ledger import Ledger
from pipeline.registry import RegistryStore, ServiceStatus
from pipeline.sandbox.runner import Sandbox, sandbox_for
from pipeline.shadow import (
    BUNDLED_HISTORY,
    DEFAULT_CASES,
    Comparison,
    MetricResult,
    PickedCases,
    Referees,
    ShadowCase,
    ShadowDataError,
    ShadowReport,
    ShadowStore,
    StoredReport,
    Verdict,
    cases_from_ledger,
    evaluate,
    history_source,
    load_history,
)
from pipeline.shadow.cases import MAX_CASES
from pipeline.state import Database

NO_REPORT = "no shadow report on {stage} yet: run `intentops shadow {stage} --candidate URL_OR_NAME`"
NOT_REGISTERED = (
    "{name!r} is not a service in the registry (`intentops services` lists them); give its name or its URL"
)
NO_URL = "{name!r} is in the registry but is gone (deregistered) or has no URL to call"
UNREADABLE = "the kept report cannot be read: {problem}"
NO_LEDGER_HISTORY = "the ledger has no intents of {repo}: replaying the bundled example history"
NEEDS_TOKEN = (
    "the ledger has intents of {repo}; reading them needs GITHUB_TOKEN (and GITHUB_BASE_URL for a forge "
    "other than github.com), or pass --cases FILE"
)
LEDGER_SOURCE = "the ledger of {repo}"
CALL_MARGIN_S = 30.0
"""How much longer than a stage client's own timeout the evaluation waits for a call."""
RUNNING = "replaying {count} intents from {source} through {candidate} and {incumbent}"
VERDICT_STYLE = {Verdict.BETTER: "green", Verdict.NO_BETTER: "yellow", Verdict.WORSE: "red"}
COMPARISON_STYLE = {Comparison.BETTER: "green", Comparison.WORSE: "red"}

StageArgument = Annotated[Stage, typer.Argument(metavar="STAGE", help="The stage: " + ", ".join(Stage))]
CandidateOption = Annotated[
    str | None,
    typer.Option(
        "--candidate",
        metavar="URL_OR_NAME",
        help="A stage service to evaluate: its URL, or its name in the registry (with its version)",
    ),
]
IntentsOption = Annotated[
    int, typer.Option("--intents", min=1, max=MAX_CASES, help="How many recent intents to replay")
]
CasesOption = Annotated[
    Path | None,
    typer.Option("--cases", help="A history file to replay (default: the bundled example history)"),
]
TestsOption = Annotated[
    bool,
    typer.Option("--tests", help="spec-builder: also generate and test each SPEC at the gate (slow)"),
]
RowsOption = Annotated[bool, typer.Option("--rows", help="Show each metric's per-intent rows")]
RepoOption = Annotated[
    str | None,
    typer.Option(
        "--repo",
        metavar="OWNER/NAME",
        help="Replay this intents repository's last intents from the ledger (default: INTENTOPS_REPO)",
    ),
]


@dataclass(frozen=True)
class _Candidate:
    name: str
    url: str
    version: str = ""


@dataclass(frozen=True)
class _Cases:
    cases: tuple[ShadowCase, ...]
    source: str
    repo: str = ""
    skipped: tuple[str, ...] = ()


def shadow(
    stage: StageArgument,
    candidate: CandidateOption = None,
    intents: IntentsOption = DEFAULT_CASES,
    cases: CasesOption = None,
    repo: RepoOption = None,
    tests: TestsOption = False,
    rows: RowsOption = False,
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Prove a candidate stage on recent intents beside the incumbent, or show the last report on STAGE."""
    settings = _settings()
    with _database(settings) as database:
        store = ShadowStore(database)
        if candidate is None:
            stored = store.latest(stage)
            if stored is None:
                fail(escape(NO_REPORT.format(stage=stage.value)))
        else:
            chosen = _candidate(candidate, RegistryStore(database))
            quiet = _quiet(output_format)
            replayed = _cases(settings, database, repo=repo, history=cases, limit=intents, quiet=quiet)
            report = _run(settings, stage, chosen, replayed, tests=tests, quiet=quiet)
            stored = store.save(report, repo=replayed.repo, candidate_version=chosen.version)
    _show(stored, rows=rows, output_format=output_format)


def _quiet(output_format: OutputFormat) -> bool:
    return output_format is OutputFormat.JSON


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        fail(escape(f"configuration: {exc.errors()[0]['msg']}"))


@contextmanager
def _database(settings: Settings) -> Iterator[Database]:
    database = Database(settings.state_database_url())
    try:
        database.create_all()
        yield database
    finally:
        database.dispose()


def _candidate(given: str, registry: RegistryStore) -> _Candidate:
    """A URL as it is; a name looked up in the registry (its URL and the version serving it now)."""
    if "://" in given or given == BUILTIN:
        return _Candidate(name=given, url=given)
    entry = registry.get(given)
    if entry is None:
        fail(escape(NOT_REGISTERED.format(name=given)))
    if entry.status is ServiceStatus.GONE or not entry.url:
        fail(escape(NO_URL.format(name=given)))
    return _Candidate(name=given, url=entry.url, version=entry.version)


def _cases(
    settings: Settings, database: Database, *, repo: str | None, history: Path | None, limit: int, quiet: bool
) -> _Cases:
    """What to replay: a history file if given; else the repository's last intents in the ledger; else the
    bundled example history."""
    floor = _floor(settings)
    name = repo or settings.intents_repo
    if history is None and name:
        ledger = Ledger(database)
        if any(record.repo == name for record in ledger.list_intents(limit=MAX_CASES)):
            picked = _from_ledger(settings, ledger, name, floor=floor, limit=limit)
            if picked.cases:
                return _Cases(picked.cases, LEDGER_SOURCE.format(repo=name), name, picked.skipped)
        if not quiet:
            err.print(escape(NO_LEDGER_HISTORY.format(repo=name)), emoji=False)
    path = history or BUNDLED_HISTORY
    try:
        return _Cases(load_history(path, floor=floor, limit=limit), history_source(path))
    except ShadowDataError as exc:
        fail(escape(str(exc)))


def _from_ledger(
    settings: Settings, ledger: Ledger, repo: str, *, floor: PolicySet, limit: int
) -> PickedCases:
    token = settings.github_token
    if token is None:
        fail(escape(NEEDS_TOKEN.format(repo=repo)))
    client = GithubRepoClient(token_connection(token.get_secret_value(), settings.github_base_url), repo)
    return cases_from_ledger(
        ledger,
        repo=repo,
        read=client.read_file,
        parent=client.commit_parent,
        list_dir=client.list_dir,
        floor=floor,
        limit=limit,
    )


def _floor(settings: Settings) -> PolicySet:
    try:
        return load_floor(settings.policy_floor)
    except FloorLoadError as exc:
        fail(escape(f"INTENTOPS_POLICY_FLOOR: {exc}"))


def _run(
    settings: Settings, stage: Stage, candidate: _Candidate, replayed: _Cases, *, tests: bool, quiet: bool
) -> ShadowReport:
    line, candidates = _stages(settings, stage, candidate)
    incumbent = StageRegistry.from_config(
        settings.stages, token=settings.stage_token, timeout_s=settings.stage_timeout_seconds
    ).describe()[stage.value]
    if not quiet:
        running = RUNNING.format(
            count=len(replayed.cases), source=replayed.source, candidate=candidate.name, incumbent=incumbent
        )
        err.print(escape(running), emoji=False)
    with tempfile.TemporaryDirectory(prefix="intentops-shadow-") as workdir:
        referees = Referees.of(line, sandbox_for=_sandboxes(settings), workdir=Path(workdir))
        try:
            return evaluate(
                stage,
                incumbent=_implementation(line, stage),
                candidate=_implementation(candidates, stage),
                cases=replayed.cases,
                referees=referees,
                incumbent_name=incumbent,
                candidate_name=candidate.name,
                source=replayed.source,
                run_tests=tests,
                timeout_s=settings.stage_timeout_seconds + CALL_MARGIN_S,
                skipped=replayed.skipped,
            )
        except ValueError as exc:
            fail(escape(str(exc)))


def _stages(settings: Settings, stage: Stage, candidate: _Candidate) -> tuple[FactoryStages, FactoryStages]:
    """The line's stages (as routed, offline) and the candidate's (the stage routed to its URL)."""
    options: dict[str, Any] = {"token": settings.stage_token, "timeout_s": settings.stage_timeout_seconds}
    try:
        line = StageRegistry.from_config(settings.stages, **options).resolve(None)
        candidates = StageRegistry.from_config({stage.value: candidate.url}, **options).resolve(None)
    except StageConfigError as exc:
        fail(escape(str(exc)))
    return line, candidates


def _implementation(stages: FactoryStages, stage: Stage) -> object:
    return {
        Stage.ALIGNMENT_SCORER: stages.scorer,
        Stage.SPEC_BUILDER: stages.builder,
        Stage.SPEC_VERIFIER: stages.verifier,
        Stage.SPEC_OPTIMIZER: stages.optimizer,
        Stage.CODE_GENERATOR: stages.generator,
    }[stage]


def _sandboxes(settings: Settings) -> Callable[[Path], Sandbox]:
    """The line's sandbox for a generated service, as the bot builds it (venvs from the wheelhouse)."""
    data = settings.data_dir.absolute()

    def line_sandbox(service_dir: Path) -> Sandbox:
        return sandbox_for(service_dir, wheelhouse=data / "wheelhouse", cache_dir=data / "venvs")

    return line_sandbox


# -- output -------------------------------------------------------------------------------------------


def _show(stored: StoredReport, *, rows: bool, output_format: OutputFormat) -> None:
    if stored.report is None:
        fail(escape(UNREADABLE.format(problem=stored.unreadable)))
    if output_format is OutputFormat.JSON:
        print_json(
            {
                "id": stored.id,
                "repo": stored.repo,
                "candidate_version": stored.candidate_version,
                "created_at": stored.created_at.isoformat(),
                "report": stored.report.to_json(),
            }
        )
        return
    _print_report(stored, stored.report, rows=rows)


def _print_report(stored: StoredReport, report: ShadowReport, *, rows: bool) -> None:
    version = f" {stored.candidate_version}" if stored.candidate_version else ""
    out.print(
        f"[bold]shadow report {stored.id}[/bold]: {escape(report.stage.value)}, "
        f"{escape(report.candidate)}{escape(version)} beside {escape(report.incumbent)}, "
        f"{len(report.cases)} intents from {escape(report.source or 'cases given')}",
        markup=True,
        emoji=False,
    )
    table = Table(title_justify="left")
    for column in ("metric", "role", "incumbent", "candidate", "result"):
        table.add_column(column, no_wrap=column == "metric")
    for result in report.metrics:
        table.add_row(*_metric_cells(result))
    out.print(table, emoji=False)
    if rows:
        for result in report.metrics:
            _print_rows(result)
    for failure in report.failures:
        out.print(f"[red]failed[/red] {escape(failure)}", markup=True, emoji=False)
    for skipped in report.skipped:
        out.print(f"[yellow]skipped[/yellow] {escape(skipped)}", markup=True, emoji=False)
    style = VERDICT_STYLE[report.verdict]
    out.print(
        f"verdict: [{style}]{report.verdict.value}[/{style}] ({escape(report.rule)})",
        markup=True,
        emoji=False,
    )


def _metric_cells(result: MetricResult) -> tuple[Text, ...]:
    metric = result.metric
    return (
        Text(metric.name),
        Text(metric.role.value),
        Text(_figure(result.incumbent, metric.unit)),
        Text(_figure(result.candidate, metric.unit)),
        Text(result.comparison.value, style=COMPARISON_STYLE.get(result.comparison, "")),
    )


def _figure(value: float | None, unit: str) -> str:
    return _number(value) if value is None or not unit else f"{_number(value)} {unit}"


def _print_rows(result: MetricResult) -> None:
    table = Table(title=Text(f"{result.metric.name}: {result.metric.computed}"), title_justify="left")
    for column in ("intent", "incumbent", "candidate", "note"):
        table.add_column(column)
    for row in result.rows:
        table.add_row(
            Text(row.case), Text(_number(row.incumbent)), Text(_number(row.candidate)), Text(row.note)
        )
    out.print(table, emoji=False)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{round(value, 2):g}"


def register(app: typer.Typer) -> None:
    app.command()(shadow)
