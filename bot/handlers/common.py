"""What the flow handlers share: job kinds, the line's services, reporting to the forge."""

from __future__ import annotations

import logging
from enum import StrEnum

from bot import reports
from bot.line import Line
from bot.queue import Job
from bot.routing import BotContext, PermanentJobError
from bot.vcs.client import RepoClient
from bot.vcs.models import StatusContext, StatusState
from pipeline.ledger import IntentRecord, IntentState

log = logging.getLogger(__name__)

INTENTS_DIR = "intents/"
INTENT_SUFFIXES = (".yaml", ".yml")
SERVICE_BRANCH = "intentops/{service}"
ISSUE_BRANCH = "intentops/issue-{number}"
SERVICES_DIR = "services/{service}"
POLICIES_DIR = "policies"
POLICY_SUFFIXES = (".yaml", ".yml", ".json")
BLUEPRINT = "BLUEPRINT.md"
# One GitHub environment per service: GitHub marks a deployment inactive when a newer one in the same
# environment succeeds, which must not happen to one service because another was deployed.
DEPLOY_ENVIRONMENT = "intentops-{service}"


class JobKind(StrEnum):
    READ = "intent.read"
    BUILD = "intent.build"
    UNDEPLOY = "intent.undeploy"
    SIGNOFF = "pr.signoff"
    DEPLOY = "pr.deploy"
    CLOSED = "pr.closed"
    COMMAND = "pr.command"
    ISSUE = "issue.intent"


def require_line(context: BotContext) -> Line:
    if context.line is None:
        raise PermanentJobError("this worker has no forge connection (start it with `intentops up`)")
    return context.line


def is_intent_path(path: str) -> bool:
    return path.startswith(INTENTS_DIR) and path.endswith(INTENT_SUFFIXES)


def notify(line: Line, repo: RepoClient, record: IntentRecord, body: str) -> None:
    """Tell the people concerned: on the intent's PR if it has one, else on its own issue (opened once)."""
    if record.pr_number:
        repo.comment(record.pr_number, body)
    elif record.issue_number:
        repo.comment(record.issue_number, body)
    else:
        number = repo.create_issue(reports.ISSUE_TITLE.format(path=record.path), body)
        line.ledger.set_state(record.id, record.state, waiting_for=record.waiting_for, issue_number=number)


def report_dead(job: Job, context: BotContext) -> None:
    """A job that gave up for good: the intent is marked failed, and its PR (or issue) and commit say so."""
    line = context.line
    if line is None:
        return
    payload = job.payload
    repo = line.repo(payload["repo"])
    if "path" in payload:
        record = line.ledger.find(payload["repo"], payload["path"])
    else:
        record = line.ledger.find_by_pr(payload["repo"], int(payload.get("number", 0)))
    error = job.last_error or "unknown error"
    subject = payload.get("path") or f"#{payload.get('number')}"
    log.error("giving up on %s for %s: %s", job.kind, subject, error)
    if record is None:
        return
    line.ledger.set_state(
        record.id, IntentState.FAILED, waiting_for=reports.short(f"/intentops retry ({error})")
    )
    if payload.get("sha") and job.kind in (JobKind.READ, JobKind.BUILD):
        fail_commit(line, repo, payload["sha"], f"gave up: {error}", record)
    body = reports.render("dead_letter", kind=job.kind, subject=subject, attempts=job.attempts, error=error)
    notify(line, repo, line.ledger.get(record.id), body)


def fail_commit(line: Line, repo: RepoClient, sha: str, description: str, record: IntentRecord) -> None:
    repo.set_status(
        sha,
        StatusContext.GOVERNANCE,
        StatusState.FAILURE,
        reports.short(description),
        line.intent_url(record.id),
    )
