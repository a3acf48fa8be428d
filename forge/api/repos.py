"""Repositories: get, create, update, delete; collaborators and their permission."""

from __future__ import annotations

import shutil

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from forge.api.common import Body, no_content, ok, paginate
from forge.api.deps import CtxDep
from forge.core import Perm
from forge.errors import Invalid, NotFound
from forge.models import Collaborator, User, utcnow
from forge.render import permissions_json

router = APIRouter()


class RepoCreate(Body):
    name: str
    description: str | None = None
    private: bool = True
    auto_init: bool = True


class RepoUpdate(Body):
    description: str | None = None
    private: bool | None = None
    default_branch: str | None = None


class CollaboratorAdd(Body):
    permission: str = "push"


@router.post("/user/repos", status_code=201)
def create_repo(ctx: CtxDep, body: RepoCreate) -> JSONResponse:
    me = ctx.me()
    repo = ctx.forge.create_repo(me.login, body.name, private=body.private, description=body.description)
    return ok(ctx.r.repo(ctx.session.merge(repo), viewer=me), 201)


@router.get("/repos/{owner}/{name}")
def get_repo(ctx: CtxDep, owner: str, name: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    return ok(ctx.r.repo(repo, viewer=ctx.user))


@router.patch("/repos/{owner}/{name}")
def update_repo(ctx: CtxDep, owner: str, name: str, body: RepoUpdate) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.ADMIN)
    if body.default_branch is not None:
        if ctx.forge.bare(ctx.session, repo).branch_sha(body.default_branch) is None:
            raise Invalid.field("Repository", "default_branch", message="Branch not found")
        repo.default_branch = body.default_branch
    if body.description is not None:
        repo.description = body.description
    if body.private is not None:
        repo.private = body.private
    repo.updated_at = utcnow()
    return ok(ctx.r.repo(repo, viewer=ctx.user))


@router.delete("/repos/{owner}/{name}")
def delete_repo(ctx: CtxDep, owner: str, name: str) -> Response:
    repo = ctx.repo(owner, name, Perm.ADMIN)
    path = ctx.forge.bare(ctx.session, repo).path
    ctx.forge.delete_repo_rows(ctx.session, repo)
    shutil.rmtree(path, ignore_errors=True)
    return no_content()


@router.put("/repos/{owner}/{name}/collaborators/{login}")
def add_collaborator(
    ctx: CtxDep, owner: str, name: str, login: str, body: CollaboratorAdd | None = None
) -> Response:
    repo = ctx.repo(owner, name, Perm.ADMIN)
    level = Perm.parse((body or CollaboratorAdd()).permission)
    user = ctx.forge.user_by_login(ctx.session, login)
    row = ctx.session.get(Collaborator, (repo.id, user.id))
    if row is None:
        ctx.session.add(Collaborator(repo_id=repo.id, user_id=user.id, permission=level.name.lower()))
    else:
        row.permission = level.name.lower()
    return no_content()


@router.get("/repos/{owner}/{name}/collaborators")
def list_collaborators(ctx: CtxDep, request: Request, owner: str, name: str) -> JSONResponse:
    """The owner and every collaborator, each with GitHub's `permissions` booleans and `role_name`."""
    repo = ctx.repo(owner, name)
    rows = ctx.session.scalars(select(Collaborator).where(Collaborator.repo_id == repo.id)).all()
    users = [ctx.r.get_user(repo.owner_id), *(ctx.r.get_user(row.user_id) for row in rows)]
    items = []
    for user in users:
        perm = ctx.forge.permission(ctx.session, user, repo)
        data = ctx.r.user(user) or {}
        data["permissions"] = permissions_json(perm)
        data["role_name"] = perm.name.lower()
        items.append(data)
    return paginate(request, items)


@router.get("/repos/{owner}/{name}/collaborators/{login}")
def is_collaborator(ctx: CtxDep, owner: str, name: str, login: str) -> Response:
    repo = ctx.repo(owner, name)
    user = ctx.forge.user_by_login(ctx.session, login)
    if user.id != repo.owner_id and ctx.session.get(Collaborator, (repo.id, user.id)) is None:
        raise NotFound()
    return no_content()


@router.get("/repos/{owner}/{name}/collaborators/{login}/permission")
def collaborator_permission(ctx: CtxDep, owner: str, name: str, login: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    user: User = ctx.forge.user_by_login(ctx.session, login)
    perm = ctx.forge.permission(ctx.session, user, repo)
    return ok({"permission": perm.legacy, "role_name": perm.name.lower(), "user": ctx.r.user(user)})
