"""Comment commands on intent PRs (and on the issue an intent's problems were reported on):
`/intentops retry | explain | rebuild | approve`.

`approve` counts exactly like an approving review (same rules); the others need write permission.
Each comment runs once (keyed by its id), and the answer is a comment.
"""

from __future__ import annotations

import re

from bot import reports
from bot.events import IssueCommentEvent
from bot.handlers.common import JobKind, require_line
from bot.handlers.reviews import evaluate_pull, signoff_status
from bot.line import Line
from bot.queue import IdempotencyKey, Job, JobState
from bot.routing import BotContext, Routes
from bot.vcs.client import RepoClient
from pipeline.intents.serialize import content_hash
from pipeline.ledger import IntentRecord, IntentState
from pipeline.signoff import WRITE_PERMISSIONS, Approval, evaluate_signoff

routes = Routes()

COMMAND = re.compile(r"^\s*/intentops\s+([a-z-]+)\b", re.MULTILINE)
KNOWN = ("approve", "explain", "rebuild", "retry")


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
        payload={"repo": event.repo, "number": event.number, "command": command, "login": event.commenter},
    )


@routes.job(JobKind.COMMAND)
def run_command(job: Job, context: BotContext) -> None:
    line = require_line(context)
    payload = job.payload
    repo = line.repo(payload["repo"])
    number, command, login = int(payload["number"]), str(payload["command"]), str(payload["login"])
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
            repo.comment(number, reports.NO_PULL_YET.format(login=login, path=record.path))
        else:
            _approve(line, repo, record, record.pr_number, login)
    elif repo.permission(login) not in WRITE_PERMISSIONS:
        repo.comment(number, reports.COMMAND_DENIED.format(login=login, command=command))
    elif command == "explain":
        _explain(line, repo, record, number)
    elif command == "retry":
        _retry(line, context, repo, record, number)
    else:
        _rebuild(context, repo, record, number, job.id)


def _approve(line: Line, repo: RepoClient, record: IntentRecord, number: int, login: str) -> None:
    pull = repo.get_pull(number)
    decision = record.decision or {}
    verdict = evaluate_signoff(
        required=1,
        approvers=decision.get("approvers", ()),
        authors=(pull.author, record.author),
        bot=line.bot_login,
        head_sha=pull.head_sha,
        approvals=[Approval(login, pull.head_sha, "comment")],
        permission_of=repo.permission,
    )
    if verdict.refused:
        repo.comment(
            number, reports.APPROVE_NOT_COUNTED.format(login=login, reason=verdict.refused[0][1].value)
        )
        return
    line.ledger.add_signoff(
        record.id, pr_number=number, reviewer=login, head_sha=pull.head_sha, via="comment"
    )
    evaluate_pull(line, repo, number)


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
        decision=current.decision,
        signoffs=list(status.counted) if status else [],
        refused=[(who, why.value) for who, why in status.refused] if status else [],
    )
    repo.comment(number, body)


def _retry(line: Line, context: BotContext, repo: RepoClient, record: IntentRecord, number: int) -> None:
    """Put the intent's dead jobs back in the queue."""
    keys = [str(IdempotencyKey(record.repo, record.path, record.content_hash, "build"))]
    if record.commit_sha and record.pr_number is not None:
        keys.append(f"deploy:{record.repo}:{record.pr_number}:{record.commit_sha}")
    retried = 0
    for key in keys:
        job = context.queue.find(key)
        if job is not None and job.state is JobState.DEAD and context.queue.retry(job.id):
            retried += 1
    if retried:
        line.ledger.set_state(record.id, IntentState.RECEIVED, waiting_for=reports.WAITING_RETRY)
    repo.comment(number, reports.RETRY_QUEUED if retried else reports.NOTHING_TO_RETRY)


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
        payload={
            "repo": record.repo,
            "path": record.path,
            "sha": head,
            "author": record.author,
            "changed_files": [record.path],
            "content_hash": digest,
        },
    )
    repo.comment(number, reports.REBUILD_QUEUED.format(service=record.service_name))
