"""The factory run for one intent: SPEC to the gate, code from the SPEC, its tests in the sandbox.

This is the seed's sovereign-factory + build-executor (code half) as one call with a typed result. Each
stage is whatever `FactoryConfig.stages` routes it to (`pipeline.factory`: built in by default, or a stage
service over HTTP). It knows nothing of forges: the caller commits `BuildOutcome.files` wherever it wants.

An intent that `implements` one of the line's stages gets a stage service (`pipeline.factory.stageservice`)
instead of a CRUD service: its SPEC goes through the same builder, optimizer and verifier (it describes the
contract's endpoint and what the hints change), its code is the line's stage templates, and its tests (the
stage's conformance suite among them) run in the same sandbox.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.buildreport import BuildReport, BuildVerdict
from pipeline.codegen.generator import GeneratedService
from pipeline.codegen.model_path import CodegenRound
from pipeline.factory.builtin import BuiltinSpecVerifier
from pipeline.factory.hinted import hints_digest
from pipeline.factory.interfaces import FactoryStages, SpecVerifier
from pipeline.factory.routing import StageRegistry
from pipeline.factory.stages import Stage
from pipeline.factory.stageservice import (
    StageService,
    describe_stage,
    generate_stage_service,
    implemented,
    spec_intent,
)
from pipeline.intents import Intent
from pipeline.llm import LLMProvider
from pipeline.sandbox.model import SandboxResult
from pipeline.sandbox.runner import Sandbox
from pipeline.spec.optimizer import OptimizationReport
from pipeline.spec.render import SPEC_MARKDOWN, read_spec, render_markdown
from pipeline.spec.verifier import DEFAULT_GATE, Verification, stale_markdown
from pipeline.stagekit import stage_kit

# Files a test run leaves behind that must never be committed.
NOT_COMMITTED = {"__pycache__", ".pytest_cache", ".ruff_cache", "data", "report.xml"}


@dataclass(frozen=True)
class BuildOutcome:
    service_name: str
    spec: OptimizationReport
    generated: GeneratedService | None = None
    tests: SandboxResult | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    """Everything under `services/<name>/`, relative to that folder: what the PR commits."""
    model_rounds: tuple[CodegenRound, ...] = ()
    """With a model: its write round and repair rounds, accepted or not."""
    stage_service: StageService | None = None
    """For an intent that `implements` a stage: the stage and contract version the service implements,
    the stage kit its requirements pin and its hints' digest (None: an ordinary service)."""

    @property
    def is_stage_service(self) -> bool:
        return self.stage_service is not None

    @property
    def verdict(self) -> BuildVerdict:
        if not self.spec.reached_gate:
            return BuildVerdict.SPEC_BELOW_GATE
        if self.tests is None or not self.tests.ok:
            return BuildVerdict.TESTS_FAILED
        return BuildVerdict.READY

    def to_json(self) -> dict[str, Any]:
        return {
            "service_name": self.service_name,
            "verdict": self.verdict.value,
            "spec": self.spec.to_json(),
            "tests": self.tests.to_json() if self.tests else None,
            "files": sorted(self.files),
            "model_rounds": [r.to_json() for r in self.model_rounds],
            "version": self.generated.manifest.version if self.generated else None,
            "stage_service": self.stage_service.to_json() if self.stage_service else None,
        }

    def report(self) -> BuildReport:
        """What the ledger keeps of this build (typed, versioned)."""
        return BuildReport.from_json(self.to_json())


@dataclass(frozen=True)
class FactoryConfig:
    gate: int = DEFAULT_GATE
    max_rounds: int = 3
    stages: StageRegistry = field(default_factory=StageRegistry)
    """Which implementation answers each stage (default: all built in)."""


def build_service(
    intent: Intent,
    *,
    intent_path: str,
    blueprint: str,
    workdir: Path,
    sandbox_for: Callable[[Path], Sandbox],
    provider: LLMProvider | None = None,
    budget_key: str | None = None,
    config: FactoryConfig = FactoryConfig(),
    progress: Callable[[str], None] = lambda _stage: None,
) -> BuildOutcome:
    """Run the factory for `intent`. A SPEC below the gate stops before any code is generated.

    The verifier has the last word on the SPEC: it scores the optimizer's result (with a model, the judge
    adds its findings, which only lower a score). With a model (not the offline provider) the built-in
    code generator writes the logic templates cannot and repairs failing tests (at most 3 rounds, tests
    untouched). Tests always run in `sandbox_for`'s sandbox, whoever wrote the code.
    """
    stages = config.stages.resolve(provider, budget_key=budget_key)
    if intent.reads_line_data():
        from pipeline.factory.analyzer import build_report_service  # it imports this module: late

        return build_report_service(
            intent,
            intent_path=intent_path,
            blueprint=blueprint,
            workdir=workdir,
            sandbox_for=sandbox_for,
            stages=stages,
            gate=config.gate,
            max_rounds=config.max_rounds,
            progress=progress,
        )
    target = implemented(intent)
    if target is not None:
        return _build_stage_service(
            intent,
            target=target,
            intent_path=intent_path,
            blueprint=blueprint,
            workdir=workdir,
            sandbox_for=sandbox_for,
            stages=stages,
            config=config,
            progress=progress,
        )
    progress("spec")
    spec = stages.builder.build(intent, blueprint=blueprint, intent_path=intent_path)
    report = stages.optimizer.optimize(spec, gate=config.gate, max_rounds=config.max_rounds)
    report = replace(report, verification=stages.verifier.verify(report.spec))
    if not report.reached_gate:
        return BuildOutcome(service_name=intent.service_name, spec=report)
    progress("code")
    directory = workdir / intent.service_name
    clean_workdir(workdir, intent.service_name)  # a crashed earlier attempt may have left half a service
    coded = stages.generator.generate(
        report.spec,
        directory,
        sandbox=_OnFirstRun(directory, sandbox_for, lambda: progress("tests")),
        intent_path=intent_path,
    )
    return BuildOutcome(
        service_name=intent.service_name,
        spec=report,
        generated=coded.service,
        tests=coded.result,
        files=collect_files(directory),  # the sandbox tests a copy: this folder holds only what was written
        model_rounds=coded.rounds,
    )


def _build_stage_service(
    intent: Intent,
    *,
    target: tuple[Stage, str],
    intent_path: str,
    blueprint: str,
    workdir: Path,
    sandbox_for: Callable[[Path], Sandbox],
    stages: FactoryStages,
    config: FactoryConfig,
    progress: Callable[[str], None],
) -> BuildOutcome:
    """A stage service: its SPEC from the routed builder (given the contract's endpoints), described with
    its hints, optimized and verified like any SPEC; its code from the stage templates; its tests (the
    stage's conformance suite and its hints' claims) in the line's sandbox."""
    progress("spec")
    draft = stages.builder.build(spec_intent(intent), blueprint=blueprint, intent_path=intent_path)
    kit = stage_kit()
    spec = describe_stage(draft, intent, kit=kit)
    report = stages.optimizer.optimize(spec, gate=config.gate, max_rounds=config.max_rounds)
    report = replace(report, verification=stages.verifier.verify(report.spec))
    if not report.reached_gate:
        digest = hints_digest(intent.stage_hints) if intent.stage_hints is not None else ""
        planned = StageService(*target, kit_version=kit.version, hints_digest=digest)
        return BuildOutcome(service_name=intent.service_name, spec=report, stage_service=planned)
    progress("code")
    directory = workdir / intent.service_name
    clean_workdir(workdir, intent.service_name)
    generated, service = generate_stage_service(
        report.spec, directory, intent=intent, intent_path=intent_path, kit=kit
    )
    progress("tests")
    tests = sandbox_for(directory).run_tests(directory)
    return BuildOutcome(
        service_name=intent.service_name,
        spec=report,
        generated=generated,
        tests=tests,
        files=collect_files(directory),
        stage_service=service,
    )


class _OnFirstRun:
    """The line's sandbox reads the service's requirements file, which exists only once code is written;
    the first run is also where the build's "tests" stage starts."""

    def __init__(
        self, directory: Path, sandbox_for: Callable[[Path], Sandbox], started: Callable[[], None]
    ) -> None:
        self._directory = directory
        self._sandbox_for = sandbox_for
        self._started = started
        self._sandbox: Sandbox | None = None

    def run_tests(self, service_dir: Path) -> SandboxResult:
        if self._sandbox is None:
            self._started()
            self._sandbox = self._sandbox_for(self._directory)
        return self._sandbox.run_tests(service_dir)


def collect_files(directory: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if path.is_file() and not NOT_COMMITTED.intersection(relative.parts) and path.suffix != ".pyc":
            files[relative.as_posix()] = path.read_bytes()
    return files


def clean_workdir(workdir: Path, service_name: str) -> None:
    shutil.rmtree(workdir / service_name, ignore_errors=True)


@dataclass(frozen=True)
class ServiceCheck:
    """A service folder someone else changed, checked again: its SPEC against the gate, its tests in the
    sandbox. What the line requires before it lets a head it did not build be signed off or deployed."""

    gate: int
    tests: SandboxResult
    verification: Verification | None
    spec_problem: str = ""
    """Why the SPEC could not be read (then `verification` is None)."""

    @property
    def spec_ok(self) -> bool:
        return self.verification is not None and self.verification.passes(self.gate)

    @property
    def ok(self) -> bool:
        return self.spec_ok and self.tests.ok


def check_service(
    directory: Path,
    *,
    sandbox_for: Callable[[Path], Sandbox],
    gate: int = DEFAULT_GATE,
    verifier: SpecVerifier | None = None,
) -> ServiceCheck:
    """Verify the SPEC in `directory` (spec.json, and SPEC.md matching it) and run its tests sandboxed.

    `verifier`: the spec-verifier stage to ask (default: the built-in rubric, without a model's judge)."""
    verification: Verification | None = None
    problem = ""
    try:
        spec = read_spec(directory)
    except ValueError as exc:
        problem = str(exc).replace(str(directory) + "/", "")
    else:
        markdown = directory / SPEC_MARKDOWN
        text = markdown.read_text(encoding="utf-8", errors="replace") if markdown.is_file() else ""
        documents = stale_markdown(spec, text, render_markdown(spec))
        verification = (verifier or BuiltinSpecVerifier()).verify(spec, documents=documents)
    tests = sandbox_for(directory).run_tests(directory)
    return ServiceCheck(gate=gate, tests=tests, verification=verification, spec_problem=problem)
