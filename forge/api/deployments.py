"""Deployments and deployment statuses."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from forge import events
from forge.api.common import Body, ok, paginate
from forge.api.deps import Ctx, CtxDep
from forge.core import Perm
from forge.errors import Invalid, NotFound
from forge.models import Deployment, DeploymentStatus, Repo, utcnow

router = APIRouter(prefix="/repos/{owner}/{name}/deployments")


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
