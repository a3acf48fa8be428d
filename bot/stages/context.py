"""What a stage app's routes share: its token, its files' root and the implementations it serves."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request
from pydantic import SecretStr

from pipeline.factory.interfaces import FactoryStages

UNAUTHORIZED = "missing or wrong bearer token"


@dataclass(frozen=True)
class StageContext:
    token: SecretStr
    files_root: Path | None
    stages: FactoryStages


def authenticated(request: Request) -> StageContext:
    """The app's context, once the request carries its bearer token (401 otherwise)."""
    context: StageContext = request.app.state.stage_context
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = context.token.get_secret_value()
    # compare_digest: the time taken must not tell how much of a guessed token was right.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status_code=401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
    return context
