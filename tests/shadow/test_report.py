"""The report's figures and verdict rules, and its versioned JSON."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from pipeline.factory.contracts import Stage
from pipeline.factory.interfaces import FactoryStages
from pipeline.shadow import (
    Aggregate,
    Comparison,
    Direction,
    MetricSpec,
    Referees,
    Role,
    Row,
    ShadowCase,
    ShadowReport,
    Verdict,
    evaluate,
    metrics_for,
)
from pipeline.shadow.scoring import auc, decide, measure
from tests.shadow.candidates import WordCountScorer

HIGHER = MetricSpec(
    name="score",
    measures="m",
    direction=Direction.HIGHER,
    computed="c",
    aggregate=Aggregate.MEAN,
    role=Role.DECIDES,
    margin=1.0,
    missing=0.0,
)


def test_auc_counts_ties_half_and_needs_both_outcomes() -> None:
    assert auc([(90, True), (60, False)]) == 1.0
    assert auc([(100, True), (100, False)]) == 0.5
    assert auc([(60, True), (90, False), (90, True)]) == 0.25
    assert auc([(90, True), (80, True)]) is None


def test_a_failed_call_counts_as_the_metrics_missing_value() -> None:
    rows = [Row(case="a", incumbent=90, candidate=None), Row(case="b", incumbent=90, candidate=100)]

    result = measure(HIGHER, rows)

    assert (result.incumbent, result.candidate, result.comparison) == (90, 50, Comparison.WORSE)


def test_within_the_margin_is_the_same_and_a_guard_never_makes_better() -> None:
    close = measure(HIGHER, [Row(case="a", incumbent=90, candidate=91)])
    guard = measure(
        HIGHER.model_copy(update={"role": Role.GUARDS}), [Row(case="a", incumbent=0, candidate=100)]
    )

    assert close.comparison is Comparison.SAME
    assert decide([close, guard]) == (Verdict.NO_BETTER, decide([close])[1])


def test_one_worse_guard_outweighs_any_improvement() -> None:
    better = measure(HIGHER, [Row(case="a", incumbent=50, candidate=100)])
    guard = measure(
        HIGHER.model_copy(update={"name": "kept", "role": Role.GUARDS, "margin": 0.0}),
        [Row(case="a", incumbent=1, candidate=0)],
    )

    verdict, rule = decide([better, guard])

    assert verdict is Verdict.WORSE
    assert rule.startswith(
        "worse: kept 0 vs 1 (worse when the candidate's mean is lower than the incumbent's"
    )


def test_nothing_to_compare_is_no_better() -> None:
    assert decide([measure(HIGHER, [])])[0] is Verdict.NO_BETTER


def test_every_stage_declares_failures_and_time_and_each_rule_in_words() -> None:
    for stage in Stage:
        declared = metrics_for(stage)
        names = [metric.name for metric in declared]
        assert names[-2:] == ["failures", "time"] and len(set(names)) == len(names)
        assert all(metric.rule and metric.computed and metric.measures for metric in declared)
    assert "tests_rate" in [m.name for m in metrics_for(Stage.SPEC_BUILDER, run_tests=True)]


def test_the_report_survives_its_json(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = evaluate(
        Stage.ALIGNMENT_SCORER,
        incumbent=stages.scorer,
        candidate=WordCountScorer(),
        cases=history,
        referees=referees,
        candidate_name="alignment-scorer-v2",
        source="the bundled example history",
    )

    stored = json.loads(json.dumps(report.to_json()))

    assert stored["version"] == 1 and stored["verdict"] == "worse"
    assert ShadowReport.from_json(stored) == report
    assert report.summary().startswith("alignment-scorer: alignment-scorer-v2 is worse than builtin (worse: ")
    with pytest.raises(ValidationError):
        ShadowReport.from_json({**stored, "version": 2})


def test_an_implementation_of_another_stage_is_refused(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    with pytest.raises(ValueError, match="the candidate is not a spec-verifier: it has no verify()"):
        evaluate(
            Stage.SPEC_VERIFIER,
            incumbent=stages.verifier,
            candidate=stages.builder,
            cases=history,
            referees=referees,
        )
