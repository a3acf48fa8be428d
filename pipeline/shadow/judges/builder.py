"""spec-builder: both sides build each intent's SPEC; the line's own verifier, optimizer (and, with tests,
generator and sandbox) say what each SPEC is worth downstream."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.factory.interfaces import SpecBuilder
from pipeline.shadow.cases import ShadowCase
from pipeline.shadow.judges.specs import dropped_hints, reach_gate, score, tested
from pipeline.shadow.metrics import GATE_RATE, HINTS_DROPPED, ROUNDS_TO_GATE, SPEC_SCORE, TESTS_RATE
from pipeline.shadow.model import Row
from pipeline.shadow.run import CANDIDATE, INCUMBENT, Run, build_call, same_service
from pipeline.spec.model import Spec

BELOW_GATE = "below the gate: no code would be generated"


@dataclass(frozen=True)
class _Grade:
    score: float | None = None
    rounds: float | None = None
    passes: bool | None = None
    dropped: float | None = None
    tests: bool | None = None
    note: str = ""


def judge(run: Run, incumbent: SpecBuilder, candidate: SpecBuilder) -> None:
    for index, case in enumerate(run.cases):
        pair = run.both(_building(case), incumbent, candidate, expect=Spec, check=_for(case))
        run.record(case.id, pair)
        inc, cand = (
            _grade(run, case, result.value, folder=f"{side}/{index:02d}") if result.value else _Grade()
            for side, result in pair.sides()
        )
        _rows(run, case.id, inc, cand, pair.note)


def _building(case: ShadowCase) -> Callable[[SpecBuilder], object]:
    return lambda builder: build_call(builder, case)()


def _for(case: ShadowCase) -> Callable[[Spec], str]:
    return lambda spec: same_service(case.intent.service_name, spec.service_name)


def _grade(run: Run, case: ShadowCase, spec: Spec, *, folder: str) -> _Grade:
    verification, problem = score(run, spec)
    reached, reach_problem = reach_gate(run, spec)
    grade = _Grade(
        score=float(verification.score) if verification else None,
        rounds=reached.rounds if reached else None,
        passes=reached.passes if reached else None,
        dropped=float(dropped_hints(case.intent, spec)),
        note=problem or reach_problem,
    )
    if not run.run_tests or reached is None:
        return grade
    if not reached.passes:
        return _with(grade, tests=False, note=grade.note or BELOW_GATE)
    workdir = run.referees.workdir
    assert workdir is not None  # checked before the run
    result, test_problem = tested(
        run, reached.spec, workdir / folder / spec.service_name, intent_path=case.path
    )
    return _with(grade, tests=bool(result and result.ok), note=grade.note or test_problem)


def _with(grade: _Grade, *, tests: bool, note: str) -> _Grade:
    return _Grade(grade.score, grade.rounds, grade.passes, grade.dropped, tests, note)


def _rows(run: Run, case: str, inc: _Grade, cand: _Grade, note: str) -> None:
    notes = "; ".join(n for n in (note, _side(INCUMBENT, inc), _side(CANDIDATE, cand)) if n)
    run.add(SPEC_SCORE.name, Row(case=case, incumbent=inc.score, candidate=cand.score, note=notes))
    run.add(ROUNDS_TO_GATE.name, Row(case=case, incumbent=inc.rounds, candidate=cand.rounds, note=notes))
    run.add(GATE_RATE.name, Row(case=case, incumbent=_flag(inc.passes), candidate=_flag(cand.passes)))
    run.add(HINTS_DROPPED.name, Row(case=case, incumbent=inc.dropped, candidate=cand.dropped))
    if run.run_tests:
        run.add(
            TESTS_RATE.name,
            Row(case=case, incumbent=_flag(inc.tests), candidate=_flag(cand.tests), note=notes),
        )


def _side(side: str, grade: _Grade) -> str:
    return f"{side}: {grade.note}" if grade.note else ""


def _flag(value: bool | None) -> float | None:
    return None if value is None else float(value)
