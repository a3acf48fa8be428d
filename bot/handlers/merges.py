"""Intent PRs closed: merged ones are deployed from the merge commit; the others mark the intent rejected."""

from __future__ import annotations

from bot import reports
from bot.events import PullRequestEvent
from bot.handlers.common import DEPLOY_ENVIRONMENT, SERVICES_DIR, JobKind, require_line
from bot.handlers.deadletters import report_dead
from bot.handlers.payloads import DeployPayload, PullPayload
from bot.handlers.reviews import signoff_status
from bot.handlers.stages import implements_a_stage, record_stage_merge, start_shadow
from bot.line import Line
from bot.queue import Job
from bot.routing import BotContext, Routes
from bot.vcs.client import RepoClient
from bot.vcs.models import DeploymentState
from pipeline.deploy import DeployRequest, DeployResult
from pipeline.governance import PolicyAction
from pipeline.ledger import Event, IntentRecord, IntentState, Outcome, Stage
from pipeline.registry import Provenance
from pipeline.signoff import SignoffStatus

routes = Routes()
DEPLOY_REPORT = "deploy"
"""The kind of a PR's deploy report: each attempt (refused, failed, deployed) edits the one comment."""


@routes.on(PullRequestEvent, action="closed", include_own=True)
def on_closed(event: PullRequestEvent, context: BotContext) -> None:
    """The bot's own auto-merges count too (include_own): they deploy like any other merge."""
    if event.merged and event.merge_commit_sha:
        key = f"deploy:{event.repo}:{event.number}:{event.merge_commit_sha}"
        payload = DeployPayload(repo=event.repo, number=event.number, sha=event.merge_commit_sha)
        context.queue.enqueue(JobKind.DEPLOY, key=key, payload=payload, priority=10)
    else:
        key = f"closed:{event.repo}:{event.number}:{event.head_sha}"
        context.queue.enqueue(
            JobKind.CLOSED, key=key, payload=PullPayload(repo=event.repo, number=event.number)
        )


@routes.job(JobKind.CLOSED, payload=PullPayload)
def mark_rejected(job: Job, context: BotContext) -> None:
    line = require_line(context)
    payload = PullPayload.of(job)
    record = line.ledger.find_by_pr(payload.repo, payload.number)
    if record is None:
        return
    if not line.ledger.apply(record.id, Event.CLOSED).refused:
        line.ledger.record(record.id, Stage.MERGED, Outcome.SKIPPED, "closed without merging: rejected")


@routes.job(JobKind.DEPLOY, on_dead=report_dead, payload=DeployPayload)
def deploy_merge(job: Job, context: BotContext) -> None:
    """Build and run the merge commit's code; tell the PR and the forge's deployments how it went."""
    line = require_line(context)
    payload = DeployPayload.of(job)
    repo = line.repo(payload.repo)
    number, sha = payload.number, payload.sha
    found = line.ledger.find_by_pr(repo.full_name, number)
    if found is None:
        record_stage_merge(line, repo, number, sha)  # a change of line/stages.yaml: signed off or not
        return  # not an intent's PR (e.g. one adding an intent from an issue): nothing to deploy
    record = found.checked()
    if record.state not in (IntentState.DEPLOYING, IntentState.MERGED):
        waited = line.ledger.waited_ms(record.id, since=Stage.SIGNOFF)  # sign-off to merge
        line.ledger.record(
            record.id,
            Stage.MERGED,
            Outcome.SUCCEEDED,
            f"merged as {sha[:12]}",
            duration_ms=waited,
            once=f"merged:{sha}",
        )
    signoff, refusal = signoff_at_merge(line, repo, record, number)
    if refusal:
        _refuse(line, repo, record, number, sha, refusal, unsigned=signoff is not None, once=job.key)
        return
    refusal = untested_at_merge(line, repo, record, number, sha)
    if refusal:
        _refuse(line, repo, record, number, sha, refusal, unsigned=False, once=job.key)
        return
    line.ledger.apply(record.id, Event.DEPLOY_STARTED, commit_sha=sha)
    environment = DEPLOY_ENVIRONMENT.format(service=record.service_name)
    deployment = repo.start_deployment(sha, environment, {"service": record.service_name})
    repo.deployment_status(
        deployment, DeploymentState.IN_PROGRESS, reports.DEPLOY_STARTED.format(version=sha[:12])
    )
    with line.ledger.stage(record.id, Stage.DEPLOYED, once=job.key) as run:
        result = _deploy(line, record, sha, number, signoff.counted if signoff else ())
        run.message = f"version {sha[:12]} is serving" if result.ok else result.message
        run.failed = not result.ok
        run.detail = {"version": sha, "url": result.url, "log_tail": result.log_tail[-2000:]}
    _report(line, repo, record, number, deployment, result, signoff.counted if signoff else ())
    if result.ok and implements_a_stage(repo, record.path, sha):
        start_shadow(context, repo=repo.full_name, path=record.path, sha=sha, number=number)


def signoff_at_merge(
    line: Line, repo: RepoClient, record: IntentRecord, number: int
) -> tuple[SignoffStatus | None, str]:
    """The sign-off of the merged head as it stands, and why it does not allow a deploy ("" when it does).
    A merge that skipped governance (no branch protection, or an admin's override) deploys nothing."""
    decision = record.decision
    if decision is None:
        return None, reports.DEPLOY_NO_DECISION
    if decision.action is PolicyAction.BLOCKED:
        return None, reports.DEPLOY_BLOCKED.format(summary=decision.summary)
    status = signoff_status(line, repo, record, repo.get_pull(number))
    if not status.satisfied:
        return status, reports.DEPLOY_UNSIGNED.format(waiting=status.waiting_for())
    return status, ""


def untested_at_merge(line: Line, repo: RepoClient, record: IntentRecord, number: int, sha: str) -> str:
    """Why the merge `sha` may not deploy for want of tests ("" when it may): the merged head must be one
    the line tested green, and the merge must hold exactly the service folder tested at that head (the
    default branch may have changed the folder since)."""
    head = repo.get_pull(number).head_sha
    tested = line.checks.tested(record.id, head)
    if tested is None or not tested.ok:
        why = ": it was never tested" if tested is None else f" ({tested.summary})" if tested.summary else ""
        return reports.DEPLOY_UNTESTED.format(head=head[:12], why=why)
    folder = SERVICES_DIR.format(service=record.service_name)
    trees = line.workspace(record.repo).tree_ids((head, sha), folder)
    if trees[head] is None or trees[head] != trees[sha]:
        return reports.DEPLOY_NOT_AS_TESTED.format(folder=f"{folder}/", head=head[:12])
    return ""


def _refuse(
    line: Line,
    repo: RepoClient,
    record: IntentRecord,
    number: int,
    sha: str,
    why: str,
    *,
    unsigned: bool,
    once: str,
) -> None:
    """No deployment: the ledger and the PR say why, and what lets it deploy (sign-off, then a retry)."""
    if not line.ledger.record(record.id, Stage.DEPLOYED, Outcome.FAILED, why, once=once):
        return  # a retried job: the refusal is recorded and commented already
    waiting = reports.WAITING_SIGNOFF_RETRY.format(why=why) if unsigned else why
    line.ledger.apply(record.id, Event.MERGED_UNDEPLOYABLE, reason=reports.short(waiting), commit_sha=sha)
    body = reports.render(
        "deploy_refused", service=record.service_name, version=sha, why=why, unsigned=unsigned
    )
    repo.report(number, kind=DEPLOY_REPORT, body=body, author=line.bot_login)


def _deploy(
    line: Line, record: IntentRecord, sha: str, number: int, approvers: tuple[str, ...]
) -> DeployResult:
    folder = SERVICES_DIR.format(service=record.service_name)
    source = line.workspace(record.repo).export(
        sha, folder, line.workdir / "deploy-src" / record.service_name / sha
    )
    provenance = Provenance(
        intent_path=record.path,
        spec_hash=(record.report.version if record.report else None) or "",
        commit_sha=sha,
        pr_number=number,
        approvers=approvers,
    )
    return line.deployer.deploy(DeployRequest(service_dir=source, version=sha, provenance=provenance))


def _report(
    line: Line,
    repo: RepoClient,
    record: IntentRecord,
    number: int,
    deployment: int,
    result: DeployResult,
    approvers: tuple[str, ...],
) -> None:
    if result.ok:
        repo.deployment_status(
            deployment,
            DeploymentState.SUCCESS,
            reports.short(reports.DEPLOY_DONE.format(url=result.url)),
            result.url,
        )
        body = reports.render(
            "deployed",
            service=record.service_name,
            url=result.url,
            version=result.version,
            backend=line.deployer.runtime.backend.value,
            approvers=approvers,
            message=result.message,
        )
        line.ledger.apply(record.id, Event.DEPLOYED, service_url=result.url)
    else:
        repo.deployment_status(deployment, DeploymentState.FAILURE, reports.short(result.message))
        body = reports.render(
            "deploy_failed",
            service=record.service_name,
            version=result.version,
            message=result.message,
            previous=result.previous_version,
            log_tail=result.log_tail,
        )
        line.ledger.apply(record.id, Event.DEPLOY_FAILED)
    repo.report(number, kind=DEPLOY_REPORT, body=body, author=line.bot_login)
