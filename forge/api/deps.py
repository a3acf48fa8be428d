"""What every route needs: the forge, a session, the authenticated user and a renderer."""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from forge.core import Forge, Perm
from forge.errors import BadCredentials, Unauthorized
from forge.models import Repo, User
from forge.render import Renderer


def get_forge(request: Request) -> Forge:
    forge: Forge = request.app.state.forge
    return forge


def token_from_header(value: str | None) -> str | None:
    """The token of `token X`, `Bearer X` or HTTP Basic with the token as password (as git sends it)."""
    if not value:
        return None
    scheme, _, credentials = value.strip().partition(" ")
    scheme = scheme.lower()
    if scheme in {"token", "bearer"}:
        return credentials.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        user, _, password = decoded.partition(":")
        # git sends `login:token`; GitHub also takes `token:x-oauth-basic` (the token as the user name).
        return user if password in {"", "x-oauth-basic"} else password
    return ""


def authenticate(forge: Forge, session: Session, header: str | None) -> User | None:
    """None for an anonymous request; 401 Bad credentials for a token that is not ours."""
    token = token_from_header(header)
    if token is None or token.count(".") == 2:  # no token, or an app's JWT (checked by the app routes)
        return None
    user = forge.authenticate(session, token) if token else None
    if user is None:
        raise BadCredentials()
    return user


@dataclass
class Ctx:
    forge: Forge
    session: Session
    user: User | None
    r: Renderer
    held: ExitStack

    def hold(self, lock: threading.Lock) -> None:
        """Take `lock` until this request's transaction has committed or rolled back, so what was checked
        under it and what was written under it become visible to the next holder together."""
        self.held.enter_context(lock)

    def me(self) -> User:
        if self.user is None:
            raise Unauthorized()
        return self.user

    def repo(self, owner: str, name: str, need: Perm = Perm.READ) -> Repo:
        if need > Perm.READ:
            self.me()
        return self.forge.require(self.session, self.user, owner, name, need)


def context(request: Request) -> Iterator[Ctx]:
    """One transaction per request; the webhooks it caused are queued only once it has committed."""
    forge = get_forge(request)
    # Locks taken with `ctx.hold` are released once the session has committed and its events are queued,
    # so the next holder sees the writes and its events come after these.
    with ExitStack() as held:
        with forge.db.session() as session:
            user = authenticate(forge, session, request.headers.get("authorization"))
            ctx = Ctx(forge, session, user, Renderer(forge, session), held)
            yield ctx
        ctx.r.flush_events()


# "function" scope: the transaction commits before the response is sent, so a client that reads right
# after a write (or a webhook receiver that calls back) sees the change.
CtxDep = Annotated[Ctx, Depends(context, scope="function")]
