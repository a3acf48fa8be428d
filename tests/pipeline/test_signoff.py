"""Sign-off rules: each approval that must not count, doesn't, and says why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pipeline.governance.decision import Decision
from pipeline.signoff import (
    Approval,
    NotCounted,
    Requirement,
    SignoffStatus,
    evaluate_signoff,
    requirements_of,
)
from tests.fixtures.records import make_decision

HEAD = "a" * 40
PERMISSIONS = {"alice": "write", "bob": "admin", "carol": "read", "dave": "maintain", "mallory": "none"}


def evaluate(
    approvals: list[Approval],
    *,
    required: int = 1,
    approvers: tuple[str, ...] = (),
    requirements: tuple[Requirement, ...] | None = None,
    team_member: Callable[[str, str], bool | None] | None = None,
) -> SignoffStatus:
    return evaluate_signoff(
        required=required,
        approvers=approvers,
        requirements=requirements,
        team_member=team_member,
        authors=("intentops-bot", "erin"),
        bot="intentops-bot",
        head_sha=HEAD,
        approvals=approvals,
        permission_of=lambda login: PERMISSIONS.get(login, "none"),
    )


@pytest.mark.parametrize("writer", ["alice", "bob", "dave"])
def test_a_writer_approving_the_head_signs_off(writer: str) -> None:
    status = evaluate([Approval(writer, HEAD)])
    assert status.satisfied and status.counted == (writer,)
    assert status.waiting_for() == ""


@pytest.mark.parametrize(
    ("approval", "reason"),
    [
        (Approval("erin", HEAD), NotCounted.AUTHOR),
        (Approval("ERIN", HEAD), NotCounted.AUTHOR),
        (Approval("intentops-bot", HEAD), NotCounted.BOT),
        (Approval("alice", "b" * 40), NotCounted.STALE),
        (Approval("carol", HEAD), NotCounted.NO_WRITE),
        (Approval("mallory", HEAD), NotCounted.NO_WRITE),
    ],
    ids=["author", "author-any-case", "bot", "stale-sha", "reader", "stranger"],
)
def test_approvals_that_do_not_count(approval: Approval, reason: NotCounted) -> None:
    status = evaluate([approval])
    assert not status.satisfied
    assert status.counted == ()
    assert status.refused == ((approval.reviewer, reason),)
    assert status.waiting_for() == "1 more approval from someone with write permission"


def test_named_approvers_replace_the_write_permission_rule() -> None:
    status = evaluate([Approval("alice", HEAD), Approval("carol", HEAD)], approvers=("carol", "frank"))
    assert status.counted == ("carol",)
    assert status.refused == (("alice", NotCounted.NOT_APPROVER),)
    assert status.satisfied


def test_two_approvals_needed_and_one_reviewer_twice_counts_once() -> None:
    status = evaluate(
        [Approval("alice", HEAD), Approval("alice", HEAD, via="comment")],
        required=2,
        approvers=("alice", "bob"),
    )
    assert status.counted == ("alice",)
    assert status.missing == 1
    assert status.waiting_for() == "1 more approval from bob"


def test_nothing_required_is_satisfied_without_approvals() -> None:
    assert evaluate([], required=0).satisfied


# -- several policies: each one's requirement is met on its own -------------------------------------------

TWO_FROM_ANYONE = Requirement(2, (), "Two eyes")
ONE_FROM_BOB = Requirement(1, ("bob",), "Bob owns billing")


def test_each_policy_must_be_met_and_one_person_counts_for_several() -> None:
    both = (TWO_FROM_ANYONE, ONE_FROM_BOB)
    status = evaluate([Approval("alice", HEAD), Approval("bob", HEAD)], requirements=both)
    assert status.satisfied and status.counted == ("alice", "bob")

    only_writers = evaluate([Approval("alice", HEAD), Approval("dave", HEAD)], requirements=both)
    assert not only_writers.satisfied
    assert only_writers.waiting_for() == "1 more approval from bob (policy Bob owns billing)"

    nobody = evaluate([], requirements=both)
    assert nobody.waiting_for() == (
        "2 more approvals from someone with write permission (policy Two eyes); "
        "1 more approval from bob (policy Bob owns billing)"
    )


def test_an_approval_that_meets_no_policy_says_why() -> None:
    status = evaluate([Approval("carol", HEAD)], requirements=(ONE_FROM_BOB,))
    assert status.refused == (("carol", NotCounted.NOT_APPROVER),)
    mixed = evaluate([Approval("carol", HEAD)], requirements=(TWO_FROM_ANYONE, ONE_FROM_BOB))
    assert mixed.refused == (("carol", NotCounted.NO_WRITE),)


def decision(**fields: Any) -> Decision:
    return make_decision(**fields)


def test_requirements_come_from_each_matching_policy_of_any_decision_version() -> None:
    matched = [
        {"name": "Two eyes", "action": "requires_approval", "approvals": 2, "approvers": []},
        {"name": "Bob owns billing", "action": "requires_approval", "approvals": 1, "approvers": ["bob"]},
        {"name": "Experiments", "action": "auto_approve", "approvals": 0, "approvers": []},
    ]
    old = decision(version=1, matched=matched, approvals_required=2, approvers=["bob"])
    assert requirements_of(old) == (TWO_FROM_ANYONE, ONE_FROM_BOB)
    assert requirements_of(decision()) == (Requirement(1, ()),), "no match: one maintainer"
    assert requirements_of(decision(action="auto_approve")) == ()


# -- team approvers ------------------------------------------------------------------------------------------

PLATFORM = Requirement(1, ("@acme/platform",), "Platform reviews")


def test_a_team_member_counts_for_a_team_approver() -> None:
    members = {("@acme/platform", "dave"): True}
    status = evaluate(
        [Approval("alice", HEAD), Approval("dave", HEAD)],
        requirements=(PLATFORM,),
        team_member=lambda team, login: members.get((team, login), False),
    )
    assert status.satisfied and status.counted == ("dave",)
    assert status.refused == (("alice", NotCounted.NOT_APPROVER),)


def test_a_team_the_forge_cannot_resolve_is_named_in_what_sign_off_waits_for() -> None:
    unknown = lambda team, login: None  # noqa: E731
    status = evaluate([Approval("dave", HEAD)], requirements=(PLATFORM,), team_member=unknown)
    assert not status.satisfied
    assert status.waiting_for() == (
        "1 more approval from @acme/platform (policy Platform reviews; the forge cannot say who is in "
        "@acme/platform: name approvers by login)"
    )
