"""Deployments and deployment statuses."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from forge import events
from forge.api.common import Body, ok, paginate
from forge.api.deps import Ctx, CtxDep
from forge.api.statuses import latest_statuses
from forge.core import Perm
from forge.errors import Conflict, Invalid, NotFound
from forge.models import CheckRun, Deployment, DeploymentStatus, Repo, utcnow

router = APIRouter(prefix="/repos/{owner}/{name}/deployments")

MSG_CHECKS_FAILED = "Conflict: Commit status checks failed for {ref}."
PASSING_CONCLUSIONS = {"success", "neutral", "skipped"}


class DeploymentCreate(Body):
    ref: str
    task: str = "deploy"
    auto_merge: bool = True
    required_contexts: list[str] | None = None
    payload: dict[str, Any] | str = {}
    environment: str = "production"
    description: str | None = ""
    transient_environment: bool = False
    production_environment: bool | None = None


class DeploymentStatusCreate(Body):
    state: Literal["error", "failure", "inactive", "in_progress", "queued", "pending", "success"]
    target_url: str = ""
    log_url: str = ""
    description: str = ""
    environment: str | None = None
    environment_url: str = ""
    auto_inactive: bool = True


@router.post("", status_code=201)
def create_deployment(ctx: CtxDep, owner: str, name: str, body: DeploymentCreate) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.WRITE)
    sha = ctx.forge.bare(ctx.session, repo).resolve(body.ref)
    if sha is None:
        raise Invalid(f"No ref found for: {body.ref}")
    failing = _failing_contexts(ctx, repo, sha, body.required_contexts)
    if failing:
        error = {"contexts": failing, "resource": "Deployment", "field": "required_contexts"}
        raise Conflict(MSG_CHECKS_FAILED.format(ref=body.ref), errors=[{**error, "code": "invalid"}])
    me = ctx.me()
    production = body.production_environment
    deployment = Deployment(
        repo_id=repo.id,
        sha=sha,
        ref=body.ref,
        task=body.task,
        environment=body.environment,
        payload=body.payload,
        description=body.description,
        creator_id=me.id,
        transient_environment=body.transient_environment,
        production_environment=production if production is not None else body.environment == "production",
    )
    ctx.session.add(deployment)
    ctx.session.flush()
    events.deployment(ctx.r, repo, deployment, me)
    return ok(ctx.r.deployment(deployment), 201)


def _failing_contexts(ctx: Ctx, repo: Repo, sha: str, required: list[str] | None) -> list[dict[str, str]]:
    """The contexts that keep `sha` from deploying, as GitHub lists them: every one reported on the commit
    when `required` is None, those named otherwise (one never reported is "missing"); [] checks nothing."""
    states = _context_states(ctx, repo, sha)
    wanted = list(states) if required is None else required
    return [
        {"context": context, "state": states.get(context, "missing")}
        for context in wanted
        if states.get(context) != "success"
    ]


def _context_states(ctx: Ctx, repo: Repo, sha: str) -> dict[str, str]:
    """The latest state of each commit status and check run on `sha`; a status wins over a check of the
    same name, as branch protection reads them."""
    runs = ctx.session.scalars(
        select(CheckRun).where(CheckRun.repo_id == repo.id, CheckRun.head_sha == sha).order_by(CheckRun.id)
    )
    states = {run.name: _check_state(run) for run in runs}
    states.update({status.context: status.state for status in latest_statuses(ctx, repo, sha)})
    return states


def _check_state(run: CheckRun) -> str:
    if run.status != "completed":
        return "pending"
    return "success" if run.conclusion in PASSING_CONCLUSIONS else run.conclusion or "failure"


@router.get("")
def list_deployments(ctx: CtxDep, request: Request, owner: str, name: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    query = select(Deployment).where(Deployment.repo_id == repo.id)
    for field in ("sha", "ref", "task", "environment"):
        value = request.query_params.get(field)
        if value:
            query = query.where(getattr(Deployment, field) == value)
    rows = ctx.session.scalars(query.order_by(Deployment.id.desc()))
    return paginate(request, [ctx.r.deployment(d) for d in rows])


def _deployment(ctx: Ctx, repo: Repo, deployment_id: int) -> Deployment:
    deployment = ctx.session.get(Deployment, deployment_id)
    if deployment is None or deployment.repo_id != repo.id:
        raise NotFound()
    return deployment


@router.get("/{deployment_id}")
def get_deployment(ctx: CtxDep, owner: str, name: str, deployment_id: int) -> JSONResponse:
    repo = ctx.repo(owner, name)
    return ok(ctx.r.deployment(_deployment(ctx, repo, deployment_id)))


@router.post("/{deployment_id}/statuses", status_code=201)
def create_deployment_status(
    ctx: CtxDep, owner: str, name: str, deployment_id: int, body: DeploymentStatusCreate
) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.WRITE)
    deployment = _deployment(ctx, repo, deployment_id)
    me = ctx.me()
    status = DeploymentStatus(
        deployment_id=deployment.id,
        state=body.state,
        description=body.description,
        environment=body.environment or deployment.environment,
        target_url=body.target_url,
        log_url=body.log_url,
        environment_url=body.environment_url,
        creator_id=me.id,
    )
    ctx.session.add(status)
    deployment.updated_at = utcnow()
    ctx.session.flush()
    events.deployment_status(ctx.r, repo, deployment, status, me)
    return ok(ctx.r.deployment_status(status, deployment), 201)


@router.get("/{deployment_id}/statuses")
def list_deployment_statuses(
    ctx: CtxDep, request: Request, owner: str, name: str, deployment_id: int
) -> JSONResponse:
    repo = ctx.repo(owner, name)
    deployment = _deployment(ctx, repo, deployment_id)
    rows = ctx.session.scalars(
        select(DeploymentStatus)
        .where(DeploymentStatus.deployment_id == deployment.id)
        .order_by(DeploymentStatus.id.desc())
    )
    return paginate(request, [ctx.r.deployment_status(s, deployment) for s in rows])
