"""The shadow evaluation of a spec-verifier: judged by how well its scores predict what happened to each
SPEC downstream and what people decided, and by fixed SPECs whose quality is known beforehand."""

from __future__ import annotations

from pipeline.factory.contracts import Stage
from pipeline.factory.interfaces import FactoryStages
from pipeline.shadow import Comparison, Referees, ShadowCase, ShadowReport, Verdict, evaluate
from tests.shadow.candidates import ConstantVerifier, SameVerifier


def _evaluate(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...], candidate: object
) -> ShadowReport:
    return evaluate(
        Stage.SPEC_VERIFIER,
        incumbent=stages.verifier,
        candidate=candidate,
        cases=history,
        referees=referees,
        candidate_name=type(candidate).__name__,
    )


def test_a_verifier_failing_everything_is_worse(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = _evaluate(stages, referees, history, ConstantVerifier(0))

    assert report.verdict is Verdict.WORSE
    assert report.metric("known_good_pass").comparison is Comparison.WORSE
    assert report.metric("known_bad_low").comparison is Comparison.SAME


def test_the_same_verifier_under_another_name_is_no_better(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = _evaluate(stages, referees, history, SameVerifier())

    assert report.verdict is Verdict.NO_BETTER
    signoff = report.metric("signoff_auc")
    assert signoff.incumbent == signoff.candidate
    decided = [case for case in history if case.outcome.approved is not None]
    assert len(signoff.rows) == len(decided)
    assert {row.label for row in signoff.rows} == {True, False}
