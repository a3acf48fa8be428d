"""Reads of the ledger shaped for pages: a page of intents with their stage timelines in two queries, and
the marker the live stream watches for changes."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select

from pipeline.ledger import IntentRecord, Ledger, Outcome, Stage
from pipeline.ledger.lifecycle import STAGES
from pipeline.ledger.tables import DecisionRow, IntentEventRow, IntentRow
from pipeline.llm.usage import CallStatus, LLMCall
from pipeline.registry.store import ServiceInstance
from pipeline.state import Database

TIMELINE: tuple[Stage, ...] = STAGES
"""The stage strip: the lifecycle's order of stages."""


class CellState(StrEnum):
    DONE = "done"
    FAILED = "failed"
    RUNNING = "running"
    SKIPPED = "skipped"
    PENDING = "pending"


_CELL_OF: dict[str, CellState] = {
    Outcome.SUCCEEDED.value: CellState.DONE,
    Outcome.FAILED.value: CellState.FAILED,
    Outcome.STARTED.value: CellState.RUNNING,
    Outcome.SKIPPED.value: CellState.SKIPPED,
}
_STAGES = frozenset(stage.value for stage in Stage)


@dataclass(frozen=True)
class StageCell:
    stage: Stage
    state: CellState
    duration_ms: int | None
    message: str


@dataclass(frozen=True)
class TimelineEvent:
    stage: str
    outcome: str
    duration_ms: int | None
    message: str


@dataclass(frozen=True)
class QueueRow:
    record: IntentRecord
    cells: tuple[StageCell, ...]

    @property
    def total_ms(self) -> int:
        return sum(c.duration_ms or 0 for c in self.cells)


@dataclass(frozen=True)
class QueuePage:
    rows: tuple[QueueRow, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def timeline(events: Iterable[TimelineEvent]) -> tuple[StageCell, ...]:
    """One cell per stage of the line: the latest event of each stage decides its state."""
    latest: dict[str, TimelineEvent] = {}
    durations: dict[str, int | None] = {}
    for event in events:
        latest[event.stage] = event
        if event.duration_ms is not None:
            durations[event.stage] = event.duration_ms
    cells = []
    for stage in TIMELINE:
        last = latest.get(stage.value)
        if last is None:
            cells.append(StageCell(stage, CellState.PENDING, None, ""))
            continue
        state = _CELL_OF.get(last.outcome, CellState.PENDING)
        duration = None if state is CellState.RUNNING else durations.get(stage.value)
        cells.append(StageCell(stage, state, duration, last.message))
    return tuple(cells)


def _events_by_intent(db: Database, records: Sequence[IntentRecord]) -> dict[int, list[TimelineEvent]]:
    """Events of the intents' current content only: a changed intent starts its timeline again."""
    hashes = {r.id: r.content_hash for r in records}
    query = (
        select(
            IntentEventRow.intent_id,
            IntentEventRow.stage,
            IntentEventRow.outcome,
            IntentEventRow.duration_ms,
            IntentEventRow.message,
            IntentEventRow.content_hash,
        )
        .where(IntentEventRow.intent_id.in_(list(hashes)))
        .order_by(IntentEventRow.id)
    )
    grouped: dict[int, list[TimelineEvent]] = defaultdict(list)
    with db.session() as session:
        for intent_id, stage, outcome, duration, message, content_hash in session.execute(query):
            if content_hash == hashes[intent_id] and stage in _STAGES:
                grouped[intent_id].append(TimelineEvent(stage, outcome, duration, message or ""))
    return grouped


def count_intents(db: Database, *, state: str | None, priority: str | None) -> int:
    query = select(func.count(IntentRow.id))
    if state:
        query = query.where(IntentRow.state == state)
    if priority:
        query = query.where(IntentRow.priority == priority)
    with db.session() as session:
        return int(session.execute(query).scalar_one())


def queue_page(
    db: Database, ledger: Ledger, *, state: str | None, priority: str | None, page: int, per_page: int
) -> QueuePage:
    """One page of the queue; a page number past the end (or before the start) shows the nearest page."""
    total = count_intents(db, state=state, priority=priority)
    page = min(max(1, page), max(1, -(-total // per_page)))
    records = ledger.list_intents(
        state=state, priority=priority, limit=per_page, offset=(page - 1) * per_page
    )
    events = _events_by_intent(db, records) if records else {}
    rows = tuple(QueueRow(r, timeline(events.get(r.id, ()))) for r in records)
    return QueuePage(rows=rows, total=total, page=page, per_page=per_page)


def change_marker(db: Database) -> str:
    """Changes whenever an intent is received, changes state, gets a decision or a stage event."""
    query = select(
        func.count(IntentRow.id),
        func.max(IntentRow.updated_at),
        select(func.max(IntentEventRow.id)).scalar_subquery(),
        select(func.max(DecisionRow.id)).scalar_subquery(),
    )
    with db.session() as session:
        count, updated, event_id, decision_id = session.execute(query).one()
    return f"{count}.{updated.timestamp() if updated else 0}.{event_id or 0}.{decision_id or 0}"


def registry_marker(db: Database) -> str:
    """Changes whenever a service registers, changes health or version, goes, or sends a heartbeat. The
    registry holds one row per running version, so reading them all stays cheap."""
    query = select(
        ServiceInstance.id,
        ServiceInstance.status,
        ServiceInstance.active,
        ServiceInstance.last_heartbeat,
    ).order_by(ServiceInstance.id)
    with db.session() as session:
        rows = session.execute(query).all()
    return hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()[:16]


def timeline_of(db: Database, record: IntentRecord) -> tuple[StageCell, ...]:
    """The stage timeline of one intent's current content."""
    return timeline(_events_by_intent(db, [record]).get(record.id, ()))


# How the bot names an intent's LLM budget (bot/handlers/intents.py): its cost is what that key spent.
BUDGET_KEY = "{repo}:{path}"


@dataclass(frozen=True)
class IntentCost:
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


def intent_cost(db: Database, record: IntentRecord) -> IntentCost:
    """Model calls made for this intent (spent or still reserved), whatever stage made them."""
    key = BUDGET_KEY.format(repo=record.repo, path=record.path)
    query = select(
        func.count(LLMCall.id),
        func.coalesce(
            func.sum(
                LLMCall.input_tokens + LLMCall.cache_creation_input_tokens + LLMCall.cache_read_input_tokens
            ),
            0,
        ),
        func.coalesce(func.sum(LLMCall.output_tokens), 0),
        func.coalesce(func.sum(LLMCall.cost_usd), 0.0),
    ).where(
        LLMCall.budget_key == key,
        LLMCall.status.in_([CallStatus.RESERVED.value, CallStatus.RECORDED.value]),
    )
    with db.session() as session:
        calls, inputs, outputs, cost = session.execute(query).one()
    return IntentCost(int(calls), int(inputs), int(outputs), float(cost))
