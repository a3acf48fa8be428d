"""spec-verifier: both sides score the SPEC the line's own builder writes for each intent; the line computes
how well those scores predict what happened next (the gate after the line's optimizer, people's sign-off),
then both score the fixed known SPECs, where the right answer is known beforehand."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.factory.interfaces import SpecVerifier
from pipeline.shadow.fixed import Known, known_specs
from pipeline.shadow.judges.specs import reach_gate
from pipeline.shadow.metrics import GATE_AUC, KNOWN_BAD_LOW, KNOWN_GOOD_PASS, SIGNOFF_AUC
from pipeline.shadow.model import Row
from pipeline.shadow.run import Pair, Run, private
from pipeline.spec.model import Spec
from pipeline.spec.verifier import Verification

OUT_OF_RANGE = "score {score} is outside 0-100"
REACHED = "reaches the gate after the line's optimizer"
NOT_REACHED = "stays below the gate after the line's optimizer"


def judge(run: Run, incumbent: SpecVerifier, candidate: SpecVerifier) -> None:
    for ready in run.prepared():
        case = ready.case
        reached, problem = reach_gate(run, ready.spec)
        pair = run.both(_verifying(ready.spec), incumbent, candidate, expect=Verification, check=_in_range)
        run.record(case.id, pair)
        inc, cand = _score(pair.incumbent.value), _score(pair.candidate.value)
        if reached is not None:
            note = "; ".join(n for n in (REACHED if reached.passes else NOT_REACHED, pair.note) if n)
            run.add(
                GATE_AUC.name,
                Row(case=case.id, incumbent=inc, candidate=cand, label=reached.passes, note=note),
            )
        else:
            run.skipped.append(f"{case.id}: {problem}")
        approved = case.outcome.approved
        if approved is not None:
            note = "; ".join(n for n in (case.outcome.value, pair.note) if n)
            run.add(
                SIGNOFF_AUC.name, Row(case=case.id, incumbent=inc, candidate=cand, label=approved, note=note)
            )
    _known(run, incumbent, candidate)


def _known(run: Run, incumbent: SpecVerifier, candidate: SpecVerifier) -> None:
    for known in known_specs():
        pair = run.both(_verifying(known.spec), incumbent, candidate, expect=Verification, check=_in_range)
        run.record(known.id, pair)
        metric = KNOWN_BAD_LOW if known.known is Known.BAD else KNOWN_GOOD_PASS
        run.add(metric.name, _known_row(run, known.id, pair, good=known.known is Known.GOOD))


def _known_row(run: Run, case: str, pair: Pair[Verification], *, good: bool) -> Row:
    """1 when the side read the known SPEC right (passes the gate if good, does not if bad)."""
    gate = run.referees.gate

    def right(verification: Verification | None) -> float | None:
        return None if verification is None else float(verification.passes(gate) == good)

    scores = ", ".join(
        f"{side} {result.value.score}" for side, result in pair.sides() if result.value is not None
    )
    note = "; ".join(n for n in (scores, pair.note) if n)
    return Row(
        case=case, incumbent=right(pair.incumbent.value), candidate=right(pair.candidate.value), note=note
    )


def _verifying(spec: Spec) -> Callable[[SpecVerifier], object]:
    return lambda verifier: verifier.verify(private(spec))


def _in_range(verification: Verification) -> str:
    return "" if 0 <= verification.score <= 100 else OUT_OF_RANGE.format(score=verification.score)


def _score(verification: Verification | None) -> float | None:
    return None if verification is None else float(verification.score)
