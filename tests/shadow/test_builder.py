"""The shadow evaluation of a spec-builder: its SPECs are graded by the line's own verifier and optimizer,
on recent intents, and nothing it says about itself counts."""

from __future__ import annotations

from pipeline.factory.contracts import Stage
from pipeline.factory.interfaces import FactoryStages
from pipeline.shadow import Comparison, Referees, ShadowCase, ShadowReport, Verdict, evaluate
from tests.shadow.candidates import (
    ElsewhereBuilder,
    FlakyBuilder,
    Hangs,
    InsecureBuilder,
    SameBuilder,
    TracingBuilder,
)
from tests.shadow.conftest import SHORT_TIMEOUT_S


def _evaluate(
    stages: FactoryStages,
    referees: Referees,
    history: tuple[ShadowCase, ...],
    candidate: object,
    *,
    timeout_s: float = 60.0,
) -> ShadowReport:
    return evaluate(
        Stage.SPEC_BUILDER,
        incumbent=stages.builder,
        candidate=candidate,
        cases=history,
        referees=referees,
        candidate_name=type(candidate).__name__,
        timeout_s=timeout_s,
    )


def test_a_builder_that_traces_what_the_verifier_asks_for_is_better(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = _evaluate(stages, referees, history, TracingBuilder())

    assert report.verdict is Verdict.BETTER, report.rule
    score = report.metric("spec_score")
    assert score.comparison is Comparison.BETTER
    assert score.candidate is not None and score.incumbent is not None and score.candidate > score.incumbent
    improved = [row.case for row in score.rows if (row.candidate or 0) > (row.incumbent or 0)]
    assert history[1].id in improved  # link-stash: its requirements serve no goal of the built-in's trace
    assert report.rule.startswith("better: spec_score")
    assert all(m.comparison is not Comparison.WORSE for m in report.metrics)


def test_a_builder_that_leaves_out_the_security_section_is_worse(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = _evaluate(stages, referees, history, InsecureBuilder())

    assert report.verdict is Verdict.WORSE
    assert report.metric("spec_score").comparison is Comparison.WORSE
    assert report.metric("gate_rate").candidate == 0.0
    assert "spec_score" in report.rule and "gate_rate" in report.rule


def test_the_same_builder_under_another_name_is_no_better(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = _evaluate(stages, referees, history, SameBuilder())

    assert report.verdict is Verdict.NO_BETTER
    assert [case.id for case in report.cases] == [case.id for case in history]
    assert len(report.metric("spec_score").rows) == len(history)


def test_a_builder_that_crashes_hangs_or_answers_garbage_is_worse_and_the_run_completes(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...], hangs: Hangs
) -> None:
    flaky = FlakyBuilder(
        raises_for=frozenset({"team-notes", "glossary"}),
        hangs_for="cloud-bill",
        garbage_for="decision-log",
        hangs=hangs,
    )

    report = _evaluate(stages, referees, history, flaky, timeout_s=SHORT_TIMEOUT_S)

    assert report.verdict is Verdict.WORSE
    failures = report.metric("failures")
    assert (failures.incumbent, failures.candidate) == (0, 4)
    assert failures.comparison is Comparison.WORSE
    by_case = {failure.split(":")[0]: failure for failure in report.failures}
    assert "RuntimeError: the template for team-notes is broken" in by_case[history[0].id]
    assert f"timeout: no answer within {SHORT_TIMEOUT_S:g} s" in by_case[history[3].id]
    assert "malformed: it returned a dict, not a Spec" in by_case[history[6].id]
    rows = {row.case: row for row in report.metric("spec_score").rows}
    assert rows[history[3].id].candidate is None and "candidate: timeout" in rows[history[3].id].note
    assert rows[history[1].id].candidate == rows[history[1].id].incumbent, "the cases it built still count"


def test_a_spec_for_another_service_is_a_failure_of_the_candidate(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    report = _evaluate(stages, referees, history[:2], ElsewhereBuilder())

    assert report.metric("failures").candidate == 2
    assert all("answered for service 'someone-else', not" in failure for failure in report.failures)
    assert report.verdict is Verdict.WORSE
