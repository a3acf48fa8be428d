"""`GET /readyz`: the bot can work, meaning its state database answers and so does the forge's API.

`/healthz` stays a constant answer (the process is alive); `/readyz` is what a load balancer or an
orchestrator asks before sending traffic: 200 when every check passes, else 503 naming the failing ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.settings import Settings
from pipeline.state import Database

READY_PATH = "/readyz"
CHECK_TIMEOUT_S = 3.0
GITHUB_API = "https://api.github.com"
OK = "ok"
NOT_CONFIGURED = "not configured (no GITHUB_TOKEN or GITHUB_APP_ID)"
DATABASE_DOWN = "the state database does not answer: {reason}"
FORGE_DOWN = "the forge's API at {url} does not answer: {reason}"
FORGE_FAILING = "the forge's API at {url} answers {status}"


@dataclass(frozen=True)
class Readiness:
    database: str
    forge: str

    @property
    def ready(self) -> bool:
        return self.database == OK and self.forge in (OK, NOT_CONFIGURED)


def check_database(database: Database) -> str:
    try:
        with database.session() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return DATABASE_DOWN.format(reason=type(exc).__name__)
    return OK


def forge_api_url(settings: Settings) -> str | None:
    if not settings.uses_github:
        return None
    return (settings.github_base_url or GITHUB_API).rstrip("/")


def check_forge(url: str | None) -> str:
    """Any answer below 500 from the API's root is a forge that serves (GitHub's root answers 200)."""
    if url is None:
        return NOT_CONFIGURED
    try:
        response = httpx.get(url + "/", timeout=CHECK_TIMEOUT_S, follow_redirects=False)
    except httpx.HTTPError as exc:
        return FORGE_DOWN.format(url=url, reason=type(exc).__name__)
    if response.status_code >= 500:
        return FORGE_FAILING.format(url=url, status=response.status_code)
    return OK


def add_readiness(app: FastAPI, settings: Settings, database: Database) -> None:
    forge_url = forge_api_url(settings)

    @app.get(READY_PATH, include_in_schema=False)
    def readyz() -> JSONResponse:
        readiness = Readiness(database=check_database(database), forge=check_forge(forge_url))
        body = {"status": "ready" if readiness.ready else "not ready", "checks": readiness.__dict__}
        return JSONResponse(body, status_code=200 if readiness.ready else 503)
