"""Grading a SPEC the way the line would go on with it: the line's own verifier scores it, the line's own
optimizer repairs it towards the gate, and (when asked) the line's own generator and sandbox test it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.codegen.model_path import CodegenReport
from pipeline.intents import Intent
from pipeline.sandbox.model import SandboxResult
from pipeline.sandbox.runner import Sandbox
from pipeline.shadow.metrics import NEVER
from pipeline.shadow.run import Run
from pipeline.spec.model import Spec
from pipeline.spec.optimizer import OptimizationReport
from pipeline.spec.verifier import Verification

NO_SANDBOX = (
    "generated tests are run in the line's sandbox: the referees need `sandbox_for` and `workdir` for this"
)


@dataclass(frozen=True)
class Reached:
    """Where the line's optimizer takes a SPEC: the result and whether the line's verifier passes it."""

    spec: Spec
    rounds: float
    """Rounds to the gate, or NEVER."""
    passes: bool
    score: float
    """The line's verifier's score of the result."""


def reach_gate(run: Run, spec: Spec) -> tuple[Reached | None, str]:
    """The line's optimizer on `spec`, its result judged by the line's verifier (not the optimizer's word)."""
    referees = run.referees
    report, problem = run.referee(
        lambda: referees.optimizer.optimize(spec, gate=referees.gate, max_rounds=referees.max_rounds),
        expect=OptimizationReport,
        what="optimizer",
    )
    if report is None:
        return None, problem
    return judged(run, report.spec, rounds=len(report.rounds) - 1)


def judged(run: Run, spec: Spec, *, rounds: int) -> tuple[Reached | None, str]:
    """`spec` after `rounds` rounds of optimization, as the line's verifier sees it."""
    verification, problem = score(run, spec)
    if verification is None:
        return None, problem
    passes = verification.passes(run.referees.gate)
    return Reached(spec, float(rounds) if passes else NEVER, passes, float(verification.score)), ""


def score(run: Run, spec: Spec) -> tuple[Verification | None, str]:
    verifier = run.referees.verifier
    return run.referee(lambda: verifier.verify(spec), expect=Verification, what="verifier")


def tested(run: Run, spec: Spec, directory: Path, *, intent_path: str) -> tuple[SandboxResult | None, str]:
    """The line's own generator writes the service for `spec` into `directory`; the line's sandbox runs it."""
    referees = run.referees
    if referees.sandbox_for is None or referees.workdir is None:
        raise ValueError(NO_SANDBOX)
    sandbox = LineSandbox(referees.sandbox_for)
    generator = referees.generator
    report, problem = run.referee(
        lambda: generator.generate(spec, directory, sandbox=sandbox, intent_path=intent_path),
        expect=CodegenReport,
        what="code generator",
    )
    if report is None:
        return None, problem
    return report.result, ""


class LineSandbox:
    """The line's sandbox for a service folder, made when its tests run: it reads the service's
    requirements, which exist only once the code is written."""

    def __init__(self, sandbox_for: Callable[[Path], Sandbox]) -> None:
        self._sandbox_for = sandbox_for

    def run_tests(self, service_dir: Path) -> SandboxResult:
        return self._sandbox_for(service_dir).run_tests(service_dir)


def dropped_hints(intent: Intent, spec: Spec) -> int:
    """The intent's endpoints (method and path) and resources the SPEC leaves out."""
    routes = {(ep.method.value, ep.path) for ep in spec.endpoints}
    entities = {entity.name for entity in spec.data_model.entities}
    endpoints = [hint for hint in intent.endpoints if (hint.method.value, hint.path) not in routes]
    resources = [resource for resource in intent.resources if resource.name not in entities]
    return len(endpoints) + len(resources)
