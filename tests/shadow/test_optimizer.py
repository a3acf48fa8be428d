"""The shadow evaluation of a spec-optimizer: each result is judged by the line's own verifier, never by
the optimizer's claim, and removing what a SPEC promises is never an improvement."""

from __future__ import annotations

from pipeline.factory.contracts import Stage
from pipeline.factory.interfaces import FactoryStages
from pipeline.shadow import Comparison, Referees, ShadowCase, ShadowReport, Verdict, evaluate
from tests.shadow.candidates import CuttingOptimizer, IdleOptimizer, SameOptimizer


def _evaluate(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...], candidate: object
) -> ShadowReport:
    return evaluate(
        Stage.SPEC_OPTIMIZER,
        incumbent=stages.optimizer,
        candidate=candidate,
        cases=history,
        referees=referees,
        candidate_name=type(candidate).__name__,
    )


def test_an_optimizer_that_repairs_nothing_is_worse(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = _evaluate(stages, referees, history, IdleOptimizer())

    assert report.verdict is Verdict.WORSE
    assert report.metric("gate_rate").comparison is Comparison.WORSE
    repaired = [r for r in report.metric("gate_rate").rows if r.incumbent == 1.0 and r.candidate == 0.0]
    assert any(row.case.startswith("known-bad/vague-requirement") for row in repaired)


def test_an_optimizer_that_removes_acceptance_criteria_is_worse(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = _evaluate(stages, referees, history, CuttingOptimizer())

    weakened = report.metric("weakened")
    assert weakened.incumbent == 0 and weakened.candidate is not None and weakened.candidate > 0
    assert report.verdict is Verdict.WORSE
    assert "weakened" in report.rule


def test_the_same_optimizer_under_another_name_is_no_better(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = _evaluate(stages, referees, history, SameOptimizer())

    assert report.verdict is Verdict.NO_BETTER
    assert report.metric("rounds_to_gate").incumbent == report.metric("rounds_to_gate").candidate
