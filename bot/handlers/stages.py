"""The line's own stages, as an intents repository adopts them: which implementation serves each stage of a
build (`line/stages.yaml` of the commit before the push, the registry, suspensions), who served it, and an
issue when an adopted service is suspended after repeated failures."""

from __future__ import annotations

import logging

from bot import reports
from bot.handlers.common import JobKind, require_line
from bot.handlers.deadletters import report_dead
from bot.handlers.governing import GoverningFiles, governing_files
from bot.handlers.payloads import CommitPayload, ShadowPayload
from bot.handlers.policy_changes import govern_pull
from bot.line import Line
from bot.queue import Job
from bot.routing import BotContext, PermanentJobError, Routes
from bot.signoffs import latest_approvals
from bot.vcs.client import RepoClient
from bot.vcs.models import PullRequest
from pipeline.adoption.fallback import CLIENTS, FIELDS, AdoptedStages
from pipeline.adoption.health import StageHealth
from pipeline.adoption.history import StageHistory
from pipeline.adoption.routing import StagePlan, plan_stages
from pipeline.adoption.stagefile import STAGES_FILE, StageFile, StageFileError, StageRoute, parse_stage_file
from pipeline.factory.clients import DEFAULT_TIMEOUT_S, StageEndpoint
from pipeline.factory.contracts import Stage
from pipeline.factory.routing import BUILTIN
from pipeline.intents import InvalidIntent, load_intent
from pipeline.intents.stagehints import parse_implements
from pipeline.shadow import (
    BUNDLED_SOURCE,
    Referees,
    ShadowReport,
    ShadowStore,
    Verdict,
    cases_from_ledger,
    evaluate,
    load_history,
)
from pipeline.signoff import evaluate_signoff, requirements_of

log = logging.getLogger(__name__)
routes = Routes()

ADOPT_BRANCH = "intentops/adopt-{stage}"
REVERT_BRANCH = "intentops/revert-{stage}"
MIN_LEDGER_CASES = 3
"""Fewer recent intents than this: the bundled example history is the shadow evaluation's work instead."""
NO_STAGE_TOKEN = "stage services need INTENTOPS_STAGE_TOKEN: the line cannot call the candidate without it"


def stages_for(line: Line, repo: str, rules: GoverningFiles) -> tuple[AdoptedStages, StagePlan, str]:
    """The stages of one build, the plan that explains them, and why the stage file was ignored ("" when
    it was read): a stage file that does not load leaves every stage built in; the build goes on."""
    problem = ""
    try:
        stage_file = parse_stage_file(rules.stages)
    except StageFileError as exc:
        stage_file, problem = StageFile(), str(exc)
        log.warning("%s: %s is ignored: %s", repo, STAGES_FILE, problem)
    history = StageHistory(line.ledger.database)
    adopted, plan = plan_stages(
        stage_file,
        repo=repo,
        registry=line.registry,
        health=StageHealth(line.ledger.database),
        token=line.stage_token,
        operator=line.factory.stages,
        approved=lambda stage, route: history.approved(repo, stage, route),
    )
    return adopted, plan, problem


def report_suspensions(line: Line, repo: RepoClient, adopted: AdoptedStages, *, once: str) -> None:
    """For each stage service the line stopped routing to (after repeated failures, in this build or one
    that ended before it could say so): the pull request that routes the stage back to the built-in for
    good, and an issue that says why and links it. Each suspension is reported once."""
    health = StageHealth(line.ledger.database)
    errors = {(stage.value, service): error for stage, service, error in adopted.served.suspended}
    for suspension in health.unreported(repo.full_name):
        if not health.claim_report(repo.full_name, suspension.stage, suspension.service):
            continue  # another build reports it
        stage = Stage(suspension.stage)
        revert = propose_revert(line, repo, stage=stage, service=suspension.service, once=once)
        body = reports.render(
            "stage_suspended",
            stage=stage.value,
            service=suspension.service,
            reason=suspension.reason,
            error=errors.get((stage.value, suspension.service), suspension.reason),
            revert=revert.number if revert is not None else None,
        )
        number = repo.create_issue(
            reports.STAGE_SUSPENDED_TITLE.format(stage=stage.value, service=suspension.service), body
        )
        health.note_issue(repo.full_name, stage.value, suspension.service, number)


@routes.job(JobKind.STAGES, on_dead=report_dead, payload=CommitPayload)
def stages_changed(job: Job, context: BotContext) -> None:
    """Record which stages changed hands, and route again to a service whose entry changed (a suspension
    ends when its entry changes: a fixed version, or the same one adopted anew)."""
    line = require_line(context)
    payload = CommitPayload.of(job)
    repo = line.repo(payload.repo)
    after = _read_stage_file(repo, payload.sha)
    before = _read_stage_file(repo, payload.base) if payload.base else StageFile()
    changed = StageHistory(line.ledger.database).record_change(
        payload.repo, before, after, commit_sha=payload.sha
    )
    health = StageHealth(line.ledger.database)
    for stage in changed:
        health.lift(payload.repo, stage.value, after.route(stage).service)
    if changed:
        log.info(
            "%s: %s changed hands at %s", payload.repo, ", ".join(s.value for s in changed), payload.sha[:12]
        )


def _read_stage_file(repo: RepoClient, ref: str) -> StageFile:
    try:
        return parse_stage_file(repo.read_file(STAGES_FILE, ref))
    except StageFileError:
        return StageFile()  # a file that does not load routes nothing: every stage built in


def record_stage_merge(line: Line, repo: RepoClient, number: int, merge_sha: str) -> None:
    """A merged pull request that changed `line/stages.yaml`: its change is routed to only if its sign-off
    was complete when it merged (a merge with one approval, or an admin's override, takes no effect)."""
    governed = line.checks.governed_pull(repo.full_name, number)
    if governed is None or STAGES_FILE not in governed.files:
        return
    pull = repo.get_pull(number)
    status = evaluate_signoff(
        required=0,
        approvers=(),
        requirements=requirements_of(governed.decision),
        authors=(pull.author,),
        bot=line.bot_login,
        head_sha=pull.head_sha,
        approvals=latest_approvals(repo.reviews(number)),
        permission_of=repo.permission,
        team_member=repo.team_member,
    )
    if status.satisfied and governed.head_sha == pull.head_sha:
        StageHistory(line.ledger.database).approve(
            repo.full_name, commit_sha=merge_sha, pr_number=number, approvers=status.counted
        )
        repo.comment(number, reports.STAGES_ADOPTED.format(who=", ".join(status.counted)))
        return
    waiting = status.waiting_for() or reports.STAGES_NOT_GOVERNED
    repo.comment(number, reports.render("stages_unsigned", waiting=waiting))


def propose_adoption(
    line: Line, repo: RepoClient, *, route: StageRoute, report_body: str, once: str
) -> PullRequest | None:
    """Open (or update) the pull request that makes `route` serve its stage: a change of `line/stages.yaml`,
    governed like every change of what governs the line (two approvals by default), never merged by the bot.
    None when the default branch routes the stage so already."""
    current = parse_stage_file(repo.read_file(STAGES_FILE, repo.default_branch()))
    if current.route(route.stage) == route:
        return None
    return _propose_stage_file(
        line,
        repo,
        current.with_route(route),
        branch=ADOPT_BRANCH.format(stage=route.stage.value),
        title=reports.ADOPT_TITLE.format(stage=route.stage.value, service=route.service),
        message=reports.ADOPT_COMMIT.format(stage=route.stage.value, service=route.service),
        body=report_body,
        once=once,
    )


def propose_revert(
    line: Line, repo: RepoClient, *, stage: Stage, service: str, once: str
) -> PullRequest | None:
    """Open (or update) the pull request that routes `stage` back to the built-in: the suspended service's
    way out for good, one merge once two people approve. None when the default branch no longer routes the
    stage to `service`."""
    try:
        current = parse_stage_file(repo.read_file(STAGES_FILE, repo.default_branch()))
    except StageFileError:
        return None  # a file that does not load routes nothing already
    if current.route(stage).service != service:
        return None
    return _propose_stage_file(
        line,
        repo,
        current.without(stage),
        branch=REVERT_BRANCH.format(stage=stage.value),
        title=reports.REVERT_TITLE.format(stage=stage.value, service=service),
        message=reports.REVERT_COMMIT.format(stage=stage.value, service=service),
        body=reports.render("stage_revert", stage=stage.value, service=service),
        once=once,
    )


def _propose_stage_file(
    line: Line,
    repo: RepoClient,
    stage_file: StageFile,
    *,
    branch: str,
    title: str,
    message: str,
    body: str,
    once: str,
) -> PullRequest:
    default = repo.default_branch()
    line.workspace(repo.full_name).add_files(
        branch=branch, base=default, files={STAGES_FILE: stage_file.to_yaml().encode()}, message=message
    )
    pull = repo.find_open_pull(branch)
    if pull is None:
        pull = repo.create_pull(head=branch, base=default, title=title, body=body)
    else:
        repo.update_pull(pull.number, title=title, body=body)
    govern_pull(line, repo, pull.number, once=once)  # the bot's own pull request: its events are not seen
    return repo.get_pull(pull.number)


def implements_a_stage(repo: RepoClient, path: str, ref: str) -> bool:
    """Whether the intent file at `ref` says it implements one of the line's stages."""
    data = repo.read_file(path, ref)
    if data is None:
        return False
    try:
        return load_intent(data, source=path).implements is not None
    except InvalidIntent:
        return False


def start_shadow(context: BotContext, *, repo: str, path: str, sha: str, number: int) -> None:
    """After a deploy: queue the shadow evaluation if the deployed intent implements a stage."""
    context.queue.enqueue(
        JobKind.SHADOW,
        key=f"shadow:{repo}:{path}:{sha}",
        payload=ShadowPayload(repo=repo, path=path, sha=sha, number=number),
    )


@routes.job(JobKind.SHADOW, on_dead=report_dead, payload=ShadowPayload)
def shadow_stage(job: Job, context: BotContext) -> None:
    """Run the deployed stage service beside the stage's incumbent on the repository's recent intents; keep
    the report, tell the pull request, and propose the adoption when the candidate is better."""
    line = require_line(context)
    payload = ShadowPayload.of(job)
    repo = line.repo(payload.repo)
    data = repo.read_file(payload.path, payload.sha)
    intent = load_intent(data, source=payload.path) if data is not None else None
    if intent is None or intent.implements is None:
        return  # not a stage service: nothing to prove
    stage, contract = parse_implements(intent.implements)
    service = intent.service_name
    entry = line.registry.get(service)
    if entry is None or entry.version != payload.sha:
        repo.comment(
            payload.number, reports.SHADOW_NOT_SERVING.format(service=service, version=payload.sha[:12])
        )
        return
    if line.stage_token is None:
        raise PermanentJobError(NO_STAGE_TOKEN)
    rules = governing_files(repo, repo.default_branch())
    adopted, plan, _problem = stages_for(line, payload.repo, rules)
    current = adopted.resolve(line.provider)
    incumbent = getattr(current, FIELDS[stage])
    candidate = CLIENTS[stage](StageEndpoint(entry.url, line.stage_token, DEFAULT_TIMEOUT_S))
    picked = cases_from_ledger(
        line.ledger,
        repo=payload.repo,
        read=repo.read_file,
        parent=repo.commit_parent,
        list_dir=repo.list_dir,
        floor=line.floor,
    )
    cases, source, skipped = picked.cases, f"the ledger of {payload.repo}", picked.skipped
    if len(cases) < MIN_LEDGER_CASES:  # a young repository: the bundled history stands in for its own
        cases, source = load_history(floor=line.floor), BUNDLED_SOURCE
    report = evaluate(
        stage,
        incumbent=incumbent,
        candidate=candidate,
        cases=cases,
        referees=Referees.of(current, gate=line.factory.gate, max_rounds=line.factory.max_rounds),
        incumbent_name=plan.services.get(stage, BUILTIN),
        candidate_name=service,
        source=source,
        skipped=skipped,
    )
    stored = ShadowStore(line.ledger.database).save(report, repo=payload.repo, candidate_version=payload.sha)
    next_step = reports.SHADOW_NOT_PROPOSED
    if report.verdict is Verdict.BETTER:
        route = StageRoute(stage, service, contract, payload.sha, stored.id)
        body = _report_body(stored.id, report, reports.SHADOW_NOT_PROPOSED)
        proposal = propose_adoption(line, repo, route=route, report_body=body, once=job.key)
        if proposal is None:
            next_step = reports.SHADOW_ADOPTED_ALREADY
        else:
            next_step = reports.SHADOW_PROPOSED.format(number=proposal.number)
            repo.update_pull(proposal.number, body=_report_body(stored.id, report, _adoption_note(route)))
    repo.comment(payload.number, _report_body(stored.id, report, next_step))


def _report_body(report_id: int, report: ShadowReport, next_step: str) -> str:
    return reports.render("shadow_report", report_id=report_id, report=report, next_step=next_step)


def _adoption_note(route: StageRoute) -> str:
    return reports.ADOPTION_NOTE.format(
        stage=route.stage.value, service=route.service, version=route.version[:12]
    )
