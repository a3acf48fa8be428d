"""Sign-off rules: each approval that must not count, doesn't, and says why."""

from __future__ import annotations

import pytest

from pipeline.signoff import Approval, NotCounted, SignoffStatus, evaluate_signoff

HEAD = "a" * 40
PERMISSIONS = {"alice": "write", "bob": "admin", "carol": "read", "dave": "maintain", "mallory": "none"}


def evaluate(
    approvals: list[Approval], *, required: int = 1, approvers: tuple[str, ...] = ()
) -> SignoffStatus:
    return evaluate_signoff(
        required=required,
        approvers=approvers,
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
