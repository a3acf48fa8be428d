"""Work that gave up for good: told where it happened (the PR, the issue, the commit), with secrets removed;
found again by `/intentops retry`; and told apart from work about something the bot cannot see."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from bot import reports
from bot.handlers.common import INTENTS_DIR, JobKind
from bot.handlers.notices import fail_commit, notify
from bot.line import Line
from bot.queue import JOBS, Job, JobState
from bot.routing import BotContext
from bot.settings import Settings
from bot.vcs.errors import NotFound
from pipeline.ledger import Event, IntentRecord

log = logging.getLogger(__name__)

STAGE_JOBS = frozenset(
    {JobKind.READ, JobKind.BUILD, JobKind.UNDEPLOY, JobKind.SIGNOFF, JobKind.DEPLOY, JobKind.CLOSED}
)
"""Jobs that carry an intent forward: when one dies, the intent is marked failed until retried."""
PULL_JOBS = frozenset({JobKind.SIGNOFF, JobKind.DEPLOY, JobKind.CLOSED, JobKind.CHANGED})
"""Jobs whose `number` is a pull request (a command's may be an issue)."""
JOB_PURPOSE: dict[str, str] = {
    JobKind.READ: "reading the intent",
    JobKind.BUILD: "governing and building the intent",
    JobKind.UNDEPLOY: "undeploying the service",
    JobKind.SIGNOFF: "counting the sign-offs",
    JobKind.DEPLOY: "deploying the merge",
    JobKind.CLOSED: "marking the closed pull request's intent rejected",
    JobKind.COMMAND: "answering the command",
    JobKind.ISSUE: "opening a pull request from the issue",
    JobKind.CHANGED: "testing or governing the pull request's new commits",
}
REDACTED = "[redacted]"


def report_dead(job: Job, context: BotContext) -> None:
    """A job that gave up for good: its PR or issue says which job and why; an intent it carried forward
    is marked failed (and, for the intent's own stages, its commit). `/intentops retry` queues it again."""
    payload = job.payload
    error = redact(job.last_error or "unknown error", context)
    subject = payload.get("path") or (f"#{payload['number']}" if "number" in payload else job.kind)
    log.error("giving up on %s for %s: %s", job.kind, subject, error)
    line = context.line
    if line is None or not payload.get("repo"):
        return  # e.g. an event's dispatch: nobody to tell but the log
    repo = line.repo(payload["repo"])
    record = _record_of(line, payload) or _record_for_unread_intent(line, job)
    body = reports.render(
        "dead_letter",
        kind=job.kind,
        purpose=JOB_PURPOSE.get(job.kind, ""),
        subject=subject,
        attempts=job.attempts,
        error=error,
    )
    if record is not None and job.kind in STAGE_JOBS:
        waiting = reports.short(f"/intentops retry ({error})")
        line.ledger.apply(record.id, Event.GAVE_UP, reason=waiting)
        if payload.get("sha") and job.kind in (JobKind.READ, JobKind.BUILD):
            fail_commit(line, repo, payload["sha"], f"gave up: {error}", record)
    if "number" in payload:
        repo.comment(int(payload["number"]), body)  # where the event that queued the job happened
    elif record is not None:
        notify(line, repo, line.ledger.get(record.id), body)


def _record_of(line: Line, payload: dict[str, Any]) -> IntentRecord | None:
    if "path" in payload:
        return line.ledger.find(payload["repo"], payload["path"])
    number = int(payload.get("number", 0))
    return line.ledger.find_by_pr(payload["repo"], number) or line.ledger.find_by_issue(
        payload["repo"], number
    )


def _record_for_unread_intent(line: Line, job: Job) -> IntentRecord | None:
    """An intent job that died before its intent was first recorded (e.g. while reading it) still leaves a
    record, so the failure shows where an invalid intent's does: commit status, issue, dashboard."""
    payload = job.payload
    if job.kind not in (JobKind.READ, JobKind.BUILD) or "path" not in payload or not payload.get("sha"):
        return None
    path = str(payload["path"])
    record, _new = line.ledger.receive(
        repo=payload["repo"],
        path=path,
        service_name=path.removeprefix(INTENTS_DIR).rsplit(".", 1)[0].replace("/", "-")[:63],
        content_hash=str(payload.get("content_hash") or f"unread:{payload['sha']}"),
        author=str(payload.get("author", "")),
        commit_sha=str(payload["sha"]),
    )
    return record


def redact(text: str, context: BotContext) -> str:
    """`text` without any of the bot's secrets, for what people and logs see."""
    for secret in _secrets(context.settings):
        text = text.replace(secret, REDACTED)
    return text


def _secrets(settings: Settings) -> list[str]:
    values = (getattr(settings, name) for name in type(settings).model_fields)
    found = [v.get_secret_value() for v in values if isinstance(v, SecretStr)]
    return [secret for secret in found if len(secret) >= 6]


def dead_jobs_of(context: BotContext, record: IntentRecord) -> list[Job]:
    """The intent's jobs that gave up for good, whatever their kind: what `/intentops retry` queues again."""
    numbers = {n for n in (record.pr_number, record.issue_number) if n}
    with context.database.session() as session:
        rows = session.execute(select(JOBS).where(JOBS.c.state == JobState.DEAD.value)).mappings().all()
    return [
        job
        for job in map(Job.from_row, rows)
        if job.payload.get("repo") == record.repo
        and (job.payload.get("path") == record.path or job.payload.get("number") in numbers)
    ]


def out_of_sight(job: Job, context: BotContext) -> bool:
    """Whether the repository (or pull request) a job is about is one the forge does not show the bot:
    then a 404 means there is nothing to do, not a failure to retry."""
    line = context.line
    name = job.payload.get("repo")
    if line is None or not name:
        return False
    repo = line.repo(str(name))
    try:
        repo.default_branch()
        if job.kind in PULL_JOBS and "number" in job.payload:
            repo.get_pull(int(job.payload["number"]))
    except NotFound:
        return True
    return False
