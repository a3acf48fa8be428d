"""Every implementation of every stage passes the conformance suite (`pipeline.factory.conformance`): the
built-in stages, and the HTTP clients talking to the real stage app served on 127.0.0.1. The suite itself
catches implementations that break the contract's promises."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from pipeline.factory.builtin import BuiltinSpecBuilder, BuiltinSpecOptimizer, builtin_stages
from pipeline.factory.conformance import (
    BUILD_CASES,
    GENERATE_CASES,
    OPTIMIZE_CASES,
    SCORE_CASES,
    VERIFY_CASES,
    IntentCase,
    OptimizeCase,
    ScoreCase,
    VerifyCase,
    check_builder,
    check_generator,
    check_optimizer,
    check_scorer,
    check_verifier,
)
from pipeline.factory.interfaces import FactoryStages
from pipeline.governance.alignment import Alignment, AlignmentMethod
from pipeline.intents import Intent
from pipeline.sandbox.runner import ProcessSandbox, Sandbox
from pipeline.spec.model import Spec
from pipeline.spec.optimizer import OptimizationReport
from tests.fixtures.stage_services import routed_to, stage_service

IMPLEMENTATIONS = ("builtin", "http")


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with stage_service() as url:
        yield url


@pytest.fixture(params=IMPLEMENTATIONS)
def stages(request: pytest.FixtureRequest) -> FactoryStages:
    if request.param == "builtin":
        return builtin_stages()
    return routed_to(request.getfixturevalue("served")).resolve()


def _named(case: object) -> str:
    return str(getattr(case, "name", case))


@pytest.mark.parametrize("case", SCORE_CASES, ids=_named)
def test_alignment_scorer(stages: FactoryStages, case: ScoreCase) -> None:
    assert check_scorer(stages.scorer, case) == []


@pytest.mark.parametrize("case", BUILD_CASES, ids=_named)
def test_spec_builder(stages: FactoryStages, case: IntentCase) -> None:
    assert check_builder(stages.builder, case) == []


@pytest.mark.parametrize("case", VERIFY_CASES, ids=_named)
def test_spec_verifier(stages: FactoryStages, case: VerifyCase) -> None:
    assert check_verifier(stages.verifier, case) == []


@pytest.mark.parametrize("case", OPTIMIZE_CASES, ids=_named)
def test_spec_optimizer(stages: FactoryStages, case: OptimizeCase) -> None:
    assert check_optimizer(stages.optimizer, case) == []


@pytest.mark.slow
@pytest.mark.parametrize("case", GENERATE_CASES, ids=_named)
def test_code_generator(
    stages: FactoryStages, case: IntentCase, tmp_path: Path, sandbox_python: Path
) -> None:
    def sandbox_for(_directory: Path) -> Sandbox:
        return ProcessSandbox(sandbox_python)

    assert check_generator(stages.generator, case, workdir=tmp_path, sandbox_for=sandbox_for) == []


# -- the suite catches what breaks the promises ---------------------------------------------------------


@dataclass(frozen=True)
class _Inverted:
    """Scores everything upside down."""

    def score(self, intent: Intent, blueprint: str) -> Alignment:
        return Alignment(1.0 - (0.9 if "bookmarks" in intent.purpose else 0.1), AlignmentMethod.LEXICAL, "x")


@dataclass(frozen=True)
class _Renaming:
    """Builds a SPEC for another service."""

    def build(self, intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec:
        spec = BuiltinSpecBuilder().build(intent, blueprint=blueprint, intent_path=intent_path)
        return spec.model_copy(update={"service_name": "someone-else"})


@dataclass(frozen=True)
class _Boasting:
    """Drops the acceptance criteria it cannot satisfy and claims the gate with the original findings."""

    def optimize(self, spec: Spec, *, gate: int, max_rounds: int) -> OptimizationReport:
        report = BuiltinSpecOptimizer().optimize(spec, gate=gate, max_rounds=max_rounds)
        fewer = report.spec.model_copy(update={"acceptance_criteria": report.spec.acceptance_criteria[:1]})
        claimed = replace(report.verification, findings=(), score=100)
        return replace(report, spec=fewer, verification=claimed)


def test_the_suite_refuses_a_scorer_that_ranks_out_of_scope_work_higher() -> None:
    assert check_scorer(_Inverted(), SCORE_CASES[0])


def test_the_suite_refuses_a_builder_writing_for_another_service() -> None:
    problems = check_builder(_Renaming(), BUILD_CASES[0])
    assert any("not 'greetings'" in p for p in problems)


def test_the_suite_refuses_an_optimizer_that_claims_the_gate_by_dropping_criteria() -> None:
    free_text = next(case for case in OPTIMIZE_CASES if case.name == "free-text")
    problems = check_optimizer(_Boasting(), free_text)
    assert any("claims the gate" in p for p in problems)
    assert any("acceptance criteria dropped" in p for p in problems)
