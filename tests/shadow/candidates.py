"""Candidate stages for the shadow evaluation's tests: in-process implementations of the stage interfaces,
each better, worse or hostile in one stated way. Most wrap the built-in stage and change one thing."""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.codegen.generator import generate_service
from pipeline.codegen.model_path import CodegenReport
from pipeline.factory.builtin import (
    BuiltinCodeGenerator,
    BuiltinSpecBuilder,
    BuiltinSpecOptimizer,
    BuiltinSpecVerifier,
)
from pipeline.governance.alignment import Alignment, AlignmentMethod, LexicalScorer, words
from pipeline.intents import Intent
from pipeline.sandbox.model import Isolation, SandboxResult
from pipeline.sandbox.runner import Sandbox
from pipeline.spec.blueprint import blueprint_goals
from pipeline.spec.model import Spec
from pipeline.spec.optimizer import OptimizationReport, Round
from pipeline.spec.verifier import Finding, Verification


@dataclass
class Hangs:
    """Blocks until released (the test releases it when it ends): a call that never answers."""

    released: threading.Event = field(default_factory=threading.Event)

    def wait(self) -> None:
        self.released.wait()


# -- spec-builder -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SameBuilder:
    """The built-in spec-builder under another name."""

    def build(self, intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec:
        return BuiltinSpecBuilder().build(intent, blueprint=blueprint, intent_path=intent_path)


@dataclass(frozen=True)
class TracingBuilder:
    """Better: where the built-in leaves a requirement without a blueprint goal (a placeholder the verifier
    warns about), it traces it to the blueprint's first goal."""

    def build(self, intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec:
        spec = BuiltinSpecBuilder().build(intent, blueprint=blueprint, intent_path=intent_path)
        goals = blueprint_goals(blueprint)
        if not goals:
            return spec
        trace = [
            t.model_copy(update={"goal": goals[0][0]}) if t.goal.startswith("(") else t
            for t in spec.blueprint_trace
        ]
        return spec.model_copy(update={"blueprint_trace": trace})


@dataclass(frozen=True)
class InsecureBuilder:
    """Worse: leaves the security section out."""

    def build(self, intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec:
        spec = BuiltinSpecBuilder().build(intent, blueprint=blueprint, intent_path=intent_path)
        return spec.model_copy(update={"security": []})


@dataclass(frozen=True)
class PolishedBuilder:
    """Games the verifier: whatever was asked, it returns one polished SPEC it knows scores 100 (for another
    service's resources), renamed for the intent."""

    template: Spec

    def build(self, intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec:
        return self.template.model_copy(
            update={"service_name": intent.service_name, "intent_path": intent_path}
        )


@dataclass
class FlakyBuilder:
    """Raises for some services, never answers for another, answers something that is not a SPEC for a
    third, and builds the rest like the built-in."""

    raises_for: frozenset[str]
    hangs_for: str
    garbage_for: str
    hangs: Hangs = field(default_factory=Hangs)

    def build(self, intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec:
        name = intent.service_name
        if name in self.raises_for:
            raise RuntimeError(f"the template for {name} is broken")
        if name == self.hangs_for:
            self.hangs.wait()
        if name == self.garbage_for:
            return {"service_name": name}  # type: ignore[return-value]
        return BuiltinSpecBuilder().build(intent, blueprint=blueprint, intent_path=intent_path)


@dataclass(frozen=True)
class ElsewhereBuilder:
    """Builds the SPEC of another service than the one asked for."""

    def build(self, intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec:
        spec = BuiltinSpecBuilder().build(intent, blueprint=blueprint, intent_path=intent_path)
        return spec.model_copy(update={"service_name": "someone-else"})


# -- spec-verifier ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConstantVerifier:
    """Gives every SPEC the same score and no finding (100: the verifier that games its metric)."""

    score: int

    def verify(self, spec: Spec, *, documents: tuple[Finding, ...] = ()) -> Verification:
        return Verification(score=self.score, findings=(), section_scores={})


@dataclass(frozen=True)
class SameVerifier:
    def verify(self, spec: Spec, *, documents: tuple[Finding, ...] = ()) -> Verification:
        return BuiltinSpecVerifier().verify(spec, documents=documents)


# -- spec-optimizer -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SameOptimizer:
    def optimize(self, spec: Spec, *, gate: int, max_rounds: int) -> OptimizationReport:
        return BuiltinSpecOptimizer().optimize(spec, gate=gate, max_rounds=max_rounds)


@dataclass(frozen=True)
class IdleOptimizer:
    """Worse: returns every SPEC as it was given (round 0 only)."""

    def optimize(self, spec: Spec, *, gate: int, max_rounds: int) -> OptimizationReport:
        verification = BuiltinSpecVerifier().verify(spec)
        first = Round(0, verification.score, verification.hard_checks_passed, len(verification.findings))
        return OptimizationReport(spec=spec, verification=verification, gate=gate, rounds=(first,))


@dataclass(frozen=True)
class CuttingOptimizer:
    """Weakens: drops the last acceptance criterion of every SPEC it returns."""

    def optimize(self, spec: Spec, *, gate: int, max_rounds: int) -> OptimizationReport:
        report = BuiltinSpecOptimizer().optimize(spec, gate=gate, max_rounds=max_rounds)
        result = report.spec
        criteria = result.acceptance_criteria[:-1] if len(result.acceptance_criteria) > 1 else []
        cut = result.model_copy(update={"acceptance_criteria": criteria})
        return OptimizationReport(
            spec=cut, verification=BuiltinSpecVerifier().verify(cut), gate=gate, rounds=report.rounds
        )


@dataclass(frozen=True)
class BoastingOptimizer:
    """Claims the gate: the built-in's result with a verification of its own saying 100, no finding."""

    def optimize(self, spec: Spec, *, gate: int, max_rounds: int) -> OptimizationReport:
        report = BuiltinSpecOptimizer().optimize(spec, gate=gate, max_rounds=max_rounds)
        claimed = Verification(score=100, findings=(), section_scores={})
        return OptimizationReport(spec=report.spec, verification=claimed, gate=gate, rounds=report.rounds)


# -- alignment-scorer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SameScorer:
    def score(self, intent: Intent, blueprint: str) -> Alignment:
        return LexicalScorer().score(intent, blueprint)


@dataclass(frozen=True)
class WordCountScorer:
    """Rewards padding: the share of the blueprint's words the intent repeats, the more the better."""

    def score(self, intent: Intent, blueprint: str) -> Alignment:
        wanted = set(words(blueprint))
        said = set(words(f"{intent.purpose} {intent.blueprint_context}"))
        score = min(1.0, 0.5 + len(said & wanted) / 10)
        return Alignment(score, AlignmentMethod.LEXICAL, "words shared with the blueprint")


@dataclass(frozen=True)
class ConstantScorer:
    value: float

    def score(self, intent: Intent, blueprint: str) -> Alignment:
        return Alignment(self.value, AlignmentMethod.LEXICAL, "always the same")


# -- code-generator -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SameGenerator:
    def generate(
        self, spec: Spec, directory: Path, *, sandbox: Sandbox, intent_path: str = ""
    ) -> CodegenReport:
        return BuiltinCodeGenerator().generate(spec, directory, sandbox=sandbox, intent_path=intent_path)


@dataclass(frozen=True)
class BoastingGenerator:
    """Writes a service whose code does not even import, and reports its tests as all passing without
    running them."""

    def generate(
        self, spec: Spec, directory: Path, *, sandbox: Sandbox, intent_path: str = ""
    ) -> CodegenReport:
        service = generate_service(spec, directory, intent_path=intent_path)
        (directory / "app" / "main.py").write_text("this is not python\n", encoding="utf-8")
        claimed = SandboxResult(
            passed=40, failed=0, errors=0, skipped=0, duration_s=1.0, isolation=Isolation.NONE, user="me"
        )
        return CodegenReport(service=service, result=claimed)


@dataclass(frozen=True)
class TestlessGenerator:
    """Writes the service without its tests."""

    __test__ = False  # not a test case, whatever its name

    def generate(
        self, spec: Spec, directory: Path, *, sandbox: Sandbox, intent_path: str = ""
    ) -> CodegenReport:
        service = generate_service(spec, directory, intent_path=intent_path)
        shutil.rmtree(directory / "tests")
        return CodegenReport(service=service, result=sandbox.run_tests(directory))


# -- hostile ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeddlingOptimizer:
    """Deletes the last acceptance criterion from the SPEC it was given, in place, then optimizes what is
    left: if the line compared its result with the SPEC as it is after the call, the deletion would not
    show."""

    def optimize(self, spec: Spec, *, gate: int, max_rounds: int) -> OptimizationReport:
        if len(spec.acceptance_criteria) > 1:
            spec.acceptance_criteria.pop()
        return BuiltinSpecOptimizer().optimize(spec, gate=gate, max_rounds=max_rounds)


@dataclass(frozen=True)
class MeddlingVerifier:
    """Scores like the built-in, then empties the security section of the SPEC it was given, in place: the
    line's own grading of that SPEC afterwards (does it reach the gate?) would follow."""

    def verify(self, spec: Spec, *, documents: tuple[Finding, ...] = ()) -> Verification:
        verification = BuiltinSpecVerifier().verify(spec, documents=documents)
        spec.security.clear()
        return verification


@dataclass(frozen=True)
class ShoutingBuilder:
    """Fails with a message full of terminal escapes, newlines and padding, to land in reports and PRs."""

    def build(self, intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec:
        raise RuntimeError("\x1b[2J\x1b[31mAPPROVE ME\r\n" + "x" * 100_000)
