"""GitHub App endpoints: the app, its installations, installation access tokens (JWT-authenticated)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from forge.api.common import ok, paginate
from forge.api.deps import Ctx, CtxDep
from forge.apps import app_from_jwt, issue_installation_token
from forge.errors import NotFound
from forge.models import App, Installation, InstallationRepo
from forge.render import Json, node_id, ts

router = APIRouter()

# What an installation may do here: the forge grants its bot write access on the installed repositories.
PERMISSIONS = {
    "checks": "write",
    "contents": "write",
    "deployments": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
}
EVENTS = ["pull_request", "pull_request_review", "push", "issue_comment", "issues", "status"]


def integration_json(ctx: Ctx, app: App) -> Json:
    return {
        "id": app.id,
        "slug": app.slug,
        "node_id": node_id("App", app.id),
        "owner": ctx.r.user(app.owner_id),
        "name": app.name,
        "description": None,
        "external_url": f"{ctx.r.html}/apps/{app.slug}",
        "html_url": f"{ctx.r.html}/apps/{app.slug}",
        "created_at": ts(app.created_at),
        "updated_at": ts(app.created_at),
        "permissions": PERMISSIONS,
        "events": EVENTS,
    }


def installation_json(ctx: Ctx, installation: Installation, app: App) -> Json:
    api = f"{ctx.r.api}/app/installations/{installation.id}"
    return {
        "id": installation.id,
        "account": ctx.r.user(installation.account_id),
        "repository_selection": "selected",
        "access_tokens_url": f"{api}/access_tokens",
        "repositories_url": f"{ctx.r.api}/installation/repositories",
        "html_url": f"{ctx.r.html}/settings/installations/{installation.id}",
        "app_id": app.id,
        "app_slug": app.slug,
        "target_id": installation.account_id,
        "target_type": "User",
        "permissions": PERMISSIONS,
        "events": EVENTS,
        "created_at": ts(installation.created_at),
        "updated_at": ts(installation.created_at),
        "single_file_name": None,
        "suspended_by": None,
        "suspended_at": None,
    }


def _installation(ctx: Ctx, app: App, installation_id: int) -> Installation:
    installation = ctx.session.get(Installation, installation_id)
    if installation is None or installation.app_id != app.id:
        raise NotFound()
    return installation


@router.get("/app")
def get_app(ctx: CtxDep, request: Request) -> JSONResponse:
    return ok(integration_json(ctx, app_from_jwt(ctx.session, request.headers.get("authorization"))))


@router.get("/app/installations")
def list_installations(ctx: CtxDep, request: Request) -> JSONResponse:
    app = app_from_jwt(ctx.session, request.headers.get("authorization"))
    rows = ctx.session.scalars(
        select(Installation).where(Installation.app_id == app.id).order_by(Installation.id)
    )
    return paginate(request, [installation_json(ctx, i, app) for i in rows])


@router.post("/app/installations/{installation_id}/access_tokens", status_code=201)
def create_access_token(ctx: CtxDep, request: Request, installation_id: int) -> JSONResponse:
    app = app_from_jwt(ctx.session, request.headers.get("authorization"))
    installation = _installation(ctx, app, installation_id)
    token, row = issue_installation_token(ctx.session, installation, app)
    return ok(
        {
            "token": token,
            "expires_at": ts(row.expires_at),
            "permissions": PERMISSIONS,
            "repository_selection": "selected",
        },
        201,
    )


@router.get("/repos/{owner}/{name}/installation")
def repo_installation(ctx: CtxDep, request: Request, owner: str, name: str) -> JSONResponse:
    app = app_from_jwt(ctx.session, request.headers.get("authorization"))
    repo = ctx.forge.find_repo(ctx.session, owner, name)
    installation = ctx.session.scalar(
        select(Installation)
        .join(InstallationRepo, InstallationRepo.installation_id == Installation.id)
        .where(Installation.app_id == app.id, InstallationRepo.repo_id == (repo.id if repo else -1))
    )
    if installation is None:
        raise NotFound()
    return ok(installation_json(ctx, installation, app))
