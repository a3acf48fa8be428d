"""`POST /webhook`: verify, record the delivery, enqueue one job per matching route, answer 202.

The request path does no work beyond that. The delivery row and its jobs are written in one transaction
before the answer, so an acknowledged delivery is never lost, and a delivery seen before (same delivery
id and hook id: GitHub shares the delivery GUID between all hooks of one event) is acknowledged without
being processed again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from gidgethub import BadRequest, ValidationFailure, sansio
from pydantic import BaseModel
from sqlalchemy import JSON, Double, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.schema import Table
from starlette.concurrency import run_in_threadpool

from bot.events import EventName, MalformedEvent, action_of, parse_event, sender_login
from bot.queue import Job, JobQueue, insert_new
from bot.routing import BotContext, EventRoute, PermanentJobError, Routes
from pipeline.state import Base, Database

log = logging.getLogger(__name__)

EVENT_JOB_KIND = "github-event"
EVENT_JOB_PRIORITY = 100
"""Above every intent priority: dispatching an event is quick and decides what else gets queued."""

SIGNATURE_HEADER = "x-hub-signature-256"
HOOK_ID_HEADER = "x-github-hook-id"
MAX_DELIVERY_ID = 100
MAX_EVENT_NAME = 100
MAX_HOOK_ID = 40

MISSING_SIGNATURE = "missing X-Hub-Signature-256 header"
BAD_SIGNATURE = "signature does not match the payload"
TOO_LARGE = "payload larger than {limit} bytes"
BAD_LENGTH = "invalid Content-Length header"
MISSING_HEADERS = "missing X-GitHub-Event or X-GitHub-Delivery header"
BAD_JSON = "body is not valid JSON"
NOT_AN_OBJECT = "payload must be a JSON object"
UNSUPPORTED_TYPE = "expected a content-type of application/json or application/x-www-form-urlencoded"
BAD_IDENTIFIERS = "X-GitHub-Delivery, X-GitHub-Event or X-GitHub-Hook-ID is empty or too long"
NO_DELIVERY = "delivery {row} no longer exists"
NO_ROUTE = "no handler named {route} (was it removed?)"


class DeliveryOutcome(StrEnum):
    QUEUED = "queued"
    """At least one route matched; one job per route was enqueued."""
    IGNORED = "ignored"
    """No route handles this event or action."""
    OWN = "own-event"
    """Caused by the bot's own account, and no matching route asked for those."""
    PING = "ping"
    DUPLICATE = "duplicate"
    """Seen before: acknowledged, not recorded or processed again (never stored)."""


class DeliveryRow(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("delivery_id", "hook_id", name="uq_webhook_delivery"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(MAX_DELIVERY_ID))
    hook_id: Mapped[str] = mapped_column(String(MAX_HOOK_ID))
    event: Mapped[str] = mapped_column(String(MAX_EVENT_NAME))
    action: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sender: Mapped[str | None] = mapped_column(String(100), nullable=True)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """Kept only for queued deliveries: their jobs read it."""
    outcome: Mapped[str] = mapped_column(String(16))
    jobs: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[float] = mapped_column(Double)


DELIVERIES: Table = DeliveryRow.__table__  # type: ignore[assignment]


class WebhookRejected(Exception):
    """The request is refused with `status`; `message` is safe to show the sender."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Receipt:
    outcome: DeliveryOutcome
    delivery_id: str
    jobs: int = 0


def verify(headers: Mapping[str, str], body: bytes, *, secret: str) -> sansio.Event:
    """The signed event, or `WebhookRejected`. The signature is checked before anything else is read."""
    if not headers.get(SIGNATURE_HEADER):
        raise WebhookRejected(HTTPStatus.UNAUTHORIZED, MISSING_SIGNATURE)
    try:
        # With X-Hub-Signature-256 present, gidgethub checks it (HMAC-SHA256, hmac.compare_digest).
        event = sansio.Event.from_http(headers, body, secret=secret)
    except ValidationFailure:
        raise WebhookRejected(HTTPStatus.UNAUTHORIZED, BAD_SIGNATURE) from None
    except KeyError:
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, MISSING_HEADERS) from None
    except BadRequest as exc:
        # gidgethub reports undecodable JSON as an unsupported content type; say what is wrong instead.
        json_body = headers.get("content-type", "").startswith("application/json")
        if json_body and isinstance(exc.__cause__, ValueError):
            raise WebhookRejected(HTTPStatus.BAD_REQUEST, BAD_JSON) from None
        raise WebhookRejected(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, UNSUPPORTED_TYPE) from None
    if not isinstance(event.data, dict):
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, NOT_AN_OBJECT)
    # Duplicates are detected on these two values: refuse what would not be stored as sent.
    if not 0 < len(event.delivery_id) <= MAX_DELIVERY_ID or not 0 < len(event.event) <= MAX_EVENT_NAME:
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, BAD_IDENTIFIERS)
    if len(headers.get(HOOK_ID_HEADER, "")) > MAX_HOOK_ID:
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, BAD_IDENTIFIERS)
    return event


class WebhookIntake:
    """Records verified deliveries and enqueues their event jobs (synchronous: run it off the event loop)."""

    def __init__(
        self,
        *,
        routes: Routes,
        queue: JobQueue,
        bot_login: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.routes = routes
        self.queue = queue
        self.bot_login = bot_login
        self.clock = clock

    def outcome_for(self, event: sansio.Event) -> tuple[DeliveryOutcome, list[EventRoute]]:
        if event.event == EventName.PING:
            return DeliveryOutcome.PING, []
        own = self.bot_login is not None and sender_login(event.data) == self.bot_login
        routes = self.routes.matching(event.event, event.data, own=own)
        if routes:
            return DeliveryOutcome.QUEUED, routes
        if own and self.routes.matching(event.event, event.data):
            return DeliveryOutcome.OWN, []
        return DeliveryOutcome.IGNORED, []

    def record(self, event: sansio.Event, body: bytes, *, hook_id: str) -> Receipt:
        outcome, routes = self.outcome_for(event)
        with self.queue.database.session() as session:
            row_id = insert_new(
                session,
                DELIVERIES,
                self._row(event, body, hook_id, outcome, len(routes)),
                unique=["delivery_id", "hook_id"],
            )
            if row_id is None:
                return Receipt(DeliveryOutcome.DUPLICATE, event.delivery_id)
            for route in routes:
                self._enqueue(session, event, hook_id, row_id, route)
        if outcome is DeliveryOutcome.IGNORED:
            log.info("ignored %s delivery %s: no handler for it", _describe(event), event.delivery_id)
        return Receipt(outcome, event.delivery_id, len(routes))

    def _row(
        self, event: sansio.Event, body: bytes, hook_id: str, outcome: DeliveryOutcome, jobs: int
    ) -> dict[str, Any]:
        return {
            "delivery_id": event.delivery_id,
            "hook_id": hook_id,
            "event": event.event,
            "action": (action_of(event.data) or "")[:100] or None,
            "sender": (sender_login(event.data) or "")[:100] or None,
            "payload_sha256": hashlib.sha256(body).hexdigest(),
            "payload": event.data if outcome is DeliveryOutcome.QUEUED else None,
            "outcome": outcome.value,
            "jobs": jobs,
            "received_at": self.clock(),
        }

    def _enqueue(
        self, session: Session, event: sansio.Event, hook_id: str, row_id: int, route: EventRoute
    ) -> None:
        self.queue.enqueue(
            EVENT_JOB_KIND,
            key=f"event:{event.delivery_id}:{hook_id}:{route.name}",
            payload={"delivery": row_id, "route": route.name, "event": event.event},
            priority=EVENT_JOB_PRIORITY,
            session=session,
        )


def prune_deliveries(database: Database, before: float) -> int:
    """Delete deliveries received before `before`. A redelivery of one of them is then processed again:
    the retention must stay longer than any redelivery one would make."""
    with database.session() as session:
        result = session.execute(delete(DELIVERIES).where(DELIVERIES.c.received_at < before))
        return int(result.rowcount)  # type: ignore[attr-defined]


def _describe(event: sansio.Event) -> str:
    action = action_of(event.data)
    return f"{event.event}.{action}" if action else event.event


def event_job_handler(routes: Routes) -> Callable[[Job, BotContext], None]:
    """The handler of `github-event` jobs: parse the stored payload and run the route the job names."""

    def run_event_job(job: Job, context: BotContext) -> None:
        route = routes.event_route(str(job.payload.get("route")))
        if route is None:
            raise PermanentJobError(NO_ROUTE.format(route=job.payload.get("route")))
        with context.database.session() as session:
            payload = session.execute(
                select(DELIVERIES.c.payload).where(DELIVERIES.c.id == job.payload.get("delivery"))
            ).scalar_one_or_none()
        if payload is None:
            raise PermanentJobError(NO_DELIVERY.format(row=job.payload.get("delivery")))
        try:
            event = parse_event(route.event, payload)
        except MalformedEvent as exc:
            raise PermanentJobError(str(exc)) from None
        if event is None:
            raise PermanentJobError(f"event {route.event!r} has no model in bot.events")
        route.handler(event, context)

    return run_event_job


async def read_body(request: Request, *, limit: int) -> bytes:
    """The body, refusing (413) anything over `limit` bytes without reading more than that."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise WebhookRejected(HTTPStatus.BAD_REQUEST, BAD_LENGTH) from None
        if length > limit:
            raise WebhookRejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, TOO_LARGE.format(limit=limit))
    chunks: list[bytes] = []
    size = 0
    # Chunked bodies have no Content-Length, and a declared length can lie: count what arrives.
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookRejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, TOO_LARGE.format(limit=limit))
        chunks.append(chunk)
    return b"".join(chunks)


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
}


def webhook_router(
    intake: WebhookIntake, *, secret: str, max_bytes: int, on_queued: Callable[[], None] | None = None
) -> APIRouter:
    """The FastAPI router serving `POST /webhook`."""
    router = APIRouter()

    @router.post("/webhook", status_code=HTTPStatus.ACCEPTED, responses=WEBHOOK_RESPONSES)
    async def receive_webhook(request: Request) -> JSONResponse:
        """A GitHub webhook delivery, signed with X-Hub-Signature-256: recorded, its jobs queued, then 202
        (a ping: 200; the same delivery again: 202 `duplicate`)."""
        try:
            body = await read_body(request, limit=max_bytes)
            event = verify(request.headers, body, secret=secret)
        except WebhookRejected as exc:
            log.warning("refused webhook delivery (%d): %s", exc.status, exc.message)
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        hook_id = request.headers.get(HOOK_ID_HEADER, "")
        receipt = await run_in_threadpool(intake.record, event, body, hook_id=hook_id)
        if receipt.jobs and on_queued is not None:
            on_queued()
        status = HTTPStatus.OK if receipt.outcome is DeliveryOutcome.PING else HTTPStatus.ACCEPTED
        content = {"status": receipt.outcome.value, "delivery": receipt.delivery_id, "jobs": receipt.jobs}
        return JSONResponse(content, status_code=status)

    return router
