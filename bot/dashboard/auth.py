"""Sign in with a forge token, sign out. The token is checked against the forge and kept server-side;
refused tokens are counted (in the state database, per client address and token prefix), and past a few a
minute the form answers 429 without asking the forge."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from starlette.responses import RedirectResponse, Response

from bot.dashboard.context import ContextDep
from bot.dashboard.rendering import flash, path_for, render
from bot.dashboard.sessions import CsrfChecked, OptionalUserDep, sign_in, sign_out
from bot.dashboard.signinlimit import SignInLimiter, limit_keys
from bot.dashboard.text import (
    FORGE_UNREACHABLE,
    SIGNED_IN,
    SIGNED_OUT,
    TOKEN_MISSING,
    TOKEN_REFUSED,
    TOO_MANY_ATTEMPTS,
)
from bot.vcs.errors import ForgeError

MAX_TOKEN_CHARS = 512

router = APIRouter()


def safe_next(request: Request, target: str) -> str:
    """Only a path on this server: an open redirect would let a link send a signed-in user elsewhere."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return path_for(request, "queue")


def _page(request: Request, target: str, error: str = "", *, status_code: int = 200) -> Response:
    return render(
        request,
        "signin.html",
        {"next": target, "error": error, "title": "Sign in"},
        user=None,
        status_code=status_code,
    )


def limiter_of(request: Request) -> SignInLimiter:
    limiter: SignInLimiter = request.app.state.signin_limiter
    return limiter


def _too_many(request: Request, target: str, wait: int) -> Response:
    response = _page(
        request, target, TOO_MANY_ATTEMPTS.format(seconds=wait), status_code=status.HTTP_429_TOO_MANY_REQUESTS
    )
    response.headers["retry-after"] = str(wait)
    return response


@router.get("/signin", name="signin")
def signin_page(request: Request, user: OptionalUserDep, next: str = "") -> Response:
    target = safe_next(request, next)
    if user is not None:
        return RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    return _page(request, target)


@router.post("/signin", dependencies=[CsrfChecked])
def signin(
    request: Request,
    context: ContextDep,
    token: Annotated[str, Form(max_length=MAX_TOKEN_CHARS)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    target = safe_next(request, next)
    token = token.strip()
    if not token:
        return _page(request, target, TOKEN_MISSING, status_code=status.HTTP_400_BAD_REQUEST)
    limiter = limiter_of(request)
    attempt = limiter.attempt(limit_keys(request.client.host if request.client else "", token))
    if attempt.wait:
        return _too_many(request, target, attempt.wait)
    try:
        login = context.verifier.login(token)
    except (ForgeError, OSError) as exc:
        limiter.settle(attempt)
        error = FORGE_UNREACHABLE.format(error=type(exc).__name__)
        return _page(request, target, error, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    if login is None:  # the attempt stays on record: a refused token
        return _page(request, target, TOKEN_REFUSED, status_code=status.HTTP_401_UNAUTHORIZED)
    limiter.settle(attempt)
    sign_in(request, login, token)
    flash(request, SIGNED_IN.format(login=login))
    return RedirectResponse(target, status.HTTP_303_SEE_OTHER)


@router.post("/signout", name="signout", dependencies=[CsrfChecked])
def signout(request: Request) -> Response:
    sign_out(request)
    flash(request, SIGNED_OUT)
    return RedirectResponse(path_for(request, "signin"), status.HTTP_303_SEE_OTHER)
