"""Comment commands on intent PRs (and on the issue an intent's problems were reported on):
`/intentops retry | explain | rebuild | approve | unapprove`.

`approve` counts exactly like an approving review (same rules), also on a merged PR whose deploy waits
for sign-off; `unapprove` withdraws one's own `approve`; the others need write permission. `retry` also
deploys a merge again once its sign-off is complete. Each comment runs once (keyed by its id), and the
answer is a comment.
"""

from __future__ import annotations

import re
from typing import Any

from bot import reports
from bot.events import IssueCommentEvent
from bot.handlers.common import JobKind, require_line
from bot.handlers.deadletters import dead_jobs_of
from bot.handlers.payloads import CommandPayload, DeployPayload, IntentPayload
from bot.handlers.reviews import evaluate_pull, signoff_status
from bot.line import Line
from bot.queue import IdempotencyKey, Job
from bot.routing import BotContext, Routes
from bot.signoffs import VIA_COMMAND, pull_signoff
from bot.usertext import code_span
from bot.vcs.client import RepoClient
from bot.vcs.models import PullRequest
from pipeline.intents.serialize import content_hash
from pipeline.ledger import Event, IntentRecord, IntentState
from pipeline.signoff import WRITE_PERMISSIONS, Approval

routes = Routes()

COMMAND = re.compile(r"^\s*/intentops\s+([a-z-]+)\b", re.MULTILINE)
KNOWN = ("approve", "explain", "rebuild", "retry", "unapprove")


def parse_command(body: str) -> str | None:
    match = COMMAND.search(body or "")
    return match.group(1) if match else None


@routes.on(IssueCommentEvent, action="created")
def on_comment(event: IssueCommentEvent, context: BotContext) -> None:
    command = parse_command(event.body)
    if command is None:
        return
    context.queue.enqueue(
        JobKind.COMMAND,
        key=f"command:{event.repo}:{event.comment_id}",
        payload=CommandPayload(repo=event.repo, number=event.number, command=command, login=event.commenter),
    )


@routes.job(JobKind.COMMAND, payload=CommandPayload)
def run_command(job: Job, context: BotContext) -> None:
    line = require_line(context)
    payload = CommandPayload.of(job)
    repo = line.repo(payload.repo)
    number, command, login = payload.number, payload.command, payload.login
    record = line.ledger.find_by_pr(repo.full_name, number) or line.ledger.find_by_issue(
        repo.full_name, number
    )
    if record is None:
        return  # not about an intent: stay quiet
    if command not in KNOWN:
        repo.comment(
            number, reports.COMMAND_UNKNOWN.format(login=login, command=command, known=", ".join(KNOWN))
        )
    elif command == "approve":
        if record.pr_number is None:
            repo.comment(number, reports.NO_PULL_YET.format(login=login, path=code_span(record.path)))
        else:
            _approve(line, repo, record, record.pr_number, login)
    elif command == "unapprove":
        _unapprove(line, repo, record, number, login)
    elif repo.permission(login) not in WRITE_PERMISSIONS:
        repo.comment(number, reports.COMMAND_DENIED.format(login=login, command=command))
    elif command == "explain":
        _explain(line, repo, record, number)
    elif command == "retry":
        _retry(line, context, repo, record, number, job.id)
    else:
        _rebuild(context, repo, record, number, job.id)


def _approve(line: Line, repo: RepoClient, record: IntentRecord, number: int, login: str) -> None:
    pull = repo.get_pull(number)
    verdict = pull_signoff(
        record=record,
        pull=pull,
        client=repo,
        ledger=line.ledger,
        bot_login=line.bot_login,
        approvals=[Approval(login, pull.head_sha, VIA_COMMAND)],
    )
    if verdict.refused:
        repo.comment(
            number, reports.APPROVE_NOT_COUNTED.format(login=login, reason=verdict.refused[0][1].value)
        )
        return
    line.ledger.add_signoff(
        record.id, pr_number=number, reviewer=login, head_sha=pull.head_sha, via=VIA_COMMAND
    )
    if pull.merged:
        _answer_after_merge(line, repo, line.ledger.get(record.id), pull, login)
    else:
        evaluate_pull(line, repo, number)


def _answer_after_merge(
    line: Line, repo: RepoClient, record: IntentRecord, pull: PullRequest, login: str
) -> None:
    """A merged PR whose deploy waited for sign-off: say whether it may deploy now."""
    if record.state is not IntentState.MERGED:
        return  # deployed (or deploying) already: nothing waits for this sign-off
    status = signoff_status(line, repo, record, pull)
    service = record.service_name
    if status.satisfied:
        repo.comment(pull.number, reports.SIGNED_AFTER_MERGE.format(login=login, service=service))
    else:
        waiting = status.waiting_for()
        repo.comment(
            pull.number,
            reports.STILL_UNSIGNED_AFTER_MERGE.format(login=login, service=service, waiting=waiting),
        )


def _unapprove(line: Line, repo: RepoClient, record: IntentRecord, number: int, login: str) -> None:
    """Withdraw one's own `/intentops approve` (an approving review is withdrawn on the review itself)."""
    if not line.ledger.withdraw_signoff(record.id, reviewer=login, via=VIA_COMMAND):
        repo.comment(number, reports.NOTHING_TO_UNAPPROVE.format(login=login))
        return
    repo.comment(number, reports.UNAPPROVED.format(login=login))
    if record.pr_number is not None:
        evaluate_pull(line, repo, record.pr_number)


def _explain(line: Line, repo: RepoClient, record: IntentRecord, number: int) -> None:
    current = line.ledger.get(record.id)
    status = None
    if current.decision and current.pr_number is not None:
        status = signoff_status(line, repo, current, repo.get_pull(current.pr_number))
    body = reports.render(
        "explain",
        path=current.path,
        state=current.state.value,
        waiting_for=current.waiting_for,
        decision=current.decision.to_json() if current.decision else None,
        signoffs=list(status.counted) if status else [],
        refused=[(who, why.value) for who, why in status.refused] if status else [],
        variables=_rule_values(repo, current),
    )
    repo.comment(number, body)


def _rule_values(repo: RepoClient, record: IntentRecord) -> dict[str, Any] | None:
    """The values the rules saw, for the decision in numbers: the intent file as it was governed."""
    if not record.commit_sha:
        return None
    data = repo.read_file(record.path, record.commit_sha)
    return reports.rule_values(data, source=record.path, author=record.author)


def _retry(
    line: Line, context: BotContext, repo: RepoClient, record: IntentRecord, number: int, job_id: int
) -> None:
    """Put the intent's dead jobs back in the queue; deploy a merge whose deploy waited for sign-off."""
    if record.state is IntentState.MERGED and record.commit_sha and record.pr_number is not None:
        _deploy_again(context, repo, record, record.pr_number, record.commit_sha, job_id)
        return
    retried = sum(1 for job in dead_jobs_of(context, record) if context.queue.retry(job.id))
    if retried:
        line.ledger.apply(record.id, Event.RECEIVED, reason=reports.WAITING_RETRY)
    repo.comment(number, reports.RETRY_QUEUED if retried else reports.NOTHING_TO_RETRY)


def _deploy_again(
    context: BotContext, repo: RepoClient, record: IntentRecord, number: int, sha: str, job_id: int
) -> None:
    """A new deploy job for the merge (the first one finished by refusing); it checks sign-off again."""
    context.queue.enqueue(
        JobKind.DEPLOY,
        key=f"deploy:{record.repo}:{number}:{sha}:retry:{job_id}",
        payload=DeployPayload(repo=record.repo, number=number, sha=sha),
        priority=10,
    )
    repo.comment(number, reports.DEPLOY_QUEUED.format(service=record.service_name, version=sha[:12]))


def _rebuild(context: BotContext, repo: RepoClient, record: IntentRecord, number: int, job_id: int) -> None:
    """Build again from the intent on the default branch, whatever was built before."""
    default = repo.default_branch()
    data = repo.read_file(record.path, default)
    if data is None:
        repo.comment(number, reports.NOTHING_TO_REBUILD.format(path=record.path))
        return
    digest = content_hash(data)
    head = repo.branch_head(default)
    if head is None:
        repo.comment(number, reports.NOTHING_TO_REBUILD.format(path=record.path))
        return
    context.queue.enqueue(
        JobKind.BUILD,
        key=f"{IdempotencyKey(record.repo, record.path, digest, 'build')}:rebuild:{job_id}",
        payload=IntentPayload(
            repo=record.repo,
            path=record.path,
            sha=head,
            base=head,  # the intent is on the default branch already: what governs it there now decides
            author=record.author,
            changed_files=(record.path,),
            content_hash=digest,
            rebuild=True,
        ),
    )
    repo.comment(number, reports.REBUILD_QUEUED.format(service=record.service_name))
