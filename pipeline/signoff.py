"""Which approvals count as sign-off: the rules, as a pure function over plain values.

An approval counts only if the approver is authorized (named in the policy's approvers, directly or
through an `@org/team`, or holding write permission on the repository when the policy names none), is not
the pull request's author, is not the bot, did not push the head's last commit (GitHub's "require approval
of the most recent reviewable push"), and approved the pull request's current head. Each matching
policy's requirement is met on its own (one person may count for several policies, once each). Each
approval that does not count says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pipeline.governance.decision import Decision
from pipeline.governance.policy import PolicyAction

WRITE_PERMISSIONS = frozenset({"write", "maintain", "admin"})
ANYONE = "someone with write permission"
TEAM_UNRESOLVED = "the forge cannot say who is in {teams}: name approvers by login"

TeamMembership = Callable[[str, str], bool | None]
"""(`@org/team`, login) -> member or not; None when the forge cannot tell (no such team visible)."""


class NotCounted(StrEnum):
    AUTHOR = "asked for this change (the pull request's or the intent's author)"
    BOT = "is the bot"
    STALE = "approved an earlier commit; new commits need a new approval"
    PUSHER = "pushed the last commit; someone else must approve it"
    NOT_APPROVER = "is not one of the policy's approvers"
    NO_WRITE = "does not have write permission on the repository"


@dataclass(frozen=True)
class Approval:
    reviewer: str
    commit_id: str
    via: str = "review"


@dataclass(frozen=True)
class Requirement:
    """One policy's demand: `approvals` distinct people among `approvers` (logins or `@org/team`; empty:
    anyone with write permission)."""

    approvals: int
    approvers: tuple[str, ...] = ()
    policy: str = ""


@dataclass(frozen=True)
class RequirementStatus:
    requirement: Requirement
    counted: tuple[str, ...]
    unresolved_teams: tuple[str, ...] = ()

    @property
    def missing(self) -> int:
        return max(0, self.requirement.approvals - len(self.counted))

    def waiting_for(self) -> str:
        if not self.missing:
            return ""
        plural = "s" if self.missing > 1 else ""
        counted = {login.lower() for login in self.counted}
        names = [a for a in self.requirement.approvers if a.lower() not in counted]
        text = f"{self.missing} more approval{plural} from {', '.join(names) if names else ANYONE}"
        notes = [f"policy {self.requirement.policy}"] if self.requirement.policy else []
        if self.unresolved_teams:
            notes.append(TEAM_UNRESOLVED.format(teams=", ".join(self.unresolved_teams)))
        return f"{text} ({'; '.join(notes)})" if notes else text


@dataclass(frozen=True)
class SignoffStatus:
    required: int
    counted: tuple[str, ...]
    refused: tuple[tuple[str, NotCounted], ...]
    approvers: tuple[str, ...] = field(default=())
    parts: tuple[RequirementStatus, ...] = field(default=())
    """Each requirement (one per matching policy) and who counted for it."""

    @property
    def missing(self) -> int:
        return max((part.missing for part in self.parts), default=0)

    @property
    def satisfied(self) -> bool:
        return self.missing == 0

    def waiting_for(self) -> str:
        """What a person reads on the dashboard and in the status description."""
        return "; ".join(text for part in self.parts if (text := part.waiting_for()))


def requirements_of(decision: Decision) -> tuple[Requirement, ...]:
    """The sign-off a governance decision asks for: one requirement per matching requires_approval policy;
    the summary when none matched (no match, a withheld auto-approval, findings, failing closed)."""
    if decision.action is PolicyAction.AUTO_APPROVE:
        return ()
    policies = [m for m in decision.matched if m.action is PolicyAction.REQUIRES_APPROVAL]
    if policies:
        return tuple(Requirement(max(1, m.approvals), m.approvers, m.name) for m in policies)
    return (Requirement(max(1, decision.approvals_required), decision.approvers),)


def is_team(name: str) -> bool:
    return name.startswith("@") and "/" in name


def evaluate_signoff(
    *,
    required: int,
    approvers: Iterable[str],
    authors: Iterable[str],
    bot: str,
    head_sha: str,
    approvals: Iterable[Approval],
    permission_of: Callable[[str], str],
    requirements: Sequence[Requirement] | None = None,
    team_member: TeamMembership | None = None,
    pusher: str = "",
) -> SignoffStatus:
    """Count the approvals that are valid sign-offs for a pull request whose head is `head_sha`.

    `authors`: who asked for the change (the PR's author, and the intent's author when it differs); none
    of them may sign off their own change. `requirements` (see `requirements_of`) replaces the single
    requirement `required` approvals from `approvers`. `pusher`: who pushed the head's last commit when it
    was not the bot; their approval of it does not count."""
    named = tuple(dict.fromkeys(approvers))
    if requirements is None:
        requirements = (Requirement(required, named),) if required > 0 else ()
    author_set = {login.lower() for login in authors if login}
    membership = _Teams(team_member, bot)
    valid: list[str] = []
    refused: list[tuple[str, NotCounted]] = []
    for approval in approvals:
        reason = _refusal(approval.reviewer, approval.commit_id, author_set, bot, head_sha, pusher)
        if reason is not None:
            refused.append((approval.reviewer, reason))
        elif approval.reviewer.lower() not in {v.lower() for v in valid}:
            valid.append(approval.reviewer)
    parts = tuple(_part(r, valid, permission_of, membership) for r in requirements)
    counted = [login for login in valid if any(login in part.counted for part in parts)]
    open_to_writers = any(not r.approvers for r in requirements)
    for login in valid:
        if login not in counted and parts:
            refused.append((login, NotCounted.NO_WRITE if open_to_writers else NotCounted.NOT_APPROVER))
    return SignoffStatus(
        required=max((r.approvals for r in requirements), default=0),
        counted=tuple(counted),
        refused=tuple(refused),
        approvers=tuple(dict.fromkeys(a for r in requirements for a in r.approvers)),
        parts=parts,
    )


class _Teams:
    """Team membership asked once per (team, login) during one evaluation."""

    def __init__(self, member: TeamMembership | None, bot: str) -> None:
        self._member = member
        self._bot = bot
        self._answers: dict[tuple[str, str], bool | None] = {}

    def member(self, team: str, login: str) -> bool | None:
        key = (team.lower(), login.lower())
        if key not in self._answers:
            self._answers[key] = None if self._member is None else self._member(team, login)
        return self._answers[key]

    def resolvable(self, team: str) -> bool:
        """Whether the forge can say who is in `team` at all (asked about the bot's own account)."""
        return self.member(team, self._bot) is not None


def _part(
    requirement: Requirement, valid: Sequence[str], permission_of: Callable[[str], str], teams: _Teams
) -> RequirementStatus:
    logins = {a.lower() for a in requirement.approvers if not is_team(a)}
    team_names = [a for a in requirement.approvers if is_team(a)]
    counted: list[str] = []
    for login in valid:
        if not requirement.approvers:
            ok = permission_of(login) in WRITE_PERMISSIONS
        else:
            ok = login.lower() in logins or any(teams.member(t, login) for t in team_names)
        if ok:
            counted.append(login)
    unresolved: tuple[str, ...] = ()
    if len(counted) < requirement.approvals:  # only an unmet requirement needs to say why it may stay so
        unresolved = tuple(t for t in team_names if not teams.resolvable(t))
    return RequirementStatus(requirement, tuple(counted), unresolved)


def _refusal(
    login: str, commit_id: str, authors: set[str], bot: str, head_sha: str, pusher: str
) -> NotCounted | None:
    if login.lower() == bot.lower():
        return NotCounted.BOT
    if login.lower() in authors:
        return NotCounted.AUTHOR
    if pusher and login.lower() == pusher.lower():
        return NotCounted.PUSHER
    if commit_id != head_sha:
        return NotCounted.STALE
    return None
