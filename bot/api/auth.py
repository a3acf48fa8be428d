"""Who is calling: a forge (or GitHub) token, checked against the forge itself and cached briefly.

The API holds no user database: the forge decides who a token belongs to and what it may do, exactly as
it does for git pushes. Tokens are kept only as SHA-256 digests in the cache.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Caller:
    login: str
    token: str

    def __repr__(self) -> str:  # never show the token in logs or tracebacks
        return f"Caller(login={self.login!r})"


class TokenVerifier:
    def __init__(self, login_for_token: Callable[[str], str | None], *, ttl: float = CACHE_SECONDS) -> None:
        self._login_for_token = login_for_token
        self._ttl = ttl
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def login(self, token: str) -> str | None:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit and now - hit[0] < self._ttl:
                return hit[1]
        login = self._login_for_token(token)
        with self._lock:
            self._cache[key] = (now, login)
        return login


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in {"bearer", "token"} and value.strip():
        return value.strip()
    return None


# Declares the scheme in the OpenAPI (clients and schemathesis see how to authenticate). The header is read
# by `bearer_token`, which also takes GitHub's `token <value>` form; this one never refuses on its own.
FORGE_TOKEN = HTTPBearer(
    auto_error=False,
    scheme_name="forgeToken",
    description="A forge (or GitHub) token of the caller: `Authorization: Bearer <token>`.",
)
UNAUTHORIZED = "send a forge token: 'Authorization: Bearer <token>'"


def require_caller(
    request: Request, _scheme: Annotated[HTTPAuthorizationCredentials | None, Security(FORGE_TOKEN)]
) -> Caller:
    token = bearer_token(request)
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
    )
    if token is None:
        raise unauthorized
    verifier: TokenVerifier = request.app.state.token_verifier
    login = verifier.login(token)
    if login is None:
        raise unauthorized
    return Caller(login=login, token=token)


CallerDep = Annotated[Caller, Depends(require_caller)]
