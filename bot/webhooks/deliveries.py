"""The `webhook_deliveries` table: each delivery received, what became of it, and how long it is kept."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Double, Integer, String, UniqueConstraint, delete
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.schema import Table

from pipeline.state import Base, Database

MAX_DELIVERY_ID = 100
MAX_EVENT_NAME = 100
MAX_HOOK_ID = 40


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


def prune_deliveries(database: Database, before: float) -> int:
    """Delete deliveries received before `before`. A redelivery of one of them is then processed again:
    the retention must stay longer than any redelivery one would make."""
    with database.session() as session:
        result = session.execute(delete(DELIVERIES).where(DELIVERIES.c.received_at < before))
        return int(result.rowcount)  # type: ignore[attr-defined]
