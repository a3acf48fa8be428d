"""The governance decision: a versioned, JSON-serializable value, and the function that reaches it.

Every policy evaluated is reported with its result (matched, not matched, error) and why; all matching
policies are reported with their reasons; the most restrictive action wins (blocked >
requires_approval > auto_approve); no match means requires_approval. It fails closed: any error (a rule
that cannot be evaluated, policies that did not load, no alignment score) keeps the action at
requires_approval or stricter, and the error is listed. The same inputs always give the same decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from pipeline.governance.alignment import Alignment, AlignmentMethod
from pipeline.governance.loading import PolicySet
from pipeline.governance.policy import LoadedPolicy, Location, PolicyAction, PolicyProblem
from pipeline.governance.rules import DEFAULT_LIMITS, RuleLimits
from pipeline.governance.variables import PushContext, rule_variables
from pipeline.intents import Intent

DECISION_VERSION: Literal[2] = 2
"""1: matched policies and errors only. 2 adds `evaluated`: every policy with its result. Readers of version 1
find `evaluated` empty."""

NO_MATCH = "no policy matched; a person must approve"
FAIL_CLOSED = "{count} error(s) during governance; auto-approval is withheld until they are fixed"
NO_SCORE = "the rule reads alignment_score, which could not be computed (see the alignment error)"
WON = "policy '{name}': {reason}"
RULE_FALSE = "its rule was false for this intent"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MatchedPolicy(_Frozen):
    name: str
    action: PolicyAction
    reason: str
    approvals: int
    approvers: tuple[str, ...]
    source: str
    """file:line where the policy is written."""


class RuleResult(StrEnum):
    MATCHED = "matched"
    NOT_MATCHED = "not_matched"
    ERROR = "error"


class EvaluatedPolicy(_Frozen):
    """One policy as evaluated for this intent, whatever the outcome."""

    name: str
    result: RuleResult
    action: PolicyAction
    """The action the policy takes when it matches."""
    rule: str
    reason: str
    """Matched: the policy's reason; not matched: RULE_FALSE; error: what went wrong."""
    source: str


class GovernanceError(_Frozen):
    policy: str
    """The policy whose rule failed; empty for errors outside one policy (loading, alignment)."""
    source: str
    message: str

    def __str__(self) -> str:
        subject = f"policy '{self.policy}': " if self.policy else ""
        return f"{self.source}: {subject}{self.message}" if self.source else f"{subject}{self.message}"


class AlignmentReport(_Frozen):
    score: float | None
    method: AlignmentMethod | None
    rationale: str
    model: str = ""


class Decision(_Frozen):
    """What governance decided about one intent, and everything needed to explain it."""

    version: Literal[1, 2] = DECISION_VERSION
    service_name: str
    action: PolicyAction
    summary: str
    matched: tuple[MatchedPolicy, ...]
    errors: tuple[GovernanceError, ...]
    approvals_required: int
    approvers: tuple[str, ...]
    alignment: AlignmentReport
    policy_digest: str
    evaluated: tuple[EvaluatedPolicy, ...] = ()
    """Every policy in file order with its result (empty in version 1 decisions)."""

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class Evaluation:
    """The inputs of one decision besides the policies."""

    intent: Intent
    alignment: Alignment | None
    context: PushContext = PushContext()
    extra_errors: tuple[GovernanceError, ...] = ()


def decide(
    policies: PolicySet | None, evaluation: Evaluation, *, limits: RuleLimits = DEFAULT_LIMITS
) -> Decision:
    """Evaluate every policy and combine the outcomes. Never raises for a rule's sake."""
    alignment = evaluation.alignment
    variables = rule_variables(
        evaluation.intent,
        evaluation.context,
        alignment_score=alignment.score if alignment else None,
        alignment_method=alignment.method.value if alignment else "",
    )
    matched: list[MatchedPolicy] = []
    errors = list(evaluation.extra_errors)
    evaluated: list[EvaluatedPolicy] = []
    for loaded in policies.policies if policies else ():
        outcome = loaded.rule.evaluate(variables, limits)
        if outcome.error:
            message = outcome.error
            if alignment is None and "alignment_score" in loaded.rule.names:
                message = NO_SCORE
            errors.append(
                GovernanceError(policy=loaded.policy.name, source=str(loaded.location), message=message)
            )
            evaluated.append(_evaluated(loaded, RuleResult.ERROR, message))
        elif outcome.matched:
            matched.append(_matched(loaded))
            evaluated.append(_evaluated(loaded, RuleResult.MATCHED, loaded.policy.reason))
        else:
            evaluated.append(_evaluated(loaded, RuleResult.NOT_MATCHED, RULE_FALSE))
    return _combine(evaluation, matched, errors, evaluated, policies.digest if policies else "")


def _evaluated(loaded: LoadedPolicy, result: RuleResult, reason: str) -> EvaluatedPolicy:
    return EvaluatedPolicy(
        name=loaded.policy.name,
        result=result,
        action=loaded.policy.action,
        rule=loaded.policy.rule,
        reason=reason,
        source=str(loaded.location),
    )


def _matched(loaded: LoadedPolicy) -> MatchedPolicy:
    policy = loaded.policy
    return MatchedPolicy(
        name=policy.name,
        action=policy.action,
        reason=policy.reason,
        approvals=policy.required_approvals(),
        approvers=policy.approvers,
        source=str(loaded.location),
    )


def _combine(
    evaluation: Evaluation,
    matched: Sequence[MatchedPolicy],
    errors: Sequence[GovernanceError],
    evaluated: Sequence[EvaluatedPolicy],
    digest: str,
) -> Decision:
    action, summary = _action(matched, errors)
    deciding = [m for m in matched if m.action is PolicyAction.REQUIRES_APPROVAL]
    approvals = max([1, *(m.approvals for m in deciding)]) if action is PolicyAction.REQUIRES_APPROVAL else 0
    # Each matching policy's own requirement (in `matched`) must be met; these two fields only summarize
    # them: the least number of distinct approvers, and who may approve (anyone with write permission as soon
    # as one policy names nobody, so that policy's requirement can be met by any maintainer).
    named_only = all(m.approvers for m in deciding)
    approvers = sorted({a for m in deciding for a in m.approvers}) if approvals and named_only else []
    alignment = evaluation.alignment
    return Decision(
        service_name=evaluation.intent.service_name,
        action=action,
        summary=summary,
        matched=tuple(matched),
        errors=tuple(errors),
        approvals_required=approvals,
        approvers=tuple(approvers),
        alignment=AlignmentReport(
            score=alignment.score if alignment else None,
            method=alignment.method if alignment else None,
            rationale=alignment.rationale if alignment else "",
            model=alignment.model if alignment else "",
        ),
        policy_digest=digest,
        evaluated=tuple(evaluated),
    )


def _action(matched: Sequence[MatchedPolicy], errors: Sequence[GovernanceError]) -> tuple[PolicyAction, str]:
    if matched:
        # The first policy (in file order) with the strictest action explains the decision.
        strictest = max(matched, key=lambda m: m.action.severity)
        action, summary = (
            strictest.action,
            WON.format(name=strictest.name, reason=strictest.reason),
        )
    else:
        action, summary = PolicyAction.REQUIRES_APPROVAL, NO_MATCH
    if errors and action is PolicyAction.AUTO_APPROVE:
        return PolicyAction.REQUIRES_APPROVAL, FAIL_CLOSED.format(count=len(errors))
    return action, summary


def load_errors(problems: Sequence[PolicyProblem]) -> tuple[GovernanceError, ...]:
    """Policy files that did not load, as decision errors (the decision still lists them)."""
    return tuple(
        GovernanceError(
            policy="",
            source=str(Location(problem.file, problem.line, problem.column)),
            message=problem.message,
        )
        for problem in problems
    )
