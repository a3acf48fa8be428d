"""The shadow evaluation of an alignment scorer: agreement with what people decided, what its scores would
have blocked under the rules of the time, and a fixed adversarial set that padding must not move."""

from __future__ import annotations

from pipeline.factory.contracts import Stage
from pipeline.factory.interfaces import FactoryStages
from pipeline.shadow import Referees, ShadowCase, ShadowReport, Verdict, evaluate
from tests.shadow.candidates import ConstantScorer, SameScorer


def _evaluate(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...], candidate: object
) -> ShadowReport:
    return evaluate(
        Stage.ALIGNMENT_SCORER,
        incumbent=stages.scorer,
        candidate=candidate,
        cases=history,
        referees=referees,
        candidate_name=type(candidate).__name__,
    )


def test_a_scorer_that_would_block_what_people_signed_off_is_worse(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = _evaluate(stages, referees, history, ConstantScorer(0.1))

    blocked = report.metric("approved_blocked")
    signed = [case for case in history if case.outcome.value == "signed_off"]
    assert (blocked.incumbent, blocked.candidate) == (0, len(signed))
    assert "Block anything misaligned" in blocked.rows[0].note, "the policy of the time decided it"
    assert report.verdict is Verdict.WORSE


def test_the_same_scorer_under_another_name_is_no_better(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = _evaluate(stages, referees, history, SameScorer())

    assert report.verdict is Verdict.NO_BETTER
    agreement = report.metric("signoff_auc")
    assert agreement.incumbent is not None and agreement.incumbent > 0.5
