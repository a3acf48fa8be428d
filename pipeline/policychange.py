"""A change to what governs the line (its policies, its blueprint): governed before it applies, with a plan.

A pull request that changes `policies/` or `BLUEPRINT.md` is a self-modification of the line. It is
governed by the policies in force (its base's, plus the bot's floor), never by the ones it brings: the
subject is the line's own governance stage, so `is_self_modification` is true, and `changed_files` are the
pull request's. A policy change has no alignment score, so rules that read one do not apply to it; it is
never auto-approved, and when no policy names a requirement it needs two approvals.

Like a plan before an apply, `plan_change` replays recent intents under the policies in force and under
the proposed ones, and lists the decisions that would change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.governance import Decision, PolicyAction, PushContext
from pipeline.governance.alignment import Alignment
from pipeline.governance.decision import (
    NO_SCORE,
    EvaluatedPolicy,
    Evaluation,
    MatchedPolicy,
    RuleResult,
    decide,
)
from pipeline.governance.loading import PolicySet
from pipeline.intents import Intent

SUBJECT = "governance"
"""The stage a policy change modifies: one of the line's own (`is_self_modification`)."""
SUBJECT_PURPOSE = "Change what governs the line: {files}"
DEFAULT_APPROVALS = 2
DEFAULT_POLICY = "Policy changes are self-modifications"
DEFAULT_REASON = (
    "A change to the policies or the blueprint changes how every later intent is governed; two people "
    "sign it off."
)
DEFAULT_SOURCE = "intentops (built in)"
NOT_APPLICABLE = "reads alignment_score, which a policy change does not have"
DEFAULT_PLAN_SIZE = 50


def change_decision(
    policies: PolicySet | None,
    *,
    files: Sequence[str],
    author: str,
    floor: PolicySet | None,
) -> Decision:
    """The decision on a change of `files` (policy files, BLUEPRINT.md) under the policies in force."""
    subject = Intent(
        service_name=SUBJECT,
        purpose=SUBJECT_PURPOSE.format(files=", ".join(files) or "nothing"),
        tier=0,
        auto_build=False,
    )
    context = PushContext.of(author=author, changed_files=files)
    decided = decide(policies, Evaluation(intent=subject, alignment=None, context=context), floor=floor)
    return _without_alignment(decided)


def _without_alignment(decided: Decision) -> Decision:
    """Rules that failed only for want of an alignment score do not apply; the action is at least
    requires_approval, with two approvals unless a policy asks for its own."""
    errors = tuple(e for e in decided.errors if e.message != NO_SCORE)
    evaluated = tuple(_not_applicable(e) if e.reason == NO_SCORE else e for e in decided.evaluated)
    matched = tuple(m for m in decided.matched if m.action is not PolicyAction.AUTO_APPROVE)
    if any(m.action is PolicyAction.BLOCKED for m in matched):
        return decided.model_copy(update={"errors": errors, "evaluated": evaluated, "matched": matched})
    deciding = [m for m in matched if m.action is PolicyAction.REQUIRES_APPROVAL]
    if not deciding:
        deciding = [
            MatchedPolicy(
                name=DEFAULT_POLICY,
                action=PolicyAction.REQUIRES_APPROVAL,
                reason=DEFAULT_REASON,
                approvals=DEFAULT_APPROVALS,
                approvers=(),
                source=DEFAULT_SOURCE,
            )
        ]
        matched = (*matched, *deciding)
    first = max(deciding, key=lambda m: m.approvals)
    named_only = all(m.approvers for m in deciding)
    return decided.model_copy(
        update={
            "action": PolicyAction.REQUIRES_APPROVAL,
            "summary": f"policy '{first.name}': {first.reason}",
            "matched": matched,
            "errors": errors,
            "evaluated": evaluated,
            "approvals_required": max(m.approvals for m in deciding),
            "approvers": tuple(sorted({a for m in deciding for a in m.approvers})) if named_only else (),
        }
    )


def _not_applicable(evaluated: EvaluatedPolicy) -> EvaluatedPolicy:
    return evaluated.model_copy(update={"result": RuleResult.NOT_MATCHED, "reason": NOT_APPLICABLE})


@dataclass(frozen=True)
class PastIntent:
    """An intent the line governed recently, with what it needs to be decided again."""

    path: str
    intent: Intent
    alignment: Alignment | None
    author: str


@dataclass(frozen=True)
class PlanChange:
    service_name: str
    path: str
    before: PolicyAction
    after: PolicyAction


@dataclass(frozen=True)
class Plan:
    """What the proposed policies would decide differently for the intents considered."""

    considered: int
    changes: tuple[PlanChange, ...]
    unreadable: tuple[str, ...] = ()
    """Intents that could not be decided again (their file at that commit no longer loads)."""

    def newly(self, action: PolicyAction) -> list[PlanChange]:
        return [change for change in self.changes if change.after is action]

    def summary(self) -> str:
        """`would newly block 3: a, b, c; newly require approval 0; newly auto-approve 0`."""
        parts = []
        for action, verb in (
            (PolicyAction.BLOCKED, "block"),
            (PolicyAction.REQUIRES_APPROVAL, "require approval for"),
            (PolicyAction.AUTO_APPROVE, "auto-approve"),
        ):
            changed = self.newly(action)
            names = ", ".join(c.service_name for c in changed)
            parts.append(f"newly {verb} {len(changed)}" + (f": {names}" if names else ""))
        return "would " + "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "considered": self.considered,
            "summary": self.summary(),
            "changes": [
                {
                    "service_name": c.service_name,
                    "path": c.path,
                    "before": c.before.value,
                    "after": c.after.value,
                }
                for c in self.changes
            ],
            "unreadable": list(self.unreadable),
        }


def plan_change(
    intents: Iterable[PastIntent],
    *,
    current: PolicySet | None,
    proposed: PolicySet | None,
    floor: PolicySet | None,
    proposed_alignment: dict[str, Alignment | None] | None = None,
    unreadable: Sequence[str] = (),
) -> Plan:
    """Decide each intent under the policies in force and under the proposed ones; list the differences.

    `proposed_alignment` (path -> alignment) replaces an intent's alignment under the proposed policies,
    for a change that also changes the blueprint it is scored against."""
    considered = 0
    changes: list[PlanChange] = []
    for past in intents:
        considered += 1
        context = PushContext.of(author=past.author, changed_files=(past.path,))
        before = decide(current, Evaluation(past.intent, past.alignment, context), floor=floor)
        alignment = (proposed_alignment or {}).get(past.path, past.alignment)
        after = decide(proposed, Evaluation(past.intent, alignment, context), floor=floor)
        if before.action is not after.action:
            changes.append(PlanChange(past.intent.service_name, past.path, before.action, after.action))
    return Plan(considered=considered, changes=tuple(changes), unreadable=tuple(unreadable))
