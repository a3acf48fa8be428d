"""`intentops spec`, `generate`, `sandbox`, `wheelhouse` and `stage`: the factory from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr, ValidationError
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from bot.cli.output import FormatOption, OutputFormat, err, fail, out, print_json
from bot.settings import Settings
from pipeline.codegen.context import CodegenError
from pipeline.codegen.generator import GeneratedService, generate_service
from pipeline.intents import InvalidIntent, load_intent_file
from pipeline.llm import LLMError, LLMProvider
from pipeline.sandbox import SandboxLimits, SandboxResult, Wheelhouse, locate_wheelhouse, sandbox_for
from pipeline.spec.builder import SpecBuildError, build_spec
from pipeline.spec.judge import judged_report
from pipeline.spec.model import Spec
from pipeline.spec.optimizer import DEFAULT_MAX_ROUNDS, MAX_ROUNDS, OptimizationReport, Round, optimize
from pipeline.spec.render import read_spec, write_spec
from pipeline.spec.verifier import DEFAULT_GATE, verify
from pipeline.wheelhouse import WheelhouseError, prepare_wheelhouse

BELOW_GATE = "below the gate: a person (or a model) must answer the findings above"
BELOW_GATE_GENERATE = "run `intentops spec` and answer its findings first, or pass --force"
NO_TOKEN = "set INTENTOPS_STAGE_TOKEN (or --token-file): every stage route but /health needs it"
STAGE_NAMES = (
    "alignment-scorer",
    "spec-builder",
    "spec-verifier",
    "spec-optimizer",
    "code-generator",
    "all",
)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        fail(escape(f"configuration: {exc.errors()[0]['msg']}"))


def _provider(settings: Settings) -> LLMProvider | None:
    if settings.offline_llm:
        from pipeline.llm.factory import OFFLINE

        OFFLINE.say()
        return None
    # Imported here: the SDK and the database layer are slow to import, and offline runs need neither.
    from pipeline.llm.factory import build_provider
    from pipeline.llm.usage import Budgets
    from pipeline.state import Database

    return build_provider(
        api_key=settings.anthropic_api_key,
        model=settings.anthropic_model,
        budgets=Budgets(
            per_intent_usd=settings.llm_budget_per_intent_usd, monthly_usd=settings.llm_budget_monthly_usd
        ),
        database=Database(settings.state_database_url()),
        base_url=settings.anthropic_base_url,
    )


def spec(
    intent_file: Annotated[Path, typer.Argument(metavar="INTENT", help="The intent YAML file")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Folder for SPEC.md and spec.json")
    ] = None,
    gate: Annotated[int, typer.Option(min=0, max=100, help="Score the spec must reach")] = DEFAULT_GATE,
    rounds: Annotated[
        int, typer.Option(min=1, max=MAX_ROUNDS, help="Optimizer rounds at most (1-3)")
    ] = DEFAULT_MAX_ROUNDS,
    blueprint: Annotated[Path | None, typer.Option(help="BLUEPRINT.md to trace requirements to")] = None,
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Build, verify and optimize the SPEC of an intent; exit 1 when it stays below the gate."""
    try:
        intent = load_intent_file(intent_file)
    except InvalidIntent as exc:
        for problem in exc.problems:
            err.print(f"[red]invalid[/red] {escape(str(problem))}")
        raise typer.Exit(1) from None
    blueprint_text = _read_blueprint(blueprint)
    provider = _provider(_settings())
    try:
        built = build_spec(intent, blueprint=blueprint_text, intent_path=str(intent_file), provider=provider)
        report = _optimize_with_progress(
            built, gate, rounds, provider, quiet=output_format is OutputFormat.JSON
        )
        report = judged_report(report, provider)  # with a model: its findings on top, never instead
    except (SpecBuildError, LLMError) as exc:
        fail(escape(str(exc)))
    target = output or Path("services") / intent.service_name
    markdown, structured = write_spec(report.spec, target)
    if output_format is OutputFormat.JSON:
        print_json({**report.to_json(), "spec_md": str(markdown), "spec_json": str(structured)})
    else:
        _print_report(report)
        out.print(f"wrote {escape(str(markdown))} and {escape(str(structured))}")
    if not report.reached_gate:
        raise typer.Exit(1)


def _read_blueprint(path: Path | None) -> str:
    candidate = path or Path("BLUEPRINT.md")
    if path is None and not candidate.is_file():
        return ""
    try:
        return candidate.read_text(encoding="utf-8")
    except OSError as exc:
        fail(escape(f"{candidate}: cannot read: {exc.strerror or exc}"))


def _optimize_with_progress(
    built: Spec, gate: int, rounds: int, provider: LLMProvider | None, *, quiet: bool
) -> OptimizationReport:
    with Progress(console=err, transient=True, disable=quiet) as progress:
        task = progress.add_task("verifying and optimizing", total=rounds + 1)

        def advance(done: Round) -> None:
            progress.update(task, advance=1, description=f"round {done.number}: score {done.score}")

        report = optimize(built, gate=gate, max_rounds=rounds, provider=provider, on_round=advance)
        progress.update(task, completed=rounds + 1)
    return report


def _print_report(report: OptimizationReport) -> None:
    table = Table(
        title=f"SPEC of {escape(report.spec.service_name)} (gate {report.gate})", title_justify="left"
    )
    for column in ("round", "score", "hard checks", "findings", "repairs"):
        table.add_column(column)
    for row in report.rounds:
        checks = "[green]pass[/green]" if row.hard_checks_passed else "[red]fail[/red]"
        table.add_row(
            str(row.number), str(row.score), checks, str(row.findings), escape(", ".join(row.repairs))
        )
    out.print(table)
    if report.verification.findings:
        findings = Table(title="Findings", title_justify="left")
        for column in ("section", "severity", "message"):
            findings.add_column(column)
        for finding in report.verification.findings:
            findings.add_row(finding.section, finding.severity.value, escape(finding.message))
        out.print(findings)
    if report.reached_gate:
        out.print(f"[green]reached the gate[/green]: {report.verification.score} >= {report.gate}")
    else:
        out.print(f"[red]score {report.verification.score}[/red], {BELOW_GATE}")


def generate(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="spec.json, or the folder holding it")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder of the generated service")],
    gate: Annotated[int, typer.Option(min=0, max=100, help="Score the spec must reach")] = DEFAULT_GATE,
    force: Annotated[bool, typer.Option("--force", help="Generate from a spec below the gate")] = False,
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Generate the service (code, tests, Dockerfile, manifest) from a structured SPEC at the gate.

    A spec below the gate is refused (--force generates it anyway). With a model configured, it also
    writes the logic templates cannot, and repairs failing tests (at most 3 rounds, tests untouched);
    exit 1 if the tests still fail.
    """
    settings = _settings()
    try:
        spec_value = read_spec(spec_path)
    except ValueError as exc:
        fail(escape(str(exc)))
    _check_gate(spec_value, gate, force=force)
    provider = _provider(settings)
    try:
        if provider is None:
            service = generate_service(spec_value, output)
        else:
            service = _generate_with_model(spec_value, output, provider)
    except (ValueError, CodegenError, WheelhouseError, LLMError) as exc:
        fail(escape(str(exc)))
    if output_format is OutputFormat.JSON:
        print_json(
            {
                "directory": str(service.directory),
                "manifest": service.manifest.model_dump(),
                "files": service.files,
            }
        )
        return
    out.print(
        f"generated {escape(service.manifest.name)} {service.manifest.version} in {escape(str(output))}:"
    )
    for name in service.files:
        out.print(f"  {escape(name)}")


def _check_gate(spec_value: Spec, gate: int, *, force: bool) -> None:
    verification = verify(spec_value)
    if verification.passes(gate):
        return
    hard = [f for f in verification.findings if f.hard]
    summary = f"the spec scores {verification.score} (gate {gate}) with {len(hard)} failed hard check(s)"
    if force:
        err.print(f"[yellow]warning[/yellow]: {escape(summary)}; generating anyway (--force)")
        return
    for finding in hard[:10]:
        err.print(f"[red]{escape(finding.section)}[/red] {escape(finding.message)}")
    fail(escape(f"{summary}: {BELOW_GATE_GENERATE}"))


def _generate_with_model(spec_value: Spec, output: Path, provider: LLMProvider) -> GeneratedService:
    from pipeline.codegen.model_path import generate_with_model
    from pipeline.sandbox import ProcessSandbox
    from pipeline.wheelhouse import cached_venv, service_requirements, venv_python

    found = _wheelhouse(None)
    venv = cached_venv(
        service_requirements(with_tests=True), wheelhouse=found.path, cache_dir=found.venv_cache
    )
    # Warm: each repair round runs the tests again, forked from one zygote of this venv.
    sandbox = ProcessSandbox(venv_python(venv), warm=True)
    report = generate_with_model(spec_value, output, provider=provider, sandbox=sandbox)
    for row in report.rounds:
        verdict = row.result.verdict.value if row.result else "-"
        state = "accepted" if row.accepted else "rejected"
        err.print(f"{row.kind} round {row.number}: {state} ({verdict}) {escape(row.reason)}")
    _print_sandbox(report.result)
    if not report.ok:
        raise typer.Exit(1)
    return report.service


WheelhouseOption = Annotated[
    Path | None,
    typer.Option(
        "--wheelhouse",
        help="A prepared wheelhouse (default: the data directory's, ./.data's or the IntentOps checkout's)",
    ),
]


def _wheelhouse(explicit: Path | None) -> Wheelhouse:
    """The wheelhouse to install from, wherever the command runs (see pipeline.sandbox.locate)."""
    settings = _settings()
    data_dir = settings.data_dir if "data_dir" in settings.model_fields_set else None
    try:
        return locate_wheelhouse(explicit=explicit, data_dir=data_dir)
    except WheelhouseError as exc:
        fail(escape(str(exc)))


def sandbox(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A generated service folder")],
    timeout: Annotated[float, typer.Option(min=1, help="Seconds the test run may take")] = 120.0,
    memory_mb: Annotated[int, typer.Option(min=64, help="Memory limit of the test process, MiB")] = 1024,
    docker: Annotated[bool, typer.Option("--docker", help="In a container (network_mode none)")] = False,
    wheelhouse_dir: WheelhouseOption = None,
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Run a generated service's tests in the sandbox; exit 1 unless tests ran and all passed."""
    if not (directory / "tests").is_dir() or not (directory / "requirements-test.txt").is_file():
        fail(escape(f"{directory}: not a generated service (no tests/ or requirements-test.txt)"))
    found = _wheelhouse(wheelhouse_dir)
    limits = SandboxLimits(timeout_s=timeout, memory_mb=memory_mb)
    if docker:
        result = _in_docker(directory, found.path, limits)
    else:
        try:
            runner = sandbox_for(directory, wheelhouse=found.path, cache_dir=found.venv_cache, limits=limits)
        except WheelhouseError as exc:
            fail(escape(str(exc)))
        result = runner.run_tests(directory)
    if output_format is OutputFormat.JSON:
        print_json(result.to_json())
    else:
        _print_sandbox(result)
    if not result.ok:
        raise typer.Exit(1)


def _in_docker(directory: Path, wheelhouse: Path, limits: SandboxLimits) -> SandboxResult:
    # Imported here: only this option needs the Docker SDK.
    from pipeline.sandbox.docker_runner import DockerSandbox, DockerSandboxError

    try:
        return DockerSandbox(wheelhouse=wheelhouse, limits=limits).run_tests(directory)
    except DockerSandboxError as exc:
        fail(escape(str(exc)))


def _print_sandbox(result: SandboxResult) -> None:
    for failure in result.failures:
        err.print(f"[red]{escape(failure.test)}[/red]\n{escape(failure.message)}")
    colour = "green" if result.ok else "red"
    out.print(
        f"[{colour}]{result.verdict.value}[/{colour}]: {result.passed} passed, {result.failed} failed, "
        f"{result.errors} errors, {result.skipped} skipped in {result.duration_s:.2f}s "
        f"(isolation: {result.isolation.value}, user: {escape(result.user)})"
    )


def wheelhouse(
    directory: Annotated[Path | None, typer.Option("--dir", help="Default: <data dir>/wheelhouse")] = None,
) -> None:
    """Download the generated services' pinned wheels (needs the network once; then a no-op)."""
    target = directory or _settings().data_dir / "wheelhouse"
    try:
        changed = prepare_wheelhouse(target)
    except WheelhouseError as exc:
        fail(escape(str(exc)))
    out.print(f"wheelhouse {'prepared' if changed else 'already up to date'}: {escape(str(target))}")


def stage(
    name: Annotated[str, typer.Argument(help="A stage (" + ", ".join(STAGE_NAMES[:-1]) + ") or all")],
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Default: the stage's seed port (8210 for all)")] = None,
    root: Annotated[Path, typer.Option(help="Folder that file_path requests may read")] = Path("."),
    token: Annotated[str | None, typer.Option(envvar="INTENTOPS_STAGE_TOKEN", hidden=True)] = None,
    token_file: Annotated[Path | None, typer.Option(help="File holding the bearer token")] = None,
) -> None:
    """Serve one factory stage alone (or all of them) over HTTP."""
    import uvicorn

    from bot.stages import create_stage_app
    from pipeline.factory.contracts import ALL_STAGES_PORT, Stage

    if name not in STAGE_NAMES:
        fail(escape(f"unknown stage '{name}' (one of: {', '.join(STAGE_NAMES)})"))
    secret = token_file.read_text(encoding="utf-8").strip() if token_file else (token or "")
    if not secret:
        fail(NO_TOKEN)
    stages = () if name == "all" else (Stage(name),)
    app = create_stage_app(*stages, token=SecretStr(secret), files_root=root, provider=_provider(_settings()))
    listen = port or (stages[0].seed_port if stages else ALL_STAGES_PORT)
    err.print(f"serving {name} on http://{host}:{listen}")
    uvicorn.run(app, host=host, port=listen, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command()(spec)
    app.command()(generate)
    app.command()(sandbox)
    app.command()(wheelhouse)
    app.command()(stage)
