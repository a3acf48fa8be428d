"""New commits on a pull request: the line tests any head it did not build before it counts approvals.

A commit someone pushed to an intent's branch (`intentops/<service>`) has never run in the sandbox. Until
the line has checked that head (its SPEC against the gate, its tests in the sandbox), its statuses stay
pending and no approval counts; whoever pushed it cannot approve it. Pull requests that are not an
intent's are handed to the policy-change flow (`bot.handlers.policy_changes`).
"""

from __future__ import annotations

from pathlib import Path

from bot import reports
from bot.events import PullRequestEvent
from bot.handlers.common import SERVICES_DIR, JobKind, require_line
from bot.handlers.deadletters import report_dead
from bot.handlers.payloads import ChangedPayload
from bot.handlers.policy_changes import govern_pull
from bot.handlers.reviews import evaluate_pull
from bot.line import Line
from bot.queue import Job
from bot.routing import BotContext, Routes
from bot.vcs.client import RepoClient
from bot.vcs.models import PullRequest, StatusContext, StatusState
from bot.vcs.workspace import WorkspaceError
from pipeline.assembly import ServiceCheck, check_service
from pipeline.ledger import IntentRecord, Stage, TestedBy
from pipeline.sandbox.model import Isolation, SandboxResult, TestFailure

routes = Routes()


@routes.on(PullRequestEvent, action="synchronize")
@routes.on(PullRequestEvent, action="opened")
@routes.on(PullRequestEvent, action="reopened")
def on_new_head(event: PullRequestEvent, context: BotContext) -> None:
    """Commits the bot pushed itself are not seen here (the bot's own events are ignored): it tested
    them while building."""
    key = f"changed:{event.repo}:{event.number}:{event.head_sha}"
    payload = ChangedPayload(
        repo=event.repo, number=event.number, head_sha=event.head_sha, pusher=event.sender
    )
    context.queue.enqueue(JobKind.CHANGED, key=key, payload=payload)


@routes.job(JobKind.CHANGED, on_dead=report_dead, payload=ChangedPayload)
def on_changed(job: Job, context: BotContext) -> None:
    line = require_line(context)
    payload = ChangedPayload.of(job)
    repo = line.repo(payload.repo)
    number = payload.number
    record = line.ledger.find_by_pr(repo.full_name, number)
    if record is None:
        govern_pull(line, repo, number, once=job.key)
        return
    pull = repo.get_pull(number)
    if pull.state != "open" or pull.head_sha != payload.head_sha:
        return  # closed, or moved on: the job of the newer head does the work
    if line.checks.tested(record.id, pull.head_sha) is None:
        retest(line, repo, record, pull, pusher=payload.pusher, once=job.key)
    evaluate_pull(line, repo, number)


def retest(
    line: Line, repo: RepoClient, record: IntentRecord, pull: PullRequest, *, pusher: str, once: str
) -> ServiceCheck:
    """Check the service as `pull`'s head holds it, and record the result for that head."""
    head = pull.head_sha
    url = line.intent_url(record.id)
    short_head = head[:12]
    repo.set_status(
        head, StatusContext.TESTS, StatusState.PENDING, reports.TESTS_RUNNING.format(head=short_head), url
    )
    repo.set_status(
        head, StatusContext.SPEC, StatusState.PENDING, reports.SPEC_CHECKING.format(head=short_head), url
    )
    with line.ledger.stage(record.id, Stage.TESTS, once=once) as run:
        check = _check(line, record, head)
        tests = check.tests
        run.failed = not check.ok
        run.message = f"{short_head} (pushed by {pusher or 'someone'}): " + _tests_line(tests)
        run.detail = {"tests": tests.to_json(), "head_sha": head, "pushed_by": pusher}
    line.checks.record_tested(
        record.id, head_sha=head, ok=check.ok, by=TestedBy.RETEST, pushed_by=pusher, summary=run.message
    )
    _publish(repo, head, check, url)
    return check


def _check(line: Line, record: IntentRecord, head: str) -> ServiceCheck:
    folder = SERVICES_DIR.format(service=record.service_name)
    destination = line.workdir / "retest" / record.service_name / head
    try:
        source = line.workspace(record.repo).export(head, folder, destination)
    except WorkspaceError as exc:  # the commit removed the service's folder: nothing can run
        nothing = SandboxResult(
            passed=0,
            failed=0,
            errors=1,
            skipped=0,
            duration_s=0.0,
            isolation=Isolation.NONE,
            user="",
            failures=(TestFailure(folder, str(exc)),),
        )
        return ServiceCheck(gate=line.factory.gate, tests=nothing, verification=None, spec_problem=str(exc))
    verifier = line.factory.stages.resolve(line.provider).verifier  # the line's verifier, as routed
    return check_service(
        Path(source), sandbox_for=line.sandbox_for, gate=line.factory.gate, verifier=verifier
    )


def _tests_line(tests: SandboxResult) -> str:
    if tests.ok:
        return reports.TESTS_PASSED.format(passed=tests.passed)
    return reports.TESTS_FAILED.format(
        verdict=tests.verdict.value, failed=tests.failed, errors=tests.errors, skipped=tests.skipped
    )


def _publish(repo: RepoClient, head: str, check: ServiceCheck, url: str) -> None:
    verification = check.verification
    if verification is None:
        spec_state, spec_text = StatusState.FAILURE, check.spec_problem
    else:
        spec_state = StatusState.SUCCESS if check.spec_ok else StatusState.FAILURE
        template = reports.SPEC_PASSED if check.spec_ok else reports.SPEC_BELOW
        spec_text = template.format(score=verification.score, gate=check.gate)
    repo.set_status(head, StatusContext.SPEC, spec_state, reports.short(spec_text), url)
    tests_state = StatusState.SUCCESS if check.tests.ok else StatusState.FAILURE
    repo.set_status(head, StatusContext.TESTS, tests_state, reports.short(_tests_line(check.tests)), url)
