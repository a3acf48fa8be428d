"""The forge's ASGI application: REST under /api/v3, git smart HTTP at /<owner>/<repo>.git/."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from forge import githttp
from forge.api import apps, deployments, git_data, hooks, issues, pulls, repos, reviews, statuses, users
from forge.core import Forge
from forge.errors import DOCS, BadJSON, ForgeError, Invalid, NotFound, TooLarge
from forge.web import pages

log = logging.getLogger(__name__)

API_PREFIX = "/api/v3"
# statuses before git_data: its /commits/{ref}/status routes must win over /commits/{ref:path}.
ROUTERS = (users, apps, repos, hooks, statuses, git_data, pulls, reviews, issues, deployments)
MEDIA_TYPE_HEADER = {"X-GitHub-Media-Type": "github.v3; format=json"}


def error_response(exc: ForgeError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=MEDIA_TYPE_HEADER)


def _validation_message(error: dict[str, Any]) -> str:
    field = ".".join(str(part) for part in error.get("loc", ())[1:]) or "body"
    if error.get("type") == "missing":
        return f'"{field}" wasn\'t supplied.'
    return f"For '{field}', {error.get('input')!r} is not valid: {error.get('msg')}."


async def on_validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(BadJSON())
    if any(e.get("loc", ("",))[0] == "path" for e in errors):
        return error_response(NotFound())
    if any(e.get("loc") == ("body",) and e.get("type") == "missing" for e in errors):
        return error_response(BadJSON("Problems parsing JSON"))
    message = "Invalid request.\n\n" + "\n".join(_validation_message(e) for e in errors)
    return error_response(Invalid(message))


async def on_forge_error(_request: Request, exc: ForgeError) -> JSONResponse:
    return error_response(exc)


async def on_http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    # GitHub answers any path it does not serve with 404 Not Found.
    error = ForgeError(str(exc.detail) if exc.status_code != 404 else "Not Found")
    error.status = 404 if exc.status_code == 405 else exc.status_code
    return error_response(error)


async def on_crash(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("forge request failed", exc_info=exc)
    return JSONResponse(
        {"message": "Server Error", "documentation_url": DOCS, "status": "500"}, status_code=500
    )


class BodyLimit:
    """Refuses REST bodies over `limit` bytes with 413 before any route sees them (git bodies stream),
    and marks the others as JSON."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await error_response(TooLarge())(scope, receive, send)
                return
        body = b"".join(chunks)
        if body:
            # GitHub reads every REST body as JSON, whatever Content-Type the client sent (or none).
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
            scope = dict(scope, headers=[*headers, (b"content-type", b"application/json")])
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _unknown_api_path(path: str) -> JSONResponse:
    # Without this, /api/v3/... paths the API does not serve would fall through to git's routes.
    return error_response(NotFound())


def create_app(forge: Forge, *, max_api_body_bytes: int = 8 * 1024 * 1024) -> FastAPI:
    app = FastAPI(title="IntentOps forge", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.forge = forge
    for module in ROUTERS:
        app.include_router(module.router, prefix=API_PREFIX)
    app.add_api_route(
        API_PREFIX + "/{path:path}",
        _unknown_api_path,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    app.include_router(pages.router)  # after the API, before git's catch-all /{owner}/{name}/{rest}
    app.include_router(githttp.router)
    app.add_exception_handler(RequestValidationError, on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(ForgeError, on_forge_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, on_crash)
    app.add_middleware(BodyLimit, limit=max_api_body_bytes)
    return app
