"""Who is signed in, and the CSRF token every form carries.

The session cookie is signed (Starlette's SessionMiddleware, itsdangerous) and holds only a random session
id, the login and the CSRF token: the user's forge token stays on the server, in `TokenVault`, so it is
never sent back to a browser, not even inside a cookie. Each request checks the token against the forge
again (through the cached TokenVerifier), so a revoked token ends the session within a minute.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from bot.dashboard.context import ContextDep
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


@dataclass(frozen=True)
class User:
    """The signed-in person. `token` acts on the forge as them; it never goes into a page or a log."""

    login: str
    token: str
    session_id: str

    def __repr__(self) -> str:
        return f"User(login={self.login!r})"


class TokenVault:
    """Forge tokens of signed-in users, by session id, for a limited time. In memory: a restart signs
    everyone out, which is the safe direction."""

    def __init__(self, *, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, str, str]] = {}
        self._lock = threading.Lock()

    def open(self, login: str, token: str) -> str:
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            self._entries[session_id] = (now + self._ttl, login, token)
        return session_id

    def get(self, session_id: str) -> User | None:
        with self._lock:
            entry = self._entries.get(session_id)
        if entry is None or entry[0] <= self._clock():
            return None
        return User(login=entry[1], token=entry[2], session_id=session_id)

    def close(self, session_id: str) -> None:
        with self._lock:
            self._entries.pop(session_id, None)


class SignInRequired(Exception):
    """Raised by `current_user`; the app answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def vault_of(request: Request) -> TokenVault:
    vault: TokenVault = request.app.state.vault
    return vault


def sign_in(request: Request, login: str, token: str) -> None:
    """Start a fresh session (a new id and CSRF token, so a planted cookie is worth nothing)."""
    old = request.session.get("sid")
    if isinstance(old, str):
        vault_of(request).close(old)
    request.session.clear()
    request.session["sid"] = vault_of(request).open(login, token)
    request.session["login"] = login
    request.session["csrf"] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    sid = request.session.get("sid")
    if isinstance(sid, str):
        vault_of(request).close(sid)
    request.session.clear()


def optional_user(request: Request, context: ContextDep) -> User | None:
    sid = request.session.get("sid")
    user = vault_of(request).get(sid) if isinstance(sid, str) else None
    if user is None:
        return None
    if context.verifier.login(user.token) != user.login:
        sign_out(request)
        return None
    return user


def current_user(request: Request, user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return user


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def require_csrf(request: Request) -> None:
    """Every POST carries the session's CSRF token, as a form field or (htmx) a header."""
    expected = request.session.get("csrf")
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
