"""May this person sign off on this intent? The sign-off rules of `pipeline.signoff`, asked in advance.

The dashboard shows the buttons only to people whose approval would count, and asks again when a button
is pressed. The forge then records a real review, and the bot counts it with the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.dashboard.text import NO_ACCESS, NO_PULL_REQUEST, NOT_SIGNOFF_STAGE, PULL_CLOSED, TESTS_FAILING
from bot.signoffs import pull_signoff
from bot.vcs.client import RepoClient
from bot.vcs.errors import Forbidden, NotFound
from bot.vcs.models import PullRequest
from pipeline.ledger import Checks, IntentRecord, Ledger
from pipeline.ledger.lifecycle import SIGNOFF_STATES
from pipeline.signoff import Approval


@dataclass(frozen=True)
class Eligibility:
    allowed: bool
    reason: str
    pull: PullRequest | None
    tests_failing: bool = False
    """The head's tests fail: nobody's approval helps until they pass, so nobody is asked for one."""


def permission_of(client: RepoClient) -> Callable[[str], str]:
    def permission(login: str) -> str:
        try:
            return client.permission(login)
        except (Forbidden, NotFound):
            # A user who may not even read collaborators' permissions holds none worth counting.
            return "none"

    return permission


def visible_pull(client: RepoClient, number: int) -> PullRequest | None:
    """The pull request, or None when the forge will not show it to this user (a private repository
    they cannot read answers 404, as if it did not exist)."""
    try:
        return client.get_pull(number)
    except (Forbidden, NotFound):
        return None


def tests_fail(record: IntentRecord, head_sha: str, ledger: Ledger) -> bool:
    """Whether the line tested this head red (or, for a head it has no record of, whether the intent's
    last build's tests failed on the head the ledger holds)."""
    tested = Checks(ledger.database).tested(record.id, head_sha)
    if tested is not None:
        return not tested.ok
    report = record.report
    return (
        record.head_sha == head_sha
        and report is not None
        and report.tests is not None
        and not report.tests.ok
    )


def eligibility(
    client: RepoClient, record: IntentRecord, *, login: str, bot_login: str, ledger: Ledger
) -> Eligibility:
    """Whether an approval by `login` on the pull request's current head would count as a sign-off: the
    bot's own computation (`bot.signoffs.pull_signoff`), asked in advance."""
    if record.pr_number is None:
        return Eligibility(False, NO_PULL_REQUEST, None)
    if record.state not in SIGNOFF_STATES:
        return Eligibility(False, NOT_SIGNOFF_STAGE, None)
    pull = visible_pull(client, record.pr_number)
    if pull is None:
        return Eligibility(False, NO_ACCESS.format(login=login, repo=record.repo), None)
    if pull.state != "open" or pull.merged:
        return Eligibility(False, PULL_CLOSED.format(state="merged" if pull.merged else pull.state), pull)
    if tests_fail(record, pull.head_sha, ledger):
        return Eligibility(False, TESTS_FAILING.format(head=pull.head_sha[:12]), pull, tests_failing=True)
    status = pull_signoff(
        record=record,
        pull=pull,
        client=client,
        ledger=ledger,
        bot_login=bot_login,
        approvals=[Approval(reviewer=login, commit_id=pull.head_sha, via="dashboard")],
        permission_of=permission_of(client),
    )
    if status.counted:
        return Eligibility(True, "", pull)
    reason = f"{login} {status.refused[0][1].value}" if status.refused else NOT_SIGNOFF_STAGE
    return Eligibility(False, reason, pull)
