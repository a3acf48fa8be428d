"""/user and /users/{login}."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select

from forge.api.common import ok
from forge.api.deps import CtxDep
from forge.errors import NotFound
from forge.models import User

router = APIRouter()


@router.get("/user")
def authenticated_user(ctx: CtxDep) -> JSONResponse:
    return ok(ctx.r.private_user(ctx.me()))


@router.get("/users/{login}")
def get_user(ctx: CtxDep, login: str) -> JSONResponse:
    ctx.me()
    user = ctx.session.scalar(select(User).where(User.login == login))
    if user is None:
        raise NotFound()
    data = ctx.r.user(user) or {}
    data.update({"name": user.name, "email": user.email})
    return ok(data)
