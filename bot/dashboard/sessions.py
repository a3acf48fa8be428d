"""Who is signed in, and the CSRF token every form carries.

The session cookie is signed (Starlette's SessionMiddleware, itsdangerous) and holds only a random session
id (before sign-in, the sign-in form's CSRF token): the login, the session's CSRF token and the user's
forge token stay on the server, in the state database (`sessionstore`), so the token is never sent back to
a browser, not even inside a cookie. Each request checks the token against the forge again (through the
cached TokenVerifier), so a revoked token ends the session within a minute.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from bot.dashboard.context import ContextDep
from bot.dashboard.sessionstore import SessionStore, User
from bot.dashboard.text import CSRF_FAILED, SECRET_MISSING, SECRET_PLACEHOLDER, SECRET_TOO_SHORT
from bot.settings import PLACEHOLDER_SECRETS, Settings

SESSION_COOKIE = "intentops_dashboard"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MIN_SECRET_LENGTH = 32


class DashboardConfigError(ValueError):
    """The dashboard cannot start with these settings."""


def session_secret(settings: Settings) -> str:
    """The cookie-signing secret: required and real outside development, random per process inside it."""
    secret = settings.dashboard_secret.get_secret_value() if settings.dashboard_secret else ""
    if settings.environment == "development":
        return secret or secrets.token_urlsafe(48)
    if not secret:
        raise DashboardConfigError(SECRET_MISSING)
    if secret.strip().lower() in PLACEHOLDER_SECRETS:
        raise DashboardConfigError(SECRET_PLACEHOLDER)
    if len(secret) < MIN_SECRET_LENGTH:
        raise DashboardConfigError(SECRET_TOO_SHORT.format(length=MIN_SECRET_LENGTH))
    return secret


class SignInRequired(Exception):
    """Raised by `current_user`; the app answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def store_of(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def sign_in(request: Request, login: str, token: str) -> None:
    """Start a fresh session (a new id and CSRF token, so a planted cookie is worth nothing)."""
    old = request.session.get("sid")
    if isinstance(old, str):
        store_of(request).close(old)
    request.session.clear()
    request.session["sid"] = store_of(request).open(login, token)


def sign_out(request: Request) -> None:
    sid = request.session.get("sid")
    if isinstance(sid, str):
        store_of(request).close(sid)
    request.session.clear()


def optional_user(request: Request, context: ContextDep) -> User | None:
    sid = request.session.get("sid")
    if not isinstance(sid, str):
        return None
    stored = store_of(request).get(sid)
    if stored is None:
        # Ended (idle, expired, signed out elsewhere): a form posted now sends the user to sign in again.
        request.session.pop("sid", None)
        request.state.session_ended = True
        return None
    if context.verifier.login(stored.token) != stored.login:
        sign_out(request)
        return None
    return stored


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def current_user(request: Request, user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise SignInRequired(_here(request))
    return user


def csrf_token(request: Request, user: User | None) -> str:
    """The token forms carry: the session's once signed in, else one kept in the cookie (sign-in form)."""
    if user is not None:
        return user.csrf
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def require_csrf(request: Request, user: Annotated[User | None, Depends(optional_user)]) -> None:
    """Every POST carries the session's CSRF token, as a form field or (htmx) a header."""
    if user is None and getattr(request.state, "session_ended", False):
        raise SignInRequired(_here(request))
    expected = user.csrf if user is not None else request.session.get("csrf")
    sent: object = request.headers.get(CSRF_HEADER)
    if sent is None:
        sent = (await request.form()).get(CSRF_FIELD)
    if not isinstance(expected, str) or not isinstance(sent, str):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_FAILED)
    if not secrets.compare_digest(expected.encode(), sent.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_FAILED)


UserDep = Annotated[User, Depends(current_user)]
OptionalUserDep = Annotated[User | None, Depends(optional_user)]
CsrfChecked = Depends(require_csrf)
