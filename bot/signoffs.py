"""A pull request's sign-off, computed one way for everyone who asks: the bot's governance status and
merge, its deploy check, `/intentops approve` and `explain`, and the dashboard's buttons.

The rules are `pipeline.signoff`'s (pure); this module gathers their inputs from the forge and the ledger:
each reviewer's latest review, the `/intentops approve` sign-offs only the ledger knows, the decision's
requirements, who asked for the change, who pushed the head, permissions and team membership.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.vcs.client import RepoClient
from bot.vcs.models import PullRequest, Review, ReviewState
from pipeline.ledger import Checks, IntentRecord, Ledger
from pipeline.signoff import Approval, Requirement, SignoffStatus, evaluate_signoff, requirements_of

VIA_COMMAND = "comment"
"""How `/intentops approve` sign-offs are recorded in the ledger (reviews are read from the forge)."""
VIA_REVIEW = "review"
DECISIVE = (ReviewState.APPROVED, ReviewState.CHANGES_REQUESTED, ReviewState.DISMISSED)


def latest_approvals(reviews: list[Review]) -> list[Approval]:
    """Each reviewer's latest decisive review counts, as on GitHub: a later 'changes requested' or a
    dismissal withdraws an approval; comments change nothing."""
    latest: dict[str, Review] = {}
    for review in sorted(reviews, key=lambda r: r.id):
        if review.state in DECISIVE:
            latest[review.reviewer.lower()] = review
    return [
        Approval(r.reviewer, r.commit_id, VIA_REVIEW)
        for r in latest.values()
        if r.state is ReviewState.APPROVED
    ]


def pull_signoff(
    *,
    record: IntentRecord,
    pull: PullRequest,
    client: RepoClient,
    ledger: Ledger,
    bot_login: str,
    approvals: Sequence[Approval] | None = None,
    permission_of: Callable[[str], str] | None = None,
) -> SignoffStatus:
    """The sign-off of `pull`'s current head for the intent `record`.

    `approvals`: None for the sign-off as it stands (reviews plus command sign-offs); given, whether these
    approvals alone would count (asked before someone approves: then an auto-approved intent still needs
    one approval for theirs to count). `permission_of`: the caller's way to ask permissions (the dashboard
    asks with the user's token, which may not read them); the client's by default."""
    hypothetical = approvals is not None
    if approvals is None:
        approvals = [
            *latest_approvals(client.reviews(pull.number)),
            *(
                Approval(login, pull.head_sha, VIA_COMMAND)
                for login in ledger.signoffs(record.id, head_sha=pull.head_sha, via=VIA_COMMAND)
            ),
        ]
    requirements = requirements_of(record.decision) if record.decision else (Requirement(1),)
    if hypothetical and not requirements:
        requirements = (Requirement(1),)
    return evaluate_signoff(
        required=0,
        approvers=(),
        requirements=requirements,
        authors=(pull.author, record.author),
        bot=bot_login,
        head_sha=pull.head_sha,
        approvals=approvals,
        permission_of=permission_of or client.permission,
        team_member=client.team_member,
        pusher=Checks(ledger.database).pusher_of(record.id, pull.head_sha),
    )
