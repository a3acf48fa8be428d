"""A change to the policies: decided by the policies in force (never its own), and planned on past intents."""

from __future__ import annotations

from pipeline.governance import PolicyAction
from pipeline.governance.alignment import Alignment, AlignmentMethod
from pipeline.governance.floor import load_floor
from pipeline.governance.loading import PolicySet, load_policy_sources
from pipeline.intents import Intent
from pipeline.policychange import DEFAULT_POLICY, PastIntent, change_decision, plan_change
from tests.conftest import ROOT

APPROVE_EVERYTHING = b"""\
policies:
  - name: Approve everything
    rule: "true"
    action: auto_approve
    reason: anything goes
"""
BLOCK_NOTES = b"""\
policies:
  - name: No more notes
    rule: service_name == 'notes'
    action: blocked
    reason: notes live elsewhere
"""


def shipped() -> dict[str, bytes]:
    return {f"policies/{p.name}": p.read_bytes() for p in (ROOT / "policies").iterdir() if p.is_file()}


def policies(**extra: bytes) -> PolicySet:
    return load_policy_sources({**shipped(), **{f"policies/{k}.yaml": v for k, v in extra.items()}})


def test_a_policy_change_needs_two_people_under_the_floor_and_never_auto_approves() -> None:
    current = policies(allow=APPROVE_EVERYTHING)  # even an "approve everything" in force does not pass it

    decision = change_decision(current, files=["policies/block.yaml"], author="alice", floor=load_floor(None))

    assert decision.action is PolicyAction.REQUIRES_APPROVAL
    assert decision.approvals_required == 2
    assert "Self-modification needs two approvals" in {m.name for m in decision.matched}
    assert all(m.action is not PolicyAction.AUTO_APPROVE for m in decision.matched)
    assert decision.errors == (), "rules reading alignment_score do not apply, they are not errors"


def test_without_any_policy_asking_a_policy_change_still_needs_two_approvals() -> None:
    decision = change_decision(None, files=["BLUEPRINT.md"], author="alice", floor=None)
    assert decision.action is PolicyAction.REQUIRES_APPROVAL and decision.approvals_required == 2
    assert [m.name for m in decision.matched] == [DEFAULT_POLICY]


def test_the_plan_lists_the_decisions_the_proposed_policies_would_change() -> None:
    def past(name: str, tier: int, score: float) -> PastIntent:
        intent = Intent(service_name=name, purpose=f"The team's {name}, a shared internal tool.", tier=tier)
        alignment = Alignment(score, AlignmentMethod.CLAUDE, "scored by the model")
        return PastIntent(f"intents/{name}.yaml", intent, alignment, "alice")

    intents = [past("notes", 2, 0.95), past("board", 1, 0.95), past("wiki", 2, 0.95)]

    plan = plan_change(
        intents, current=policies(), proposed=policies(block=BLOCK_NOTES), floor=load_floor(None)
    )

    assert plan.considered == 3
    assert [(c.service_name, c.before, c.after) for c in plan.changes] == [
        ("notes", PolicyAction.AUTO_APPROVE, PolicyAction.BLOCKED)
    ]
    assert plan.summary() == (
        "would newly block 1: notes; newly require approval for 0; newly auto-approve 0"
    )
