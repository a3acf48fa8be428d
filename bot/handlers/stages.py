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
from bot.line import Line
from bot.queue import Job
from bot.routing import BotContext, Routes
from bot.vcs.client import RepoClient
from pipeline.adoption.fallback import AdoptedStages
from pipeline.adoption.health import StageHealth
from pipeline.adoption.history import StageHistory
from pipeline.adoption.routing import StagePlan, plan_stages
from pipeline.adoption.stagefile import STAGES_FILE, StageFile, StageFileError, parse_stage_file

log = logging.getLogger(__name__)
routes = Routes()


def stages_for(line: Line, repo: str, rules: GoverningFiles) -> tuple[AdoptedStages, StagePlan, str]:
    """The stages of one build, the plan that explains them, and why the stage file was ignored ("" when
    it was read): a stage file that does not load leaves every stage built in; the build goes on."""
    problem = ""
    try:
        stage_file = parse_stage_file(rules.stages)
    except StageFileError as exc:
        stage_file, problem = StageFile(), str(exc)
        log.warning("%s: %s is ignored: %s", repo, STAGES_FILE, problem)
    adopted, plan = plan_stages(
        stage_file,
        repo=repo,
        registry=line.registry,
        health=StageHealth(line.ledger.database),
        token=line.stage_token,
        operator=line.factory.stages,
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
