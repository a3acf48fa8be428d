"""Issues opened from the intent issue form become a pull request adding the intent file."""

from __future__ import annotations

from bot import reports
from bot.events import IssuesEvent
from bot.handlers.common import ISSUE_BRANCH, JobKind, require_line
from bot.handlers.payloads import IssuePayload
from bot.queue import Job
from bot.routing import BotContext, Routes
from bot.usertext import neutral, oneline
from bot.vcs.models import StatusContext, StatusState
from pipeline.intents import InvalidIntent
from pipeline.intents.issue_form import form_fields, intent_from_issue

routes = Routes()
INTENT_LABEL = "intent"


def from_the_form(event: IssuesEvent) -> bool:
    first_label = next(iter(form_fields()))
    return INTENT_LABEL in event.labels or f"### {first_label}" in (event.body or "")


@routes.on(IssuesEvent, action="opened")
def on_issue(event: IssuesEvent, context: BotContext) -> None:
    if not from_the_form(event):
        return
    context.queue.enqueue(
        JobKind.ISSUE,
        key=f"issue:{event.repo}:{event.number}",
        payload=IssuePayload(repo=event.repo, number=event.number, body=event.body, author=event.author),
    )


@routes.job(JobKind.ISSUE, payload=IssuePayload)
def open_intent_pull(job: Job, context: BotContext) -> None:
    line = require_line(context)
    payload = IssuePayload.of(job)
    repo = line.repo(payload.repo)
    number = payload.number
    try:
        form = intent_from_issue(payload.body, issue_number=number)
    except InvalidIntent as exc:
        problems = "\n".join(f"- {neutral(oneline(problem))}" for problem in exc.problems)
        repo.comment(number, reports.ISSUE_INVALID.format(problems=problems))
        return
    branch = ISSUE_BRANCH.format(number=number)
    default = repo.default_branch()
    line.workspace(repo.full_name).add_files(
        branch=branch,
        base=default,
        files={form.path: form.text.encode()},
        message=reports.ISSUE_PR_TITLE.format(service=form.intent.service_name, issue=number),
    )
    pull = repo.find_open_pull(branch) or repo.create_pull(
        head=branch,
        base=default,
        title=reports.ISSUE_PR_TITLE.format(service=form.intent.service_name, issue=number),
        body=reports.ISSUE_PR_BODY.format(path=form.path, issue=number),
    )
    # A branch protection requiring intentops/governance must not hold this PR: what it adds is a valid
    # intent, and the intent itself is governed (and built, and signed off) once it is on the default branch.
    repo.set_status(
        pull.head_sha, StatusContext.GOVERNANCE, StatusState.SUCCESS, reports.ISSUE_PR_STATUS, pull.html_url
    )
    for status in (StatusContext.SPEC, StatusContext.TESTS):  # built and tested once merged
        repo.set_status(pull.head_sha, status, StatusState.SUCCESS, reports.NOT_APPLICABLE, pull.html_url)
    repo.comment(number, reports.ISSUE_LINKED.format(number=pull.number, path=form.path))
