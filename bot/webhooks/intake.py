"""A verified delivery recorded, and one `github-event` job enqueued per matching route, in one transaction.

Synchronous: the HTTP endpoint prepares each delivery on the event loop (no I/O) and has the writer
(writer.py) insert it off the loop, many deliveries to a transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gidgethub import sansio
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError

from bot.events import EventName, action_of, sender_login
from bot.queue import JOBS, JobQueue, driver_insert
from bot.routing import EventRoute, Routes
from bot.webhooks.deliveries import DELIVERIES, DeliveryOutcome

log = logging.getLogger(__name__)

EVENT_JOB_KIND = "github-event"
EVENT_JOB_PRIORITY = 100
"""Above every intent priority: dispatching an event is quick and decides what else gets queued."""
DELIVERY_UNIQUE = ("delivery_id", "hook_id")
JOB_UNIQUE = ("key",)


class EventJobPayload(BaseModel):
    """A `github-event` job: which stored delivery to parse, and which route to run it through."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivery: int = Field(ge=1)
    """The delivery's row in the deliveries table (its payload is stored there, not in the job)."""
    route: str = Field(min_length=1, max_length=300)
    event: str = Field(default="", max_length=100)
    """The event's name, for people reading the queue."""


class DeliveryNotRecorded(Exception):
    """The database refused or failed the transaction holding this delivery: nothing of it was stored."""


@dataclass(frozen=True)
class PendingDelivery:
    """A verified delivery, routed, not yet written: the row to insert and the routes to enqueue."""

    event: sansio.Event
    hook_id: str
    row: dict[str, Any]
    """The `webhook_deliveries` row, its payload as JSON text."""
    routes: list[EventRoute]


@dataclass(frozen=True)
class Receipt:
    outcome: DeliveryOutcome
    delivery_id: str
    jobs: int = 0


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
        """Record one delivery in a transaction of its own (the HTTP endpoint batches them instead)."""
        pending = self.prepare(event, body, hook_id=hook_id)
        (receipt,) = self.write([pending])
        self.report(pending, receipt)
        return receipt

    def prepare(
        self, event: sansio.Event, body: bytes, *, hook_id: str, body_is_json: bool = False
    ) -> PendingDelivery:
        """What recording `event` will write, worked out without the database (on the request path).
        `body_is_json`: `body` is the event's JSON in UTF-8, stored as received instead of re-encoded."""
        outcome, routes = self.outcome_for(event)
        payload = None
        if outcome is DeliveryOutcome.QUEUED:
            payload = body.decode() if body_is_json else json.dumps(event.data)
        row = {
            "delivery_id": event.delivery_id,
            "hook_id": hook_id,
            "event": event.event,
            "action": (action_of(event.data) or "")[:100] or None,
            "sender": (sender_login(event.data) or "")[:100] or None,
            "payload_sha256": hashlib.sha256(body).hexdigest(),
            "payload": payload,
            "outcome": outcome.value,
            "jobs": len(routes),
            "received_at": self.clock(),
        }
        return PendingDelivery(event=event, hook_id=hook_id, row=row, routes=routes)

    def write(self, batch: Sequence[PendingDelivery]) -> list[Receipt]:
        """Each delivery and its event jobs inserted, all in one transaction, committed before this returns;
        `DeliveryNotRecorded` if the database fails it (then none of them is stored)."""
        engine = self.queue.database.engine
        try:
            with engine.begin() as connection:
                cursor = connection.connection.cursor()
                try:
                    return [self._insert(cursor, engine.dialect, pending) for pending in batch]
                finally:
                    cursor.close()
        except (SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as exc:
            # The driver's own message: SQLAlchemy's would quote the statement's parameters (the payload).
            raise DeliveryNotRecorded(str(getattr(exc, "orig", None) or exc)) from exc

    def report(self, pending: PendingDelivery, receipt: Receipt) -> None:
        """The log line of a committed delivery nothing handles."""
        if receipt.outcome is DeliveryOutcome.IGNORED:
            event = pending.event
            log.info("ignored %s delivery %s: no handler for it", _describe(event), event.delivery_id)

    def _insert(self, cursor: Any, dialect: Dialect, pending: PendingDelivery) -> Receipt:
        event = pending.event
        row_id = driver_insert(dialect, DELIVERIES, unique=DELIVERY_UNIQUE).run(cursor, pending.row)
        if row_id is None:
            return Receipt(DeliveryOutcome.DUPLICATE, event.delivery_id)
        jobs = driver_insert(dialect, JOBS, unique=JOB_UNIQUE)
        for route in pending.routes:
            job = self.queue.new_job(
                EVENT_JOB_KIND,
                key=f"event:{event.delivery_id}:{pending.hook_id}:{route.name}",
                payload=EventJobPayload(delivery=row_id, route=route.name, event=event.event),
                priority=EVENT_JOB_PRIORITY,
            )
            jobs.run(cursor, {**job, "payload": json.dumps(job["payload"])})
        return Receipt(DeliveryOutcome(pending.row["outcome"]), event.delivery_id, len(pending.routes))


def _describe(event: sansio.Event) -> str:
    action = action_of(event.data)
    return f"{event.event}.{action}" if action else event.event
