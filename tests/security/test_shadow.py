"""Attacks on the shadow evaluation: a candidate stage trying to look better than it is.

- A verifier that returns 100 for everything (games its own metric): judged worse.
- A candidate configured as one of its own referees (grades itself): refused before anything runs.
- A scorer that rewards padding with the blueprint's words and text addressed to it: judged worse.
- An optimizer that claims the gate in its report without reaching it: the line's verifier decides.
- An optimizer that deletes from the SPEC it was given, in place, so its deletions would not show: counted.
- A verifier that edits the SPEC it scores, in place, to change what the line then concludes about it (and
  the fixed known SPECs of later runs): the line grades its own copies.
- A builder that returns a polished SPEC for something other than what was asked: judged worse.
- A code generator that reports its own passing test run for code that does not run: the line's sandbox
  runs the tests (slow).
- A candidate that never answers: the run completes and counts it; one that fails with terminal escapes
  and a huge message: the report keeps a short printable line.
- A history file with an alias bomb: refused with its line before it is expanded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.factory.contracts import Stage
from pipeline.factory.interfaces import FactoryStages
from pipeline.shadow import (
    Comparison,
    Referees,
    ShadowCase,
    ShadowDataError,
    ShadowReport,
    Verdict,
    evaluate,
    load_history,
)
from pipeline.shadow.calls import MAX_DETAIL_CHARS
from pipeline.shadow.fixed import Known, known_specs
from pipeline.spec.verifier import verify
from tests.shadow.candidates import (
    BoastingGenerator,
    BoastingOptimizer,
    ConstantVerifier,
    FlakyBuilder,
    Hangs,
    MeddlingOptimizer,
    MeddlingVerifier,
    PolishedBuilder,
    SameVerifier,
    ShoutingBuilder,
    WordCountScorer,
)
from tests.shadow.conftest import (
    HISTORY,
    SHORT_TIMEOUT_S,
    hangs,
    referees,
    sandbox_python,
    stages,
    tested_referees,
)

__all__ = ["hangs", "referees", "sandbox_python", "stages", "tested_referees"]


def _run(
    stage: Stage,
    stages: FactoryStages,
    referees: Referees,
    candidate: object,
    *,
    cases: tuple[ShadowCase, ...] = HISTORY,
    timeout_s: float = 60.0,
) -> ShadowReport:
    incumbent = {
        Stage.ALIGNMENT_SCORER: stages.scorer,
        Stage.SPEC_BUILDER: stages.builder,
        Stage.SPEC_VERIFIER: stages.verifier,
        Stage.SPEC_OPTIMIZER: stages.optimizer,
        Stage.CODE_GENERATOR: stages.generator,
    }[stage]
    return evaluate(
        stage, incumbent=incumbent, candidate=candidate, cases=cases, referees=referees, timeout_s=timeout_s
    )


def test_a_verifier_returning_100_for_everything_is_worse(stages: FactoryStages, referees: Referees) -> None:
    report = _run(Stage.SPEC_VERIFIER, stages, referees, ConstantVerifier(100))

    assert report.verdict is Verdict.WORSE
    gate = report.metric("gate_auc")
    assert gate.candidate == 0.5, "a constant predicts nothing"
    assert gate.incumbent is not None and gate.incumbent > 0.9 and gate.comparison is Comparison.WORSE
    bad = report.metric("known_bad_low")
    assert (bad.incumbent, bad.candidate, bad.comparison) == (1.0, 0.0, Comparison.WORSE)
    assert len(bad.rows) == sum(known.known is Known.BAD for known in known_specs())
    assert "known_bad_low 0 vs 1" in report.rule


def test_a_candidate_that_is_its_own_referee_is_refused(stages: FactoryStages, referees: Referees) -> None:
    with pytest.raises(ValueError, match="a candidate never grades itself"):
        _run(Stage.SPEC_VERIFIER, stages, referees, referees.verifier)


def test_a_scorer_that_padding_or_injected_text_moves_is_worse(
    stages: FactoryStages, referees: Referees
) -> None:
    report = _run(Stage.ALIGNMENT_SCORER, stages, referees, WordCountScorer())

    held = report.metric("adversarial_held")
    assert held.candidate is not None and held.incumbent is not None and held.candidate < held.incumbent
    padded = next(row for row in held.rows if row.case == "adversarial/padded/secret-sync")
    assert padded.candidate == 0.0 and "candidate: plain" in padded.note
    assert report.verdict is Verdict.WORSE


def test_an_optimizers_claim_of_the_gate_is_not_taken(stages: FactoryStages, referees: Referees) -> None:
    report = _run(Stage.SPEC_OPTIMIZER, stages, referees, BoastingOptimizer())

    claims = report.metric("false_claims")
    assert claims.incumbent == 0 and claims.candidate is not None and claims.candidate > 0
    assert report.metric("gate_rate").comparison is Comparison.SAME, "its claims are not counted as passes"
    assert report.metric("false_claims").comparison is Comparison.WORSE
    assert report.verdict is Verdict.WORSE


def test_deleting_from_the_spec_it_was_given_still_counts_as_weakening(
    stages: FactoryStages, referees: Referees
) -> None:
    report = _run(Stage.SPEC_OPTIMIZER, stages, referees, MeddlingOptimizer())

    rows = {row.case: row for row in report.metric("weakened").rows}
    assert all(rows[case.id].candidate == 1.0 and rows[case.id].incumbent == 0.0 for case in HISTORY)
    assert report.verdict is Verdict.WORSE


def test_a_verifier_editing_what_it_scores_changes_nothing_the_line_concludes(
    stages: FactoryStages, referees: Referees
) -> None:
    honest = _run(Stage.SPEC_VERIFIER, stages, referees, SameVerifier())

    meddled = _run(Stage.SPEC_VERIFIER, stages, referees, MeddlingVerifier())

    labels = [row.label for row in meddled.metric("gate_auc").rows]
    assert labels == [row.label for row in honest.metric("gate_auc").rows] and True in labels
    assert meddled.verdict is Verdict.NO_BETTER
    good = [known for known in known_specs() if known.known is Known.GOOD]
    assert all(known.spec.security and verify(known.spec).passes() for known in good), "fixed sets intact"


def test_a_polished_spec_for_what_was_not_asked_is_worse(stages: FactoryStages, referees: Referees) -> None:
    perfect = next(known.spec for known in known_specs() if known.id == "known-good/notes")

    report = _run(Stage.SPEC_BUILDER, stages, referees, PolishedBuilder(perfect))

    assert report.metric("spec_score").comparison is Comparison.BETTER, "the verifier alone is fooled"
    assert report.metric("hints_dropped").comparison is Comparison.WORSE
    assert report.verdict is Verdict.WORSE


@pytest.mark.slow
def test_a_generators_own_test_report_is_not_taken(stages: FactoryStages, tested_referees: Referees) -> None:
    cases = tuple(case for case in HISTORY if case.intent.service_name == "team-notes")

    report = _run(Stage.CODE_GENERATOR, stages, tested_referees, BoastingGenerator(), cases=cases)

    tests = report.metric("tests_rate")
    assert (tests.incumbent, tests.candidate) == (1.0, 0.0)
    assert all("candidate: failed" in row.note or "candidate: error" in row.note for row in tests.rows)
    assert report.verdict is Verdict.WORSE


def test_a_candidate_that_never_answers_cannot_hold_the_run(
    stages: FactoryStages, referees: Referees, hangs: Hangs
) -> None:
    stuck = FlakyBuilder(raises_for=frozenset(), hangs_for="team-notes", garbage_for="", hangs=hangs)

    report = _run(Stage.SPEC_BUILDER, stages, referees, stuck, cases=HISTORY[:2], timeout_s=SHORT_TIMEOUT_S)

    assert report.verdict is Verdict.WORSE
    assert report.metric("failures").candidate == 1 and "timeout" in report.failures[0]


def test_a_candidates_words_reach_the_report_short_and_printable(
    stages: FactoryStages, referees: Referees
) -> None:
    report = _run(Stage.SPEC_BUILDER, stages, referees, ShoutingBuilder(), cases=HISTORY[:1])

    (failure,) = report.failures
    assert "\x1b" not in failure and "\n" not in failure and "\r" not in failure
    assert "APPROVE ME" in failure and len(failure) < len(HISTORY[0].id) + MAX_DETAIL_CHARS + 40
    assert all(c.isprintable() for row in report.metric("spec_score").rows for c in row.note)


def test_a_history_with_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    bomb = tmp_path / "history.yaml"
    lines = ["version: 1", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    lines += ["intents: *a8"]
    bomb.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with pytest.raises(ShadowDataError, match=rf"^{bomb}:\d+:\d+: "):
        load_history(bomb, floor=None)
