"""Builds served by adopted stage services, safely: a call that fails, times out or breaks the contract falls
back to the built-in implementation for that call, is recorded, and repeated failures suspend the service.

`AdoptedStages` is a `StageRegistry` (what `FactoryConfig.stages` holds): `resolve` gives each build the
routed stages wrapped in `FallbackStage`s, and remembers who served each stage, so the bot can tell the
timeline and open an issue when a service was suspended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.adoption.health import StageHealth
from pipeline.codegen.model_path import CodegenReport
from pipeline.factory.builtin import builtin_stages
from pipeline.factory.clients import (
    HttpAlignmentScorer,
    HttpCodeGenerator,
    HttpSpecBuilder,
    HttpSpecOptimizer,
    HttpSpecVerifier,
    StageEndpoint,
    StageUnavailable,
)
from pipeline.factory.contracts import Stage
from pipeline.factory.interfaces import FactoryStages
from pipeline.factory.routing import BUILTIN, StageRegistry
from pipeline.governance.alignment import Alignment
from pipeline.intents import Intent
from pipeline.llm import LLMProvider
from pipeline.sandbox.runner import Sandbox
from pipeline.spec.model import Spec
from pipeline.spec.optimizer import OptimizationReport
from pipeline.spec.verifier import Finding, Verification

FELL_BACK = "builtin (fell back: {service} {failure})"


@dataclass
class Served:
    """Who answered each stage of one build: a service's name, `builtin`, or a fallback and why; and the
    services a failure of this build suspended."""

    by: dict[Stage, str] = field(default_factory=dict)
    suspended: list[tuple[Stage, str, str]] = field(default_factory=list)
    """(stage, service, reason) for each service this build's failures suspended."""


class FallbackStage:
    """One stage: the adopted service first, the built-in when the service gives no usable answer. It has
    every stage's method; a build calls only its own stage's."""

    def __init__(
        self,
        stage: Stage,
        service: str,
        primary: Any,
        builtin: Any,
        *,
        repo: str,
        health: StageHealth,
        served: Served,
    ) -> None:
        self._stage, self._service = stage, service
        self._primary, self._builtin = primary, builtin
        self._repo, self._health, self._served = repo, health, served

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            answer = getattr(self._primary, method)(*args, **kwargs)
        except StageUnavailable as exc:
            outcome = self._health.record(
                repo=self._repo,
                stage=self._stage.value,
                service=self._service,
                ok=False,
                failure=exc.failure.value,
                detail=str(exc),
            )
            if outcome.tripped:
                self._served.suspended.append((self._stage, self._service, str(exc)))
            self._served.by[self._stage] = FELL_BACK.format(service=self._service, failure=exc.failure.value)
            return getattr(self._builtin, method)(*args, **kwargs)
        self._health.record(repo=self._repo, stage=self._stage.value, service=self._service, ok=True)
        self._served.by.setdefault(self._stage, self._service)
        return answer

    def score(self, intent: Intent, blueprint: str) -> Alignment:
        result: Alignment = self._call("score", intent, blueprint)
        return result

    def build(self, intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec:
        result: Spec = self._call("build", intent, blueprint=blueprint, intent_path=intent_path)
        return result

    def verify(self, spec: Spec, *, documents: tuple[Finding, ...] = ()) -> Verification:
        result: Verification = self._call("verify", spec, documents=documents)
        return result

    def optimize(self, spec: Spec, *, gate: int, max_rounds: int) -> OptimizationReport:
        result: OptimizationReport = self._call("optimize", spec, gate=gate, max_rounds=max_rounds)
        return result

    def generate(
        self, spec: Spec, directory: Path, *, sandbox: Sandbox, intent_path: str = ""
    ) -> CodegenReport:
        result: CodegenReport = self._call(
            "generate", spec, directory, sandbox=sandbox, intent_path=intent_path
        )
        return result


CLIENTS: dict[Stage, Callable[[StageEndpoint], Any]] = {
    Stage.ALIGNMENT_SCORER: HttpAlignmentScorer,
    Stage.SPEC_BUILDER: HttpSpecBuilder,
    Stage.SPEC_VERIFIER: HttpSpecVerifier,
    Stage.SPEC_OPTIMIZER: HttpSpecOptimizer,
    Stage.CODE_GENERATOR: HttpCodeGenerator,
}
FIELDS = {
    Stage.ALIGNMENT_SCORER: "scorer",
    Stage.SPEC_BUILDER: "builder",
    Stage.SPEC_VERIFIER: "verifier",
    Stage.SPEC_OPTIMIZER: "optimizer",
    Stage.CODE_GENERATOR: "generator",
}


@dataclass(frozen=True)
class AdoptedStages(StageRegistry):
    """The stages one repository's `line/stages.yaml` routes to services (by name: `services`), with
    fallback. Made for one build (governance and the factory): `served` records who answered it."""

    services: dict[Stage, str] = field(default_factory=dict)
    repo: str = ""
    health: StageHealth | None = None
    served: Served = field(default_factory=Served)

    def resolve(self, provider: LLMProvider | None = None, *, budget_key: str | None = None) -> FactoryStages:
        built_in = builtin_stages(provider, budget_key=budget_key)
        chosen: dict[str, Any] = {}
        for stage, name in FIELDS.items():
            endpoint = self.endpoints.get(stage)
            own = getattr(built_in, name)
            if endpoint is None or self.health is None:
                self.served.by[stage] = BUILTIN
                chosen[name] = own
                continue
            chosen[name] = FallbackStage(
                stage,
                self.services.get(stage, endpoint.url),
                CLIENTS[stage](endpoint),
                own,
                repo=self.repo,
                health=self.health,
                served=self.served,
            )
        return FactoryStages(**chosen)
