"""The line's own stages, as an intents repository adopts them: which implementation serves each stage of a
build (`line/stages.yaml` of the commit before the push, the registry, suspensions), who served it, and an
issue when an adopted service is suspended after repeated failures."""

from __future__ import annotations

import logging

from bot import reports
from bot.handlers.common import JobKind, require_line
from bot.handlers.deadletters import report_dead
from bot.handlers.governing import GoverningFiles
from bot.handlers.payloads import CommitPayload
from bot.handlers.policy_changes import govern_pull
from bot.line import Line
from bot.queue import Job
from bot.routing import BotContext, Routes
from bot.signoffs import latest_approvals
from bot.vcs.client import RepoClient
from bot.vcs.models import PullRequest
from pipeline.adoption.fallback import AdoptedStages
from pipeline.adoption.health import StageHealth
from pipeline.adoption.history import StageHistory
from pipeline.adoption.routing import StagePlan, plan_stages
from pipeline.adoption.stagefile import STAGES_FILE, StageFile, StageFileError, StageRoute, parse_stage_file
from pipeline.signoff import evaluate_signoff, requirements_of

log = logging.getLogger(__name__)
routes = Routes()

ADOPT_BRANCH = "intentops/adopt-{stage}"


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


def report_suspensions(line: Line, repo: RepoClient, adopted: AdoptedStages) -> None:
    """An issue for each stage service this build's failures suspended (the line routes that stage back to
    its built-in implementation until `line/stages.yaml` changes)."""
    health = StageHealth(line.ledger.database)
    for stage, service, error in adopted.served.suspended:
        suspension = health.suspension(repo.full_name, stage.value, service)
        reason = suspension.reason if suspension else error
        body = reports.render(
            "stage_suspended", stage=stage.value, service=service, reason=reason, error=error
        )
        number = repo.create_issue(
            reports.STAGE_SUSPENDED_TITLE.format(stage=stage.value, service=service), body
        )
        health.note_issue(repo.full_name, stage.value, service, number)


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
    default = repo.default_branch()
    current = parse_stage_file(repo.read_file(STAGES_FILE, default))
    if current.route(route.stage) == route:
        return None
    branch = ADOPT_BRANCH.format(stage=route.stage.value)
    line.workspace(repo.full_name).add_files(
        branch=branch,
        base=default,
        files={STAGES_FILE: current.with_route(route).to_yaml().encode()},
        message=reports.ADOPT_COMMIT.format(stage=route.stage.value, service=route.service),
    )
    title = reports.ADOPT_TITLE.format(stage=route.stage.value, service=route.service)
    pull = repo.find_open_pull(branch)
    if pull is None:
        pull = repo.create_pull(head=branch, base=default, title=title, body=report_body)
    else:
        repo.update_pull(pull.number, title=title, body=report_body)
    govern_pull(line, repo, pull.number, once=once)  # the bot's own pull request: its events are not seen
    return repo.get_pull(pull.number)
