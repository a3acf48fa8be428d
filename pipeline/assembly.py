"""The factory run for one intent: SPEC to the gate, code from the SPEC, its tests in the sandbox.

This is the seed's sovereign-factory + build-executor (code half) as one call with a typed result. It
knows nothing of forges: the caller commits `BuildOutcome.files` wherever it wants.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pipeline.codegen.generator import GeneratedService, generate_service
from pipeline.codegen.model_path import CodegenRound, generate_with_model
from pipeline.intents import Intent
from pipeline.llm import LLMProvider
from pipeline.sandbox.model import SandboxResult
from pipeline.sandbox.runner import Sandbox
from pipeline.spec.builder import build_spec
from pipeline.spec.judge import judged_report
from pipeline.spec.optimizer import OptimizationReport, optimize
from pipeline.spec.render import SPEC_MARKDOWN, read_spec, render_markdown
from pipeline.spec.verifier import DEFAULT_GATE, Verification, stale_markdown, verify

# Files a test run leaves behind that must never be committed.
NOT_COMMITTED = {"__pycache__", ".pytest_cache", ".ruff_cache", "data", "report.xml"}


class BuildVerdict(StrEnum):
    READY = "ready"
    SPEC_BELOW_GATE = "spec_below_gate"
    TESTS_FAILED = "tests_failed"


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
        }


@dataclass(frozen=True)
class FactoryConfig:
    gate: int = DEFAULT_GATE
    max_rounds: int = 3


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

    With a model (not the offline provider) the judge reviews the SPEC after the rubric, and the model
    writes the logic templates cannot and repairs failing tests (at most 3 rounds, tests untouched).
    """
    progress("spec")
    spec = build_spec(
        intent, blueprint=blueprint, intent_path=intent_path, provider=provider, budget_key=budget_key
    )
    report = optimize(
        spec, gate=config.gate, max_rounds=config.max_rounds, provider=provider, budget_key=budget_key
    )
    report = judged_report(report, provider, budget_key=budget_key)
    if not report.reached_gate:
        return BuildOutcome(service_name=intent.service_name, spec=report)
    progress("code")
    directory = workdir / intent.service_name
    clean_workdir(workdir, intent.service_name)  # a crashed earlier attempt may have left half a service
    if provider is None or provider.offline:
        generated = generate_service(report.spec, directory, intent_path=intent_path)
        files = collect_files(directory)  # before the tests run: they must not add anything to the commit
        progress("tests")
        tests = sandbox_for(directory).run_tests(directory)
        return BuildOutcome(
            service_name=intent.service_name, spec=report, generated=generated, tests=tests, files=files
        )
    progress("tests")  # the model's rounds write and test in turn
    coded = generate_with_model(
        report.spec,
        directory,
        provider=provider,
        sandbox=_OnFirstRun(directory, sandbox_for),
        intent_path=intent_path,
        budget_key=budget_key,
    )
    return BuildOutcome(
        service_name=intent.service_name,
        spec=report,
        generated=coded.service,
        tests=coded.result,
        files=collect_files(directory),  # the sandbox tests a copy: this folder holds only what was written
        model_rounds=coded.rounds,
    )


class _OnFirstRun:
    """The line's sandbox reads the service's requirements file, which exists only once code is written."""

    def __init__(self, directory: Path, sandbox_for: Callable[[Path], Sandbox]) -> None:
        self._directory = directory
        self._sandbox_for = sandbox_for
        self._sandbox: Sandbox | None = None

    def run_tests(self, service_dir: Path) -> SandboxResult:
        if self._sandbox is None:
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
    directory: Path, *, sandbox_for: Callable[[Path], Sandbox], gate: int = DEFAULT_GATE
) -> ServiceCheck:
    """Verify the SPEC in `directory` (spec.json, and SPEC.md matching it) and run its tests sandboxed."""
    verification: Verification | None = None
    problem = ""
    try:
        spec = read_spec(directory)
    except ValueError as exc:
        problem = str(exc).replace(str(directory) + "/", "")
    else:
        markdown = directory / SPEC_MARKDOWN
        text = markdown.read_text(encoding="utf-8", errors="replace") if markdown.is_file() else ""
        verification = verify(spec, documents=stale_markdown(spec, text, render_markdown(spec)))
    tests = sandbox_for(directory).run_tests(directory)
    return ServiceCheck(gate=gate, tests=tests, verification=verification, spec_problem=problem)
