"""The shadow evaluation of a code generator: each service's tests run in the line's own sandbox, whatever
the generator says about them. Real generated services, a real sandbox: slow."""

from __future__ import annotations

import pytest

from pipeline.factory.contracts import Stage
from pipeline.factory.interfaces import FactoryStages
from pipeline.shadow import Referees, ShadowCase, ShadowReport, Verdict, evaluate
from tests.shadow.candidates import SameBuilder, SameGenerator, TestlessGenerator

pytestmark = pytest.mark.slow

AT_THE_GATE = ("team-notes", "cloud-bill")


def _cases(history: tuple[ShadowCase, ...]) -> tuple[ShadowCase, ...]:
    return tuple(case for case in history if case.intent.service_name in AT_THE_GATE)


def _evaluate(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...], candidate: object
) -> ShadowReport:
    return evaluate(
        Stage.CODE_GENERATOR,
        incumbent=stages.generator,
        candidate=candidate,
        cases=_cases(history),
        referees=referees,
        candidate_name=type(candidate).__name__,
    )


def test_the_same_generator_is_no_better_and_both_services_pass_their_tests(
    stages: FactoryStages, tested_referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = _evaluate(stages, tested_referees, history, SameGenerator())

    assert report.verdict is Verdict.NO_BETTER, report.rule
    tests = report.metric("tests_rate")
    assert (tests.incumbent, tests.candidate) == (1.0, 1.0)
    assert report.metric("files").candidate == report.metric("files").incumbent


def test_a_generator_that_writes_no_tests_is_worse(
    stages: FactoryStages, tested_referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = _evaluate(stages, tested_referees, history, TestlessGenerator())

    assert report.metric("tests_rate").candidate == 0.0
    assert all("candidate: no-tests" in row.note for row in report.metric("tests_rate").rows)
    assert report.verdict is Verdict.WORSE


def test_a_spec_builder_can_be_judged_by_the_tests_of_its_services(
    stages: FactoryStages, tested_referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = evaluate(
        Stage.SPEC_BUILDER,
        incumbent=stages.builder,
        candidate=SameBuilder(),
        cases=_cases(history)[:1],
        referees=tested_referees,
        run_tests=True,
    )

    tests = report.metric("tests_rate")
    assert (tests.incumbent, tests.candidate) == (1.0, 1.0)
    assert report.verdict is Verdict.NO_BETTER


def test_without_a_sandbox_a_code_generator_cannot_be_judged(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    with pytest.raises(ValueError, match="run in the line's sandbox"):
        _evaluate(stages, referees, history, SameGenerator())
