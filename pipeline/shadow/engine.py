"""The shadow evaluation: a candidate implementation of a stage runs beside the incumbent on recent real
intents, and the line judges both with the metrics it declared for the stage.

Nothing the candidate returns is used by the line, and the candidate never grades: the referees (the line's
own stages) prepare each case and grade both sides' answers, and the line computes every figure. An error,
a timeout or an answer outside the contract counts against the side that gave it; it never stops the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pipeline.factory.contracts import Stage
from pipeline.shadow.calls import DEFAULT_CALL_TIMEOUT_S
from pipeline.shadow.cases import ShadowCase
from pipeline.shadow.judges import builder, generator, optimizer, scorer, verifier
from pipeline.shadow.judges.specs import NO_SANDBOX
from pipeline.shadow.metrics import metrics_for
from pipeline.shadow.model import ShadowReport
from pipeline.shadow.run import Referees, Run
from pipeline.shadow.scoring import decide, measure

BUILTIN = "builtin"
GRADES_ITSELF = (
    "the candidate is one of the referees (the line's own {role}): a candidate never grades itself; "
    "judge it with the line's current stages"
)
NOT_THE_STAGE = "the {side} is not a {stage}: it has no {method}()"
BAD_TIMEOUT = "the call timeout must be positive, not {timeout}"

_METHODS = {
    Stage.ALIGNMENT_SCORER: "score",
    Stage.SPEC_BUILDER: "build",
    Stage.SPEC_VERIFIER: "verify",
    Stage.SPEC_OPTIMIZER: "optimize",
    Stage.CODE_GENERATOR: "generate",
}
_JUDGES: dict[Stage, Callable[..., None]] = {
    Stage.ALIGNMENT_SCORER: scorer.judge,
    Stage.SPEC_BUILDER: builder.judge,
    Stage.SPEC_VERIFIER: verifier.judge,
    Stage.SPEC_OPTIMIZER: optimizer.judge,
    Stage.CODE_GENERATOR: generator.judge,
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def evaluate(
    stage: Stage,
    *,
    incumbent: object,
    candidate: object,
    cases: Sequence[ShadowCase],
    referees: Referees,
    incumbent_name: str = BUILTIN,
    candidate_name: str = "candidate",
    source: str = "",
    run_tests: bool = False,
    timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
    skipped: Sequence[str] = (),
    clock: Callable[[], datetime] = utcnow,
) -> ShadowReport:
    """Run `candidate` beside `incumbent` (both implementations of `stage`'s interface,
    `pipeline.factory.interfaces`) on `cases` and the stage's fixed sets, graded by `referees`.

    `run_tests` (spec-builder only; costly) also generates and tests each SPEC at the gate; it and the
    code-generator stage need `referees.sandbox_for` and `referees.workdir`. Each call of either side
    gets at most `timeout_s`. `skipped`: intents left out before the run, and why (`PickedCases.skipped`),
    listed in the report. Raises ValueError for arguments that cannot make an evaluation (a candidate
    that is one of the referees, an implementation of another stage); never for what the candidate does.
    """
    _check(stage, incumbent=incumbent, candidate=candidate, timeout_s=timeout_s)
    _refuse_self_grading(candidate, referees.graders(stage, run_tests=run_tests))
    tested = (run_tests and stage is Stage.SPEC_BUILDER) or stage is Stage.CODE_GENERATOR
    if tested and (referees.sandbox_for is None or referees.workdir is None):
        raise ValueError(NO_SANDBOX)
    started, began = clock(), time.monotonic()
    run = Run(cases=cases, referees=referees, timeout_s=timeout_s, run_tests=run_tests, skipped=list(skipped))
    _JUDGES[stage](run, incumbent, candidate)
    results = [
        measure(metric, run.rows.get(metric.name, []))
        for metric in metrics_for(stage, run_tests=tested and stage is Stage.SPEC_BUILDER)
    ]
    verdict, rule = decide(results)
    return ShadowReport(
        stage=stage,
        incumbent=incumbent_name,
        candidate=candidate_name,
        source=source,
        cases=tuple(case.summary() for case in cases),
        metrics=tuple(results),
        verdict=verdict,
        rule=rule,
        failures=tuple(run.failures),
        skipped=tuple(run.skipped),
        started_at=started,
        duration_ms=int((time.monotonic() - began) * 1000),
    )


def _check(stage: Stage, *, incumbent: object, candidate: object, timeout_s: float) -> None:
    if not timeout_s > 0:
        raise ValueError(BAD_TIMEOUT.format(timeout=timeout_s))
    method = _METHODS[stage]
    for side, implementation in (("incumbent", incumbent), ("candidate", candidate)):
        if not callable(getattr(implementation, method, None)):
            raise ValueError(NOT_THE_STAGE.format(side=side, stage=stage.value, method=method))


def _refuse_self_grading(candidate: object, graders: dict[str, object]) -> None:
    for role, grader in graders.items():
        if candidate is grader or _equal(candidate, grader):
            raise ValueError(GRADES_ITSELF.format(role=role))


def _equal(candidate: object, grader: object) -> bool:
    """The same implementation, however it was made (an HTTP client to the same service, the same built-in
    with the same settings)."""
    return type(candidate) is type(grader) and bool(candidate == grader)
