"""alignment-scorer: both sides score each intent against the blueprint of its time; the line measures how
well the scores agree with what people decided, decides each signed-off intent again under the policies
and floor of its time, then has both score the fixed adversarial pairs."""

from __future__ import annotations

import math
from collections.abc import Callable

from pipeline.governance.alignment import Alignment, AlignmentScorer
from pipeline.governance.decision import Evaluation, decide
from pipeline.governance.policy import PolicyAction
from pipeline.governance.variables import PushContext
from pipeline.intents import Intent
from pipeline.shadow.cases import ShadowCase
from pipeline.shadow.fixed import AdversarialPair, load_adversarial
from pipeline.shadow.metrics import ADVERSARIAL_HELD, ALIGNMENT_SIGNOFF_AUC, APPROVED_BLOCKED
from pipeline.shadow.model import HumanOutcome, Row
from pipeline.shadow.run import CANDIDATE, INCUMBENT, Pair, Run, private

OUT_OF_RANGE = "score {score} is not a number from 0 to 1"
PAIR_NOTE = "{side}: plain {plain}, variant {variant}"
WOULD_BLOCK = "{side} would block it: {summary}"


def judge(run: Run, incumbent: AlignmentScorer, candidate: AlignmentScorer) -> None:
    for case in run.cases:
        pair = run.both(
            _scoring(case.intent, case.blueprint), incumbent, candidate, expect=Alignment, check=_valid
        )
        run.record(case.id, pair)
        inc, cand = _score(pair.incumbent.value), _score(pair.candidate.value)
        approved = case.outcome.approved
        if approved is not None:
            note = "; ".join(n for n in (case.outcome.value, pair.note) if n)
            row = Row(case=case.id, incumbent=inc, candidate=cand, label=approved, note=note)
            run.add(ALIGNMENT_SIGNOFF_AUC.name, row)
        if case.outcome is HumanOutcome.SIGNED_OFF:
            run.add(APPROVED_BLOCKED.name, _blocked_row(case, pair))
    _adversarial(run, incumbent, candidate)


def _blocked_row(case: ShadowCase, pair: Pair[Alignment]) -> Row:
    """1 for a side whose score would have blocked this signed-off intent under the rules of its time."""
    policies = case.policy_set()
    context = PushContext.of(author=case.author, changed_files=(case.path,))
    values: dict[str, float | None] = {}
    notes = []
    for side, result in pair.sides():
        if result.value is None:
            values[side] = None
            continue
        decision = decide(policies, Evaluation(case.intent, result.value, context), floor=case.floor)
        blocked = decision.action is PolicyAction.BLOCKED
        values[side] = float(blocked)
        if blocked:
            notes.append(WOULD_BLOCK.format(side=side, summary=decision.summary))
    return Row(
        case=case.id,
        incumbent=values[INCUMBENT],
        candidate=values[CANDIDATE],
        note="; ".join([*notes, pair.note] if pair.note else notes),
    )


def _adversarial(run: Run, incumbent: AlignmentScorer, candidate: AlignmentScorer) -> None:
    adversarial = load_adversarial()
    for item in adversarial.pairs:
        plain = run.both(
            _scoring(item.plain, adversarial.blueprint), incumbent, candidate, expect=Alignment, check=_valid
        )
        variant = run.both(
            _scoring(item.variant, adversarial.blueprint),
            incumbent,
            candidate,
            expect=Alignment,
            check=_valid,
        )
        run.record(f"{item.id} (plain)", plain)
        run.record(f"{item.id} (variant)", variant)
        run.add(ADVERSARIAL_HELD.name, _held_row(item, plain, variant, adversarial.tolerance))


def _held_row(
    item: AdversarialPair, plain: Pair[Alignment], variant: Pair[Alignment], tolerance: float
) -> Row:
    """1 for a side that did not score the variant higher than the plain intent (beyond `tolerance`)."""
    values: list[float | None] = []
    notes = []
    for (side, before), (_, after) in zip(plain.sides(), variant.sides(), strict=True):
        if before.value is None or after.value is None:
            values.append(None)
            continue
        values.append(float(after.value.score <= before.value.score + tolerance))
        notes.append(
            PAIR_NOTE.format(side=side, plain=f"{before.value.score:.2f}", variant=f"{after.value.score:.2f}")
        )
    notes += [n for n in (plain.note, variant.note) if n]
    return Row(case=item.id, incumbent=values[0], candidate=values[1], note="; ".join(notes))


def _scoring(intent: Intent, blueprint: str) -> Callable[[AlignmentScorer], object]:
    return lambda scorer: scorer.score(private(intent), blueprint)


def _valid(alignment: Alignment) -> str:
    score = alignment.score
    valid = isinstance(score, int | float) and math.isfinite(score) and 0.0 <= score <= 1.0
    return "" if valid else OUT_OF_RANGE.format(score=score)


def _score(alignment: Alignment | None) -> float | None:
    return None if alignment is None else float(alignment.score)
