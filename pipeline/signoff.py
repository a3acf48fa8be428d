"""Which approvals count as sign-off: the rules, as a pure function over plain values.

An approval counts only if the approver is authorized (named in the policy's approvers, or holding write
permission on the repository when the policy names none), is not the pull request's author, is not the
bot, and approved the pull request's current head. Each approval that does not count says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

WRITE_PERMISSIONS = frozenset({"write", "maintain", "admin"})


class NotCounted(StrEnum):
    AUTHOR = "asked for this change (the pull request's or the intent's author)"
    BOT = "is the bot"
    STALE = "approved an earlier commit; new commits need a new approval"
    NOT_APPROVER = "is not one of the policy's approvers"
    NO_WRITE = "does not have write permission on the repository"


@dataclass(frozen=True)
class Approval:
    reviewer: str
    commit_id: str
    via: str = "review"


@dataclass(frozen=True)
class SignoffStatus:
    required: int
    counted: tuple[str, ...]
    refused: tuple[tuple[str, NotCounted], ...]
    approvers: tuple[str, ...] = field(default=())

    @property
    def missing(self) -> int:
        return max(0, self.required - len(self.counted))

    @property
    def satisfied(self) -> bool:
        return self.missing == 0

    def waiting_for(self) -> str:
        """What a person reads on the dashboard and in the status description."""
        if self.satisfied:
            return ""
        plural = "s" if self.missing > 1 else ""
        who = (
            f" from {', '.join(a for a in self.approvers if a not in self.counted)}"
            if self.approvers
            else (" from someone with write permission")
        )
        return f"{self.missing} more approval{plural}{who}"


def evaluate_signoff(
    *,
    required: int,
    approvers: Iterable[str],
    authors: Iterable[str],
    bot: str,
    head_sha: str,
    approvals: Iterable[Approval],
    permission_of: Callable[[str], str],
) -> SignoffStatus:
    """Count the approvals that are valid sign-offs for a pull request whose head is `head_sha`.

    `authors`: who asked for the change (the PR's author, and the intent's author when it differs); none
    of them may sign off their own change."""
    author_set = {login.lower() for login in authors if login}
    named = tuple(dict.fromkeys(approvers))
    named_lower = {name.lower() for name in named}
    counted: list[str] = []
    refused: list[tuple[str, NotCounted]] = []
    for approval in approvals:
        login = approval.reviewer
        reason = _refusal(login, approval.commit_id, author_set, bot, head_sha, named_lower, permission_of)
        if reason is not None:
            refused.append((login, reason))
        elif login.lower() not in {c.lower() for c in counted}:
            counted.append(login)
    return SignoffStatus(required=required, counted=tuple(counted), refused=tuple(refused), approvers=named)


def _refusal(
    login: str,
    commit_id: str,
    authors: set[str],
    bot: str,
    head_sha: str,
    named_lower: set[str],
    permission_of: Callable[[str], str],
) -> NotCounted | None:
    if login.lower() == bot.lower():
        return NotCounted.BOT
    if login.lower() in authors:
        return NotCounted.AUTHOR
    if commit_id != head_sha:
        return NotCounted.STALE
    if named_lower:
        return None if login.lower() in named_lower else NotCounted.NOT_APPROVER
    return None if permission_of(login) in WRITE_PERMISSIONS else NotCounted.NO_WRITE
