"""Governing one intent: score its alignment, evaluate the floor's and the repository's policies, decide.
The entry point callers use."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.governance.alignment import Alignment, AlignmentScorer, AlignmentUnavailable, GivenScore
from pipeline.governance.decision import Decision, Evaluation, GovernanceError, decide, load_errors
from pipeline.governance.loading import PolicySet
from pipeline.governance.policy import PolicyProblem
from pipeline.governance.rules import DEFAULT_LIMITS, RuleLimits
from pipeline.governance.variables import PushContext
from pipeline.intents import Intent

NO_CONTEXT = PushContext()
NO_BLUEPRINT = "no BLUEPRINT.md was found, so alignment cannot be scored"


def govern(
    intent: Intent,
    policies: PolicySet | None,
    *,
    scorer: AlignmentScorer,
    blueprint: str | None,
    context: PushContext = NO_CONTEXT,
    policy_problems: Sequence[PolicyProblem] = (),
    limits: RuleLimits = DEFAULT_LIMITS,
    floor: PolicySet | None = None,
) -> Decision:
    """Decide on `intent` under `policies` (None: no set has ever loaded, so nothing can approve).

    `floor`: the server-side floor (`load_floor`), evaluated before `policies` and always, also when
    `policies` is None; None means no floor (experiments, policy tests that opt out).
    `policy_problems` are load errors of the newest policy files when an older set stays in force; they
    are listed in the decision and withhold auto-approval. Alignment errors do the same.
    """
    errors = list(load_errors(policy_problems))
    alignment, alignment_error = _score(intent, scorer, blueprint)
    if alignment_error:
        errors.append(GovernanceError(policy="", source="alignment", message=alignment_error))
    evaluation = Evaluation(intent=intent, alignment=alignment, context=context, extra_errors=tuple(errors))
    return decide(policies, evaluation, limits=limits, floor=floor)


def _score(intent: Intent, scorer: AlignmentScorer, blueprint: str | None) -> tuple[Alignment | None, str]:
    if blueprint is None and not isinstance(scorer, GivenScore):
        return None, NO_BLUEPRINT
    try:
        return scorer.score(intent, blueprint or ""), ""
    except AlignmentUnavailable as exc:
        return None, str(exc)
