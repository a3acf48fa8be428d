"""The governance decision: a versioned, JSON-serializable value, and the function that reaches it.

Every policy evaluated is reported with its result (matched, not matched, error) and why; all matching
policies are reported with their reasons; the most restrictive action wins (blocked >
requires_approval > auto_approve); no match means requires_approval. It fails closed: any error (a rule
that cannot be evaluated, policies that did not load, no alignment score) keeps the action at
requires_approval or stricter, and the error is listed. The same inputs always give the same decision.

Words cannot buy auto-approval. An auto_approve policy whose rule reads `alignment_score` matches but is
*withheld* when the score comes from a method that cannot grant auto-approval (the lexical scorer): a
heuristic score informs, never decides. Text in the intent addressed to the scorer or the reviewer is a
finding, and any finding forces requires_approval (blocked stays blocked). The server-side floor's policies
are evaluated before the repository's, always, and marked as floor: the strictest action wins and each
requires_approval policy's own requirement must be met, so a repository can add to the floor, never weaken it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from pipeline.governance.alignment import Alignment, AlignmentMethod
from pipeline.governance.findings import Finding, find_addressed_text
from pipeline.governance.loading import PolicySet
from pipeline.governance.policy import LoadedPolicy, Location, PolicyAction, PolicyProblem
from pipeline.governance.rules import DEFAULT_LIMITS, RuleLimits
from pipeline.governance.variables import PushContext, rule_variables
from pipeline.intents import Intent

DECISION_VERSION: Literal[3] = 3
"""1: matched policies and errors only. 2 adds `evaluated`: every policy with its result. 3 adds `findings`,
`floor_digest`, and `withheld` and `floor` on each policy. Older decisions read with these empty."""

NO_MATCH = "no policy matched; a person must approve"
FAIL_CLOSED = "{count} error(s) during governance; auto-approval is withheld until they are fixed"
NO_SCORE = "the rule reads alignment_score, which could not be computed (see the alignment error)"
WON = "policy '{name}': {reason}"
RULE_FALSE = "its rule was false for this intent"
LEXICAL_ONLY_INFORMS = "auto-approval needs a model's alignment; lexical scores only inform"
"""Why a matching auto_approve policy that reads `alignment_score` did not decide (and, when nothing else
did, the decision's summary)."""
HEURISTIC_ONLY_INFORMS = "auto-approval needs a model's alignment; {method} scores only inform"
"""The same, for a scorer that is not the lexical one and has not been shown to resist padding."""
FINDINGS_FORCE_APPROVAL = (
    "{count} finding(s): the intent holds text addressed to the scorer or the reviewer; a person must approve"
)
FLOOR_SOURCE = "floor:{location}"
"""How a floor policy's source reads in a decision: `floor:policies/floor/floor.yaml:8:5`."""
ALIGNMENT_SCORE = "alignment_score"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MatchedPolicy(_Frozen):
    name: str
    action: PolicyAction
    reason: str
    approvals: int
    approvers: tuple[str, ...]
    source: str
    """file:line where the policy is written; `floor:file:line` for a policy of the server-side floor."""
    withheld: str = ""
    """Why this matching auto_approve policy did not decide (LEXICAL_ONLY_INFORMS, HEURISTIC_ONLY_INFORMS);
    empty when it counts."""
    floor: bool = False
    """A policy of the server-side floor (shipped with or configured on the bot), not the repository's."""


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
    withheld: str = ""
    """Matched, but not allowed to decide: why (see MatchedPolicy.withheld)."""
    floor: bool = False


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

    version: Literal[1, 2, 3] = DECISION_VERSION
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
    """Every policy with its result: the floor's first, then the repository's in file order (empty in
    version 1 decisions)."""
    findings: tuple[Finding, ...] = ()
    """Text in the intent addressed to the scorer or the reviewer; any one forces requires_approval."""
    floor_digest: str = ""
    """Digest of the server-side floor's policy files; empty when no floor applied."""

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Decision:
        """A decision of any version (1 to 3) as stored; fields a version lacks read as empty. Raises
        pydantic's ValidationError on one that is not a decision."""
        return cls.model_validate(data)


@dataclass(frozen=True)
class Evaluation:
    """The inputs of one decision besides the policies."""

    intent: Intent
    alignment: Alignment | None
    context: PushContext = PushContext()
    extra_errors: tuple[GovernanceError, ...] = ()


def decide(
    policies: PolicySet | None,
    evaluation: Evaluation,
    *,
    limits: RuleLimits = DEFAULT_LIMITS,
    floor: PolicySet | None = None,
) -> Decision:
    """Evaluate the floor's policies, then the repository's, and combine the outcomes. Never raises for a
    rule's sake."""
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
    sets = ((floor, True), (policies, False))
    for loaded, is_floor in ((item, is_floor) for chosen, is_floor in sets for item in _policies(chosen)):
        source = FLOOR_SOURCE.format(location=loaded.location) if is_floor else str(loaded.location)
        outcome = loaded.rule.evaluate(variables, limits)
        if outcome.error:
            message = outcome.error
            if alignment is None and ALIGNMENT_SCORE in loaded.rule.names:
                message = NO_SCORE
            errors.append(GovernanceError(policy=loaded.policy.name, source=source, message=message))
            evaluated.append(_evaluated(loaded, RuleResult.ERROR, message, source, floor=is_floor))
        elif outcome.matched:
            withheld = _withheld(loaded, alignment)
            matched.append(_matched(loaded, source, withheld=withheld, floor=is_floor))
            evaluated.append(
                _evaluated(
                    loaded,
                    RuleResult.MATCHED,
                    loaded.policy.reason,
                    source,
                    withheld=withheld,
                    floor=is_floor,
                )
            )
        else:
            evaluated.append(_evaluated(loaded, RuleResult.NOT_MATCHED, RULE_FALSE, source, floor=is_floor))
    outcome_parts = _Outcome(
        matched=tuple(matched),
        errors=tuple(errors),
        evaluated=tuple(evaluated),
        findings=find_addressed_text(evaluation.intent),
    )
    return _combine(
        evaluation,
        outcome_parts,
        digest=policies.digest if policies else "",
        floor_digest=floor.digest if floor else "",
    )


def _policies(chosen: PolicySet | None) -> tuple[LoadedPolicy, ...]:
    return chosen.policies if chosen else ()


def _withheld(loaded: LoadedPolicy, alignment: Alignment | None) -> str:
    """An auto_approve policy whose rule reads the score may not win on a score that cannot grant."""
    reads_score = ALIGNMENT_SCORE in loaded.rule.names
    if loaded.policy.action is not PolicyAction.AUTO_APPROVE or not reads_score or alignment is None:
        return ""
    if alignment.method.can_grant_auto_approval:
        return ""
    if alignment.method is AlignmentMethod.LEXICAL:
        return LEXICAL_ONLY_INFORMS
    return HEURISTIC_ONLY_INFORMS.format(method=alignment.method.value)


@dataclass(frozen=True)
class _Outcome:
    matched: tuple[MatchedPolicy, ...]
    errors: tuple[GovernanceError, ...]
    evaluated: tuple[EvaluatedPolicy, ...]
    findings: tuple[Finding, ...]


def _evaluated(
    loaded: LoadedPolicy,
    result: RuleResult,
    reason: str,
    source: str,
    *,
    withheld: str = "",
    floor: bool = False,
) -> EvaluatedPolicy:
    return EvaluatedPolicy(
        name=loaded.policy.name,
        result=result,
        action=loaded.policy.action,
        rule=loaded.policy.rule,
        reason=reason,
        source=source,
        withheld=withheld,
        floor=floor,
    )


def _matched(loaded: LoadedPolicy, source: str, *, withheld: str, floor: bool) -> MatchedPolicy:
    policy = loaded.policy
    return MatchedPolicy(
        name=policy.name,
        action=policy.action,
        reason=policy.reason,
        approvals=policy.required_approvals(),
        approvers=policy.approvers,
        source=source,
        withheld=withheld,
        floor=floor,
    )


def _combine(evaluation: Evaluation, outcome: _Outcome, *, digest: str, floor_digest: str) -> Decision:
    action, summary = _action(outcome)
    deciding = [m for m in outcome.matched if m.action is PolicyAction.REQUIRES_APPROVAL]
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
        matched=outcome.matched,
        errors=outcome.errors,
        approvals_required=approvals,
        approvers=tuple(approvers),
        alignment=AlignmentReport(
            score=alignment.score if alignment else None,
            method=alignment.method if alignment else None,
            rationale=alignment.rationale if alignment else "",
            model=alignment.model if alignment else "",
        ),
        policy_digest=digest,
        evaluated=outcome.evaluated,
        findings=outcome.findings,
        floor_digest=floor_digest,
    )


def _action(outcome: _Outcome) -> tuple[PolicyAction, str]:
    """The strictest policy that may decide wins; an auto_approve still gives way to findings and errors, and
    withheld policies alone leave the decision to a person."""
    deciding = [m for m in outcome.matched if not m.withheld]
    # The first policy (floor first, then file order) with the strictest action explains the decision.
    strictest = max(deciding, key=lambda m: m.action.severity) if deciding else None
    if strictest is not None and strictest.action is not PolicyAction.AUTO_APPROVE:
        return strictest.action, WON.format(name=strictest.name, reason=strictest.reason)
    if outcome.findings:
        return PolicyAction.REQUIRES_APPROVAL, FINDINGS_FORCE_APPROVAL.format(count=len(outcome.findings))
    if strictest is None:
        withheld = next((m.withheld for m in outcome.matched if m.withheld), "")
        return PolicyAction.REQUIRES_APPROVAL, withheld or NO_MATCH
    if outcome.errors:
        return PolicyAction.REQUIRES_APPROVAL, FAIL_CLOSED.format(count=len(outcome.errors))
    return PolicyAction.AUTO_APPROVE, WON.format(name=strictest.name, reason=strictest.reason)


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
