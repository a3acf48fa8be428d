"""`POST /webhook`: the endpoint (answered ahead of the app's routing) and the FastAPI route
that documents its answers in the bot's OpenAPI."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.webhooks.deliveries import DeliveryOutcome
from bot.webhooks.intake import DeliveryNotRecorded, WebhookIntake
from bot.webhooks.verification import HOOK_ID_HEADER, WebhookRejected, is_utf8_json, read_body, verify
from bot.webhooks.writer import DeliveryWriter

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook"
NOT_RECORDED = "the delivery could not be recorded; deliver it again later"


class Accepted(BaseModel):
    status: str
    """What became of the delivery: `queued`, `duplicate`, `ignored`, `ping`, ..."""
    delivery: str
    jobs: int


class Refused(BaseModel):
    error: str


def _answer(description: str, model: type[BaseModel]) -> dict[str, Any]:
    return {"description": description, "model": model}


WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    HTTPStatus.OK: _answer("a ping, recorded", Accepted),
    HTTPStatus.ACCEPTED: _answer(
        "recorded and queued (or a duplicate, or an event nothing handles)", Accepted
    ),
    HTTPStatus.BAD_REQUEST: _answer("missing GitHub headers, a body that is not a JSON object", Refused),
    HTTPStatus.UNAUTHORIZED: _answer("no X-Hub-Signature-256, or one that does not match the body", Refused),
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: _answer("a body over INTENTOPS_WEBHOOK_MAX_BYTES", Refused),
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: _answer("a content type GitHub does not send", Refused),
    HTTPStatus.SERVICE_UNAVAILABLE: _answer("the state database failed: nothing was recorded", Refused),
}


class WebhookEndpoint:
    """`POST /webhook` as a plain ASGI app: each delivery skips FastAPI's per-request wrapping (request
    objects, dependency solving, response validation), which cost more than verifying it."""

    def __init__(
        self,
        intake: WebhookIntake,
        *,
        secret: str,
        max_bytes: int,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.intake = intake
        self.writer = DeliveryWriter(intake)
        self.secret = secret
        self.max_bytes = max_bytes
        self.on_queued = on_queued

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, content = await self.answer(Headers(scope=scope), receive)
        # What JSONResponse sends, without building one per delivery.
        body = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def answer(self, headers: Headers, receive: Receive) -> tuple[HTTPStatus, dict[str, Any]]:
        """The status and JSON content of the answer to the delivery `receive` brings."""
        try:
            body = await read_body(headers, receive, limit=self.max_bytes)
            event = verify(headers, body, secret=self.secret)
        except WebhookRejected as exc:
            log.warning("refused webhook delivery (%d): %s", exc.status, exc.message)
            return exc.status, {"error": exc.message}
        hook_id = headers.get(HOOK_ID_HEADER, "")
        json_body = is_utf8_json(headers.get("content-type", ""))
        pending = self.intake.prepare(event, body, hook_id=hook_id, body_is_json=json_body)
        try:
            receipt = await self.writer.write(pending)
        except DeliveryNotRecorded:
            return HTTPStatus.SERVICE_UNAVAILABLE, {"error": NOT_RECORDED}
        if receipt.jobs and self.on_queued is not None:
            self.on_queued()
        status = HTTPStatus.OK if receipt.outcome is DeliveryOutcome.PING else HTTPStatus.ACCEPTED
        return status, {
            "status": receipt.outcome.value,
            "delivery": receipt.delivery_id,
            "jobs": receipt.jobs,
        }


class WebhookFirst:
    """Middleware handing `POST /webhook` to its endpoint ahead of the app's inner middleware and routing
    (exception handlers, the exit stack, matching every route): the endpoint needs none of them."""

    def __init__(self, app: ASGIApp, endpoint: WebhookEndpoint) -> None:
        self.app = app
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == WEBHOOK_PATH and scope["method"] == "POST":
            await self.endpoint(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def webhook_router(endpoint: WebhookEndpoint) -> APIRouter:
    """The FastAPI router serving `POST /webhook`: the plain endpoint first, then the FastAPI route that
    documents its answers in the OpenAPI (routes match in order, so that one is never reached)."""
    router = APIRouter()
    router.routes.append(Route(WEBHOOK_PATH, endpoint, methods=["POST"], include_in_schema=False))

    @router.post(WEBHOOK_PATH, status_code=HTTPStatus.ACCEPTED, responses=WEBHOOK_RESPONSES)
    async def receive_webhook(request: Request) -> JSONResponse:
        """A GitHub webhook delivery, signed with X-Hub-Signature-256: recorded, its jobs queued, then 202
        (a ping: 200; the same delivery again: 202 `duplicate`)."""
        status, content = await endpoint.answer(request.headers, request.receive)
        return JSONResponse(content, status_code=status)

    return router


def add_webhook(
    app: FastAPI,
    intake: WebhookIntake,
    *,
    secret: str,
    max_bytes: int,
    on_queued: Callable[[], None] | None = None,
) -> WebhookEndpoint:
    """Serve `POST /webhook` on `app`: first in its middleware (add the middleware that must see the
    webhook, such as the metrics', after this), and documented in its OpenAPI."""
    endpoint = WebhookEndpoint(intake, secret=secret, max_bytes=max_bytes, on_queued=on_queued)
    app.include_router(webhook_router(endpoint))
    app.add_middleware(WebhookFirst, endpoint=endpoint)
    return endpoint
