"""Reviews and sign-off: which approvals count, the governance status, and the bot's auto-merge.

Every evaluation starts from the forge's current state (the PR's head, all its reviews, the decision in
the ledger), so redelivered events and retried jobs reach the same result.
"""

from __future__ import annotations

from bot import reports
from bot.events import PullRequestReviewEvent
from bot.handlers.common import JobKind, require_line
from bot.handlers.governing import governing_changes
from bot.handlers.payloads import PullPayload
from bot.handlers.policy_changes import evaluate_governed_pull
from bot.line import Line
from bot.queue import Job
from bot.routing import BotContext, Routes
from bot.signoffs import pull_signoff
from bot.vcs.client import RepoClient
from bot.vcs.models import PullRequest, StatusContext, StatusState
from pipeline.governance import PolicyAction
from pipeline.ledger import Event, IntentRecord, IntentState, Outcome, Stage
from pipeline.signoff import SignoffStatus

routes = Routes()

MERGE_MESSAGE = "Merge {service}: {summary}"


@routes.on(PullRequestReviewEvent)
def on_review(event: PullRequestReviewEvent, context: BotContext) -> None:
    key = f"signoff:{event.repo}:{event.number}:{event.head_sha}:{event.review_id}:{event.action}"
    context.queue.enqueue(JobKind.SIGNOFF, key=key, payload=PullPayload(repo=event.repo, number=event.number))


@routes.job(JobKind.SIGNOFF, payload=PullPayload)
def check_signoff(job: Job, context: BotContext) -> None:
    line = require_line(context)
    payload = PullPayload.of(job)
    repo, number = line.repo(payload.repo), payload.number
    if evaluate_pull(line, repo, number) is None:
        evaluate_governed_pull(line, repo, number)


def signoff_status(line: Line, repo: RepoClient, record: IntentRecord, pull: PullRequest) -> SignoffStatus:
    """The sign-off of `pull`'s head as it stands now (`bot.signoffs.pull_signoff`)."""
    return pull_signoff(record=record, pull=pull, client=repo, ledger=line.ledger, bot_login=line.bot_login)


def evaluate_pull(line: Line, repo: RepoClient, number: int) -> SignoffStatus | None:
    """Bring an intent PR's governance status and ledger state up to date; merge it once every check
    passed when the policy auto-approves, or when sign-off is complete and the line merges on sign-off.
    None when the PR is not an open intent PR."""
    record = line.ledger.find_by_pr(repo.full_name, number)
    pull = repo.get_pull(number)
    if record is None or pull.state != "open":
        return None
    if record.checked().decision is None:
        return None
    status = signoff_status(line, repo, record, pull)
    tested = line.checks.tested(record.id, pull.head_sha)
    governing = governing_changes(repo, number)
    if governing:
        _refuse_governing_changes(line, repo, record, pull, governing)
    elif tested is None:
        _wait_for_retest(line, repo, record, pull)
    else:
        _publish_governance(line, repo, record, pull, status, tests_ok=tested.ok)
        if status.satisfied and tested.ok and _merges_itself(line, record):
            _auto_merge(line, repo, record, pull)
    return status


def _refuse_governing_changes(
    line: Line, repo: RepoClient, record: IntentRecord, pull: PullRequest, files: list[str]
) -> None:
    """An intent's pull request that also changes policies or the blueprint would let that change ride on
    the intent's sign-off: it fails until the change moves to a pull request of its own."""
    why = reports.GOVERNING_FILES.format(files=", ".join(files[:3]) + ("..." if len(files) > 3 else ""))
    repo.set_status(
        pull.head_sha,
        StatusContext.GOVERNANCE,
        StatusState.FAILURE,
        reports.short(why),
        line.intent_url(record.id),
    )
    line.ledger.apply(record.id, Event.GOVERNING_FILES, reason=why)


def _wait_for_retest(line: Line, repo: RepoClient, record: IntentRecord, pull: PullRequest) -> None:
    """A head the line has not tested: nobody's approval counts on it yet."""
    waiting = reports.WAITING_RETEST.format(head=pull.head_sha[:12])
    repo.set_status(
        pull.head_sha,
        StatusContext.GOVERNANCE,
        StatusState.PENDING,
        reports.short(reports.GOVERNANCE_WAITING.format(waiting=waiting)),
        line.intent_url(record.id),
    )
    line.ledger.apply(record.id, Event.RETEST_PENDING, reason=waiting)


def _merges_itself(line: Line, record: IntentRecord) -> bool:
    """auto_approve intents always; requires_approval ones once signed off, unless the line leaves that
    merge to a person (INTENTOPS_MERGE_ON_SIGNOFF=false)."""
    action = record.decision.action if record.decision else None
    return action is PolicyAction.AUTO_APPROVE or (
        action is PolicyAction.REQUIRES_APPROVAL and line.merge_on_signoff
    )


def _publish_governance(
    line: Line,
    repo: RepoClient,
    record: IntentRecord,
    pull: PullRequest,
    status: SignoffStatus,
    *,
    tests_ok: bool,
) -> None:
    url = line.intent_url(record.id)
    if not status.satisfied:
        waiting = status.waiting_for()
        repo.set_status(
            pull.head_sha,
            StatusContext.GOVERNANCE,
            StatusState.PENDING,
            reports.short(reports.GOVERNANCE_WAITING.format(waiting=waiting)),
            url,
        )
    else:
        description = (
            reports.GOVERNANCE_SIGNED.format(who=", ".join(status.counted))
            if status.counted
            else reports.GOVERNANCE_AUTO
        )
        repo.set_status(
            pull.head_sha, StatusContext.GOVERNANCE, StatusState.SUCCESS, reports.short(description), url
        )
        if record.state is not IntentState.APPROVED:
            waited = line.ledger.waited_ms(record.id, since=Stage.PR)  # the wait for people, PR to sign-off
            line.ledger.record(
                record.id,
                Stage.SIGNOFF,
                Outcome.SUCCEEDED,
                description,
                duration_ms=waited,
                once=f"signoff:{pull.head_sha}",
            )
    if not tests_ok:
        line.ledger.apply(record.id, Event.TESTS_FAILED, reason=reports.WAITING_TESTS)
    elif not status.satisfied:
        line.ledger.apply(record.id, Event.SIGNOFF_PENDING, reason=status.waiting_for())
    else:
        line.ledger.apply(record.id, Event.SIGNED_OFF, reason=reports.WAITING_MERGE)


def _auto_merge(line: Line, repo: RepoClient, record: IntentRecord, pull: PullRequest) -> None:
    """Only called for a head the line tested green: failing tests need a person, whatever the policy."""
    summary = record.decision.summary if record.decision else ""
    outcome = repo.merge_pull(
        pull.number,
        sha=pull.head_sha,
        message=MERGE_MESSAGE.format(service=record.service_name, summary=summary),
    )
    if not outcome.merged:
        line.ledger.apply(record.id, Event.MERGE_FAILED, reason=f"merge: {outcome.message}")
