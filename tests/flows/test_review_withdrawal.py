"""Which reviews stand: each reviewer's latest decisive review, as on GitHub (the embedded forge has no
dismissal endpoint, so dismissals are shown on the reviews the bot reads)."""

from __future__ import annotations

import pytest

from bot.signoffs import latest_approvals
from bot.vcs.models import Review, ReviewState
from pipeline.signoff import Approval

HEAD = "c" * 40
APPROVED, CHANGES, DISMISSED, COMMENTED = (
    ReviewState.APPROVED,
    ReviewState.CHANGES_REQUESTED,
    ReviewState.DISMISSED,
    ReviewState.COMMENTED,
)


@pytest.mark.parametrize(
    ("states", "approvers"),
    [
        ([APPROVED], ["bob"]),
        ([APPROVED, CHANGES], []),
        ([DISMISSED], []),  # GitHub turns the dismissed approval itself into DISMISSED
        ([APPROVED, DISMISSED], []),
        ([CHANGES, APPROVED], ["bob"]),
        ([APPROVED, COMMENTED], ["bob"]),
    ],
    ids=["approved", "then-changes", "dismissed", "then-dismissed", "approved-again", "then-comment"],
)
def test_only_a_standing_approval_counts(states: list[ReviewState], approvers: list[str]) -> None:
    reviews = [Review(id=i, reviewer="bob", state=state, commit_id=HEAD) for i, state in enumerate(states)]
    assert latest_approvals(reviews) == [Approval(login, HEAD, "review") for login in approvers]
