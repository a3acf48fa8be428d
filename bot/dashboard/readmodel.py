"""Reads of the ledger shaped for pages: a page of intents with their stage timelines in two queries, and
the marker the live stream watches for changes."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import Select, func, select

from pipeline.ledger import IntentRecord, Ledger, Outcome, Stage
from pipeline.ledger.lifecycle import STAGES
from pipeline.ledger.tables import DecisionRow, IntentEventRow, IntentRow
from pipeline.llm.usage import CallStatus, LLMCall
from pipeline.registry.store import ServiceInstance
from pipeline.state import Database

AnySelect = TypeVar("AnySelect", bound=Select)  # a query of any columns
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


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows: each field narrows it; `ids` (from a text search) keeps only those intents."""

    state: str | None = None
    priority: str | None = None
    author: str | None = None
    repo: str | None = None
    ids: frozenset[int] | None = None

    def apply(self, query: AnySelect) -> AnySelect:
        for column, value in (
            (IntentRow.state, self.state),
            (IntentRow.priority, self.priority),
            (IntentRow.author, self.author),
            (IntentRow.repo, self.repo),
        ):
            if value:
                query = query.where(column == value)
        if self.ids is not None:
            query = query.where(IntentRow.id.in_(sorted(self.ids)))
        return query


def count_intents(db: Database, *, state: str | None, priority: str | None) -> int:
    return count_matching(db, QueueFilter(state=state, priority=priority))


def count_matching(db: Database, chosen: QueueFilter) -> int:
    with db.session() as session:
        return int(session.execute(chosen.apply(select(func.count(IntentRow.id)))).scalar_one())


def queue_page(
    db: Database,
    ledger: Ledger,
    *,
    state: str | None = None,
    priority: str | None = None,
    page: int,
    per_page: int,
    chosen: QueueFilter | None = None,
) -> QueuePage:
    """One page of the queue; a page number past the end (or before the start) shows the nearest page."""
    chosen = chosen or QueueFilter(state=state, priority=priority)
    total = count_matching(db, chosen)
    page = min(max(1, page), max(1, -(-total // per_page)))
    query = chosen.apply(select(IntentRow)).order_by(IntentRow.updated_at.desc(), IntentRow.id.desc())
    with db.session() as session:
        rows = session.scalars(query.limit(per_page).offset((page - 1) * per_page))
        records = [IntentRecord.of(row) for row in rows]
    events = _events_by_intent(db, records) if records else {}
    rows_out = tuple(QueueRow(r, timeline(events.get(r.id, ()))) for r in records)
    return QueuePage(rows=rows_out, total=total, page=page, per_page=per_page)


def distinct_values(db: Database) -> tuple[list[str], list[str]]:
    """(authors, repositories) the ledger knows, for the queue's filters."""
    with db.session() as session:
        authors = session.scalars(select(IntentRow.author).distinct().order_by(IntentRow.author)).all()
        repos = session.scalars(select(IntentRow.repo).distinct().order_by(IntentRow.repo)).all()
    return [a for a in authors if a], list(repos)


@dataclass(frozen=True)
class SearchRow:
    """What a text search reads of each intent before it looks at purposes."""

    id: int
    repo: str
    path: str
    content_hash: str
    commit_sha: str
    author: str
    service_name: str


def search_rows(db: Database, chosen: QueueFilter) -> list[SearchRow]:
    query = chosen.apply(
        select(
            IntentRow.id,
            IntentRow.repo,
            IntentRow.path,
            IntentRow.content_hash,
            IntentRow.commit_sha,
            IntentRow.author,
            IntentRow.service_name,
        )
    )
    with db.session() as session:
        return [SearchRow(*row) for row in session.execute(query)]


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
