"""A verified delivery recorded, and one `github-event` job enqueued per matching route, in one transaction.

Synchronous (SQLAlchemy): the router runs it off the event loop.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gidgethub import sansio
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from bot.events import EventName, action_of, sender_login
from bot.queue import JobQueue, insert_new
from bot.routing import EventRoute, Routes
from bot.webhooks.deliveries import DELIVERIES, DeliveryOutcome

log = logging.getLogger(__name__)

EVENT_JOB_KIND = "github-event"
EVENT_JOB_PRIORITY = 100
"""Above every intent priority: dispatching an event is quick and decides what else gets queued."""


class EventJobPayload(BaseModel):
    """A `github-event` job: which stored delivery to parse, and which route to run it through."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivery: int = Field(ge=1)
    """The delivery's row in the deliveries table (its payload is stored there, not in the job)."""
    route: str = Field(min_length=1, max_length=300)
    event: str = Field(default="", max_length=100)
    """The event's name, for people reading the queue."""


@dataclass(frozen=True)
class PendingDelivery:
    """A verified delivery, routed, not yet written: the row to insert and the routes to enqueue."""

    event: sansio.Event
    hook_id: str
    row: dict[str, Any]
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
        with self.queue.database.session() as session:
            receipt = self.write(session, pending)
        self.report(pending, receipt)
        return receipt

    def prepare(self, event: sansio.Event, body: bytes, *, hook_id: str) -> PendingDelivery:
        """What recording `event` will write, worked out without the database (on the request path)."""
        outcome, routes = self.outcome_for(event)
        return PendingDelivery(
            event=event,
            hook_id=hook_id,
            row=self._row(event, body, hook_id, outcome, len(routes)),
            routes=routes,
        )

    def write(self, session: Session, pending: PendingDelivery) -> Receipt:
        """Insert the delivery and its event jobs in `session`'s transaction; the caller commits."""
        event = pending.event
        row_id = insert_new(session, DELIVERIES, pending.row, unique=["delivery_id", "hook_id"])
        if row_id is None:
            return Receipt(DeliveryOutcome.DUPLICATE, event.delivery_id)
        for route in pending.routes:
            self._enqueue(session, event, pending.hook_id, row_id, route)
        return Receipt(DeliveryOutcome(pending.row["outcome"]), event.delivery_id, len(pending.routes))

    def report(self, pending: PendingDelivery, receipt: Receipt) -> None:
        """The log line of a committed delivery nothing handles."""
        if receipt.outcome is DeliveryOutcome.IGNORED:
            event = pending.event
            log.info("ignored %s delivery %s: no handler for it", _describe(event), event.delivery_id)

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
            payload=EventJobPayload(delivery=row_id, route=route.name, event=event.event),
            priority=EVENT_JOB_PRIORITY,
            session=session,
        )


def _describe(event: sansio.Event) -> str:
    action = action_of(event.data)
    return f"{event.event}.{action}" if action else event.event
