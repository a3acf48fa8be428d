"""One shadow evaluation in progress: the referees (the line's own stages, which grade), the cases, each
call to both sides, and the rows collected per metric.

The referees prepare what a stage under evaluation needs (a SPEC for a verifier, an optimizer or a code
generator) and grade what it returns; the candidate never grades, not even its own output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel

from pipeline.factory.contracts import Stage
from pipeline.factory.interfaces import CodeGenerator, FactoryStages, SpecBuilder, SpecOptimizer, SpecVerifier
from pipeline.sandbox.runner import Sandbox
from pipeline.shadow.calls import Attempt, attempt
from pipeline.shadow.cases import ShadowCase
from pipeline.shadow.metrics import FAILURES, TIME
from pipeline.shadow.model import Row
from pipeline.spec.model import Spec
from pipeline.spec.optimizer import DEFAULT_MAX_ROUNDS
from pipeline.spec.verifier import DEFAULT_GATE

T = TypeVar("T")
ImplT = TypeVar("ImplT")
ModelT = TypeVar("ModelT", bound=BaseModel)

REFEREE_FAILED = "the line's own {what} failed on it: {detail}"
NOT_PREPARED = "{case}: the line's own builder could not write its SPEC: {detail}"
FAILED_SIDE = "{side}: {failure}"
OTHER_SERVICE = "it answered for service {answered!r}, not {asked!r}"
INCUMBENT, CANDIDATE = "incumbent", "candidate"


@dataclass(frozen=True)
class Referees:
    """The line's own stages, which prepare each case and grade both sides (never the candidate).

    `sandbox_for` and `workdir` are where generated services are tested: needed to evaluate a code
    generator, and a spec-builder with tests."""

    builder: SpecBuilder
    verifier: SpecVerifier
    optimizer: SpecOptimizer
    generator: CodeGenerator
    sandbox_for: Callable[[Path], Sandbox] | None = None
    workdir: Path | None = None
    gate: int = DEFAULT_GATE
    max_rounds: int = DEFAULT_MAX_ROUNDS

    @classmethod
    def of(
        cls,
        stages: FactoryStages,
        *,
        sandbox_for: Callable[[Path], Sandbox] | None = None,
        workdir: Path | None = None,
        gate: int = DEFAULT_GATE,
        max_rounds: int = DEFAULT_MAX_ROUNDS,
    ) -> Referees:
        """The referees of a line whose stages are `stages` (as its routing resolves them)."""
        return cls(
            builder=stages.builder,
            verifier=stages.verifier,
            optimizer=stages.optimizer,
            generator=stages.generator,
            sandbox_for=sandbox_for,
            workdir=workdir,
            gate=gate,
            max_rounds=max_rounds,
        )

    def graders(self, stage: Stage, *, run_tests: bool = False) -> dict[str, object]:
        """The referees that prepare or grade an evaluation of `stage`, by role."""
        roles = {
            Stage.ALIGNMENT_SCORER: {},
            Stage.SPEC_BUILDER: {"verifier": self.verifier, "optimizer": self.optimizer},
            Stage.SPEC_VERIFIER: {
                "builder": self.builder,
                "verifier": self.verifier,
                "optimizer": self.optimizer,
            },
            Stage.SPEC_OPTIMIZER: {"builder": self.builder, "verifier": self.verifier},
            Stage.CODE_GENERATOR: {
                "builder": self.builder,
                "verifier": self.verifier,
                "optimizer": self.optimizer,
            },
        }[stage]
        if run_tests and stage is Stage.SPEC_BUILDER:
            roles["code generator"] = self.generator
        return roles


@dataclass(frozen=True)
class Pair(Generic[T]):
    """What one call gave on each side."""

    incumbent: Attempt[T]
    candidate: Attempt[T]

    def sides(self) -> tuple[tuple[str, Attempt[T]], tuple[str, Attempt[T]]]:
        return (INCUMBENT, self.incumbent), (CANDIDATE, self.candidate)

    @property
    def note(self) -> str:
        failed = [
            FAILED_SIDE.format(side=side, failure=result.failure)
            for side, result in ((INCUMBENT, self.incumbent), (CANDIDATE, self.candidate))
            if not result.ok
        ]
        return "; ".join(failed)


@dataclass(frozen=True)
class Prepared:
    """A case with the SPEC the line's own builder wrote for it."""

    case: ShadowCase
    spec: Spec


@dataclass
class Run:
    cases: Sequence[ShadowCase]
    referees: Referees
    timeout_s: float
    run_tests: bool = False
    rows: dict[str, list[Row]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def both(
        self,
        call: Callable[[ImplT], object],
        incumbent: ImplT,
        candidate: ImplT,
        *,
        expect: type[T],
        check: Callable[[T], str] | None = None,
    ) -> Pair[T]:
        """`call` on each side, the incumbent first, each guarded by the run's deadline."""
        return Pair(
            self.call(lambda: call(incumbent), expect, check),
            self.call(lambda: call(candidate), expect, check),
        )

    def call(
        self, call: Callable[[], object], expect: type[T], check: Callable[[T], str] | None = None
    ) -> Attempt[T]:
        return attempt(call, expect=expect, timeout_s=self.timeout_s, check=check)

    def record(self, case: str, pair: Pair[T]) -> None:
        """The `failures` and `time` rows of one call on each side; the candidate's failure is listed."""
        inc, cand = pair.incumbent, pair.candidate
        self.add(
            FAILURES.name,
            Row(case=case, incumbent=float(not inc.ok), candidate=float(not cand.ok), note=pair.note),
        )
        self.add(
            TIME.name,
            Row(
                case=case,
                incumbent=float(inc.duration_ms) if inc.ok else None,
                candidate=float(cand.duration_ms) if cand.ok else None,
            ),
        )
        if not cand.ok:
            self.failures.append(f"{case}: {cand.failure}")

    def add(self, metric: str, row: Row) -> None:
        self.rows.setdefault(metric, []).append(row)

    def referee(self, call: Callable[[], object], *, expect: type[T], what: str) -> tuple[T | None, str]:
        """A referee's work on one output: its value, or None and why (counted against that output)."""
        done = self.call(call, expect)
        return (done.value, "") if done.ok else (None, REFEREE_FAILED.format(what=what, detail=done.failure))

    def prepared(self) -> list[Prepared]:
        """Each case's SPEC as the line's own builder writes it; cases it cannot write are skipped."""
        ready = []
        builder = self.referees.builder
        for case in self.cases:
            built = self.call(build_call(builder, case), Spec)
            if built.ok and built.value is not None:
                ready.append(Prepared(case, built.value))
            else:
                self.skipped.append(NOT_PREPARED.format(case=case.id, detail=built.failure))
        return ready


def build_call(builder: SpecBuilder, case: ShadowCase) -> Callable[[], object]:
    """`builder` building `case`'s SPEC, as the line asks a spec-builder (on its own copy of the intent)."""
    return lambda: builder.build(private(case.intent), blueprint=case.blueprint, intent_path=case.path)


def private(value: ModelT) -> ModelT:
    """A deep copy for one call: what an implementation changes in its input (an in-process one can) must
    not change the case, the fixed sets or what the line grades afterwards."""
    return value.model_copy(deep=True)


def same_service(asked: str, answered: str) -> str:
    return "" if answered == asked else OTHER_SERVICE.format(answered=answered, asked=asked)
