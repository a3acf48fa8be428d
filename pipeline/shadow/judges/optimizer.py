"""spec-optimizer: both sides optimize the SPEC the line's own builder writes for each intent, and the fixed
known SPECs; the line's own verifier judges each result (not the optimizer's claim), and the line counts
what each removed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.factory.interfaces import SpecOptimizer
from pipeline.shadow.fixed import known_specs
from pipeline.shadow.judges.specs import judged
from pipeline.shadow.metrics import FALSE_CLAIMS, FINAL_SCORE, OPTIMIZED_GATE_RATE, OPTIMIZED_ROUNDS, WEAKENED
from pipeline.shadow.model import Row
from pipeline.shadow.run import Run, private, same_service
from pipeline.spec.model import Spec
from pipeline.spec.optimizer import OptimizationReport

TOO_MANY_ROUNDS = "it reports {rounds} rounds for at most {most} (plus round 0)"
NO_ROUNDS = "it reports no round"


@dataclass(frozen=True)
class _Grade:
    score: float | None = None
    rounds: float | None = None
    passes: float | None = None
    weakened: float | None = None
    false_claim: float | None = None
    note: str = ""


def judge(run: Run, incumbent: SpecOptimizer, candidate: SpecOptimizer) -> None:
    inputs = [(ready.case.id, ready.spec) for ready in run.prepared()]
    inputs += [(known.id, known.spec) for known in known_specs()]
    for case, spec in inputs:
        pair = run.both(
            _optimizing(run, spec), incumbent, candidate, expect=OptimizationReport, check=_sound(run, spec)
        )
        run.record(case, pair)
        inc, cand = (_grade(run, spec, result.value) for _, result in pair.sides())
        note = "; ".join(n for n in (pair.note, inc.note, cand.note) if n)
        for metric, field in (
            (FINAL_SCORE, "score"),
            (OPTIMIZED_ROUNDS, "rounds"),
            (OPTIMIZED_GATE_RATE, "passes"),
            (WEAKENED, "weakened"),
            (FALSE_CLAIMS, "false_claim"),
        ):
            row = Row(case=case, incumbent=getattr(inc, field), candidate=getattr(cand, field), note=note)
            run.add(metric.name, row)


def _grade(run: Run, given: Spec, report: OptimizationReport | None) -> _Grade:
    if report is None:
        return _Grade()
    reached, problem = judged(run, report.spec, rounds=len(report.rounds) - 1)
    if reached is None:
        return _Grade(weakened=float(_removed(given, report.spec)), note=problem)
    return _Grade(
        score=reached.score,
        rounds=reached.rounds,
        passes=float(reached.passes),
        weakened=float(_removed(given, report.spec)),
        false_claim=float(report.reached_gate and not reached.passes),
    )


def _removed(given: Spec, result: Spec) -> int:
    """Ids of acceptance criteria, requirements, endpoints and NFRs in `given` that `result` lacks."""
    groups = (
        ([c.id for c in given.acceptance_criteria], {c.id for c in result.acceptance_criteria}),
        ([r.id for r in given.functional_requirements], {r.id for r in result.functional_requirements}),
        ([e.id for e in given.endpoints], {e.id for e in result.endpoints}),
        ([n.id for n in given.non_functional], {n.id for n in result.non_functional}),
    )
    return sum(len(set(before) - after) for before, after in groups)


def _optimizing(run: Run, spec: Spec) -> Callable[[SpecOptimizer], object]:
    gate, max_rounds = run.referees.gate, run.referees.max_rounds
    return lambda optimizer: optimizer.optimize(private(spec), gate=gate, max_rounds=max_rounds)


def _sound(run: Run, spec: Spec) -> Callable[[OptimizationReport], str]:
    most = run.referees.max_rounds

    def check(report: OptimizationReport) -> str:
        if not report.rounds:
            return NO_ROUNDS
        if len(report.rounds) > most + 1:
            return TOO_MANY_ROUNDS.format(rounds=len(report.rounds), most=most)
        return same_service(spec.service_name, report.spec.service_name)

    return check
