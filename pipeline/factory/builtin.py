"""The built-in stages: the line's own functions behind the stage interfaces.

Offline (no provider, or the offline one) every stage is deterministic; with a model, the builder extends
the draft, the verifier adds a judge's findings (which only lower a score), the optimizer may rewrite, the
code generator writes custom logic and repairs failing tests, and alignment is Claude's. A stage service
runs one of them configured by its hints (`pipeline.factory.hinted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.codegen.generator import generate_service
from pipeline.codegen.model_path import CodegenReport, generate_with_model
from pipeline.factory.hinted import with_hints
from pipeline.factory.interfaces import FactoryStages
from pipeline.governance.alignment import AlignmentScorer, LexicalScorer, scorer_for
from pipeline.intents import Intent
from pipeline.intents.stagehints import AnyStageHints
from pipeline.llm import LLMProvider
from pipeline.sandbox.runner import Sandbox
from pipeline.spec.builder import build_spec
from pipeline.spec.judge import judged_verification
from pipeline.spec.model import Spec
from pipeline.spec.optimizer import OptimizationReport, optimize
from pipeline.spec.verifier import Finding, Verification


def builtin_scorer(provider: LLMProvider | None = None, *, budget_key: str | None = None) -> AlignmentScorer:
    """Claude with a model behind the provider, the lexical scorer offline (or without a provider)."""
    if provider is None:
        return LexicalScorer()
    return scorer_for(provider, budget_key=budget_key)


@dataclass(frozen=True)
class BuiltinSpecBuilder:
    provider: LLMProvider | None = None
    budget_key: str | None = None

    def build(self, intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec:
        return build_spec(
            intent,
            blueprint=blueprint,
            intent_path=intent_path,
            provider=self.provider,
            budget_key=self.budget_key,
        )


@dataclass(frozen=True)
class BuiltinSpecVerifier:
    """The rubric, plus the judge's findings when a model is configured."""

    provider: LLMProvider | None = None
    budget_key: str | None = None

    def verify(self, spec: Spec, *, documents: tuple[Finding, ...] = ()) -> Verification:
        return judged_verification(spec, self.provider, budget_key=self.budget_key, documents=documents)


@dataclass(frozen=True)
class BuiltinSpecOptimizer:
    provider: LLMProvider | None = None
    budget_key: str | None = None

    def optimize(self, spec: Spec, *, gate: int, max_rounds: int) -> OptimizationReport:
        return optimize(
            spec, gate=gate, max_rounds=max_rounds, provider=self.provider, budget_key=self.budget_key
        )


@dataclass(frozen=True)
class BuiltinCodeGenerator:
    """Templates (offline); with a model, its logic and at most 3 repair rounds against `sandbox`."""

    provider: LLMProvider | None = None
    budget_key: str | None = None

    def generate(
        self, spec: Spec, directory: Path, *, sandbox: Sandbox, intent_path: str = ""
    ) -> CodegenReport:
        if self.provider is None or self.provider.offline:
            service = generate_service(spec, directory, intent_path=intent_path)
            return CodegenReport(service=service, result=sandbox.run_tests(directory))
        return generate_with_model(
            spec,
            directory,
            provider=self.provider,
            sandbox=sandbox,
            intent_path=intent_path,
            budget_key=self.budget_key,
        )


def builtin_stages(
    provider: LLMProvider | None = None,
    *,
    budget_key: str | None = None,
    hints: AnyStageHints | None = None,
) -> FactoryStages:
    """Every stage built in, bound to `provider` (None: offline) and the intent's `budget_key`; the stage
    `hints` are for (a stage service's, `pipeline.intents.stagehints`) configured by them."""
    stages = FactoryStages(
        scorer=builtin_scorer(provider, budget_key=budget_key),
        builder=BuiltinSpecBuilder(provider, budget_key),
        verifier=BuiltinSpecVerifier(provider, budget_key),
        optimizer=BuiltinSpecOptimizer(provider, budget_key),
        generator=BuiltinCodeGenerator(provider, budget_key),
    )
    return stages if hints is None else with_hints(stages, hints)
