"""The factory's stages as interfaces: what a build asks of each, whoever implements it.

Each stage has a built-in implementation (`pipeline.factory.builtin`) and an HTTP client for the stage's
versioned JSON contract (`pipeline.factory.clients`); `pipeline.factory.routing` picks one per stage from
configuration, and `pipeline.factory.conformance` holds the cases every implementation must pass.
Implementations are bound to their model provider and budget when they are made, so the calls carry only
the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.codegen.model_path import CodegenReport
from pipeline.governance.alignment import AlignmentScorer
from pipeline.intents import Intent
from pipeline.sandbox.runner import Sandbox
from pipeline.spec.model import Spec
from pipeline.spec.optimizer import OptimizationReport
from pipeline.spec.verifier import Finding, Verification

__all__ = [
    "AlignmentScorer",
    "CodeGenerator",
    "FactoryStages",
    "SpecBuilder",
    "SpecOptimizer",
    "SpecVerifier",
]


class SpecBuilder(Protocol):
    """spec-builder: an intent becomes a Spec for the same service."""

    def build(self, intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec: ...


class SpecVerifier(Protocol):
    """spec-verifier: a score from 0 to 100 with findings; a hard finding caps the score."""

    def verify(self, spec: Spec, *, documents: tuple[Finding, ...] = ()) -> Verification: ...


class SpecOptimizer(Protocol):
    """spec-optimizer: repair findings towards the gate, at most `max_rounds` rounds."""

    def optimize(self, spec: Spec, *, gate: int, max_rounds: int) -> OptimizationReport: ...


class CodeGenerator(Protocol):
    """code-generator: the service for a spec, written into `directory`, and its tests' result from
    `sandbox` (the line's own: a generator never reports its own test run)."""

    def generate(
        self, spec: Spec, directory: Path, *, sandbox: Sandbox, intent_path: str = ""
    ) -> CodegenReport: ...


@dataclass(frozen=True)
class FactoryStages:
    """One implementation of each stage, as a build uses them."""

    scorer: AlignmentScorer
    builder: SpecBuilder
    verifier: SpecVerifier
    optimizer: SpecOptimizer
    generator: CodeGenerator
