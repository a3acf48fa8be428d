"""The FastAPI router serving `POST /webhook`, and the answers it documents in the bot's OpenAPI."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.webhooks.deliveries import DeliveryOutcome
from bot.webhooks.intake import DeliveryNotRecorded, WebhookIntake
from bot.webhooks.verification import HOOK_ID_HEADER, WebhookRejected, is_utf8_json, read_body, verify
from bot.webhooks.writer import DeliveryWriter

log = logging.getLogger(__name__)

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
        response = await self.answer(Request(scope, receive))
        await response(scope, receive, send)

    async def answer(self, request: Request) -> JSONResponse:
        try:
            body = await read_body(request, limit=self.max_bytes)
            event = verify(request.headers, body, secret=self.secret)
        except WebhookRejected as exc:
            log.warning("refused webhook delivery (%d): %s", exc.status, exc.message)
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        hook_id = request.headers.get(HOOK_ID_HEADER, "")
        json_body = is_utf8_json(request.headers.get("content-type", ""))
        pending = self.intake.prepare(event, body, hook_id=hook_id, body_is_json=json_body)
        try:
            receipt = await self.writer.write(pending)
        except DeliveryNotRecorded:
            return JSONResponse({"error": NOT_RECORDED}, status_code=HTTPStatus.SERVICE_UNAVAILABLE)
        if receipt.jobs and self.on_queued is not None:
            self.on_queued()
        status = HTTPStatus.OK if receipt.outcome is DeliveryOutcome.PING else HTTPStatus.ACCEPTED
        content = {"status": receipt.outcome.value, "delivery": receipt.delivery_id, "jobs": receipt.jobs}
        return JSONResponse(content, status_code=status)


def webhook_router(
    intake: WebhookIntake, *, secret: str, max_bytes: int, on_queued: Callable[[], None] | None = None
) -> APIRouter:
    """The FastAPI router serving `POST /webhook`: the plain endpoint first, then the FastAPI route that
    documents its answers in the OpenAPI (routes match in order, so that one is never reached)."""
    router = APIRouter()
    endpoint = WebhookEndpoint(intake, secret=secret, max_bytes=max_bytes, on_queued=on_queued)
    router.routes.append(Route("/webhook", endpoint, methods=["POST"], include_in_schema=False))

    @router.post("/webhook", status_code=HTTPStatus.ACCEPTED, responses=WEBHOOK_RESPONSES)
    async def receive_webhook(request: Request) -> JSONResponse:
        """A GitHub webhook delivery, signed with X-Hub-Signature-256: recorded, its jobs queued, then 202
        (a ping: 200; the same delivery again: 202 `duplicate`)."""
        return await endpoint.answer(request)

    return router
