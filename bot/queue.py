"""The durable job queue on the state database: idempotent enqueue, priorities, leases, backoff, dead letters.

A job is claimed by one atomic UPDATE ... RETURNING whose candidate row comes from a sub-select; on
PostgreSQL that sub-select takes `FOR UPDATE SKIP LOCKED`, so several workers never claim the same row,
and SQLite runs the statement under its single write lock. A claim holds a lease; a worker that dies
stops renewing it and the job is claimed again once the lease expires. Every claim counts as an attempt
and the attempt number is the fencing token: a worker whose lease was taken over can no longer complete
or fail the job. Times are epoch seconds (floats) from one injectable clock, the same on both databases.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Double, Index, Integer, String, Text, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, RowMapping
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.schema import Table

from bot.logs import current_trace
from bot.settings import Settings
from pipeline.state import Base, Database

MAX_KEY_LENGTH = 512
MAX_ERROR_LENGTH = 4000
MAX_BACKOFF_SECONDS = 600.0

TRACE_KEY = "_trace"
"""Where a job's trace (bot.logs.current_trace) is kept beside its payload; never part of the payload."""
LEASE_EXPIRED_ERROR = "the worker running it stopped renewing its lease on the last attempt"


class JobState(StrEnum):
    QUEUED = "queued"
    """Waiting to run (a retry waits until `run_after`)."""
    RUNNING = "running"
    """Claimed by a worker holding a lease."""
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    """Failed `max_attempts` times; `last_error` says why. Only `retry` brings it back."""


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "state", "priority", "run_after"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_after: Mapped[float] = mapped_column(Double)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)
    finished_at: Mapped[float | None] = mapped_column(Double, nullable=True)


JOBS: Table = JobRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class IdempotencyKey:
    """What makes a pipeline job unique: the same intent content at the same stage runs once."""

    repo: str
    path: str
    content_hash: str
    stage: str

    def __str__(self) -> str:
        return f"intent:{self.repo}:{self.path}:{self.content_hash}:{self.stage}"


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    priority: int
    state: JobState
    attempts: int
    max_attempts: int
    run_after: float
    lease_owner: str | None
    lease_expires_at: float | None
    last_error: str | None
    created_at: float
    finished_at: float | None
    trace: dict[str, str] = field(default_factory=dict)
    """The delivery, repository, intent and PR of the work that enqueued it (for its log lines)."""

    @classmethod
    def from_row(cls, row: RowMapping) -> Job:
        values = {name: row[name] for name in cls.__dataclass_fields__ if name != "trace"}
        values["state"] = JobState(values["state"])
        values["payload"] = dict(values["payload"])
        values["trace"] = values["payload"].pop(TRACE_KEY, None) or {}
        return cls(**values)


@dataclass(frozen=True)
class Enqueued:
    job_id: int
    created: bool
    """False when a job with the same key already existed (whatever its state): nothing was added."""


def insert_new(session: Session, table: Table, values: Mapping[str, Any], *, unique: list[str]) -> int | None:
    """INSERT unless a row with the same `unique` columns exists; the new row's id, or None if it existed.

    ON CONFLICT DO NOTHING rather than catching IntegrityError: a failed INSERT would abort the whole
    PostgreSQL transaction, and the caller's other writes with it.
    """
    statement = _insert_new_statement(session.get_bind().dialect.name, table, tuple(unique))
    inserted = session.execute(statement, dict(values)).scalar_one_or_none()
    return int(inserted) if inserted is not None else None


@functools.cache
def _insert_new_statement(dialect: str, table: Table, unique: tuple[str, ...]) -> Any:
    """Built once per table: the values go in as parameters, so each webhook and enqueue costs no
    statement building (SQLAlchemy would otherwise coerce and cache-key every value on every call)."""
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:
        raise RuntimeError(f"the job queue supports SQLite and PostgreSQL, not {dialect}")
    return statement.on_conflict_do_nothing(index_elements=list(unique)).returning(table.c.id)


@dataclass(frozen=True)
class DriverInsert:
    """`insert_new`'s statement compiled once for one kind of database and run on the driver's own cursor.

    For the webhook's request path, where SQLAlchemy's execution of each statement (processing every
    parameter, wrapping the result) cost more than the database's own insert. No value is converted on
    the way: JSON columns take JSON text, and every column of the table must be given.
    """

    sql: str
    order: tuple[str, ...] | None
    """The parameters' names in order for a positional paramstyle (SQLite's `?`); None for named ones."""

    def run(self, cursor: Any, values: Mapping[str, Any]) -> int | None:
        """INSERT unless a row with the same unique columns exists: the new row's id, or None."""
        cursor.execute(self.sql, [values[name] for name in self.order] if self.order else values)
        inserted = cursor.fetchone()
        return int(inserted[0]) if inserted is not None else None


_DRIVER_INSERTS: dict[tuple[str, str, str, str, tuple[str, ...]], DriverInsert] = {}


def driver_insert(dialect: Dialect, table: Table, *, unique: tuple[str, ...]) -> DriverInsert:
    """The `DriverInsert` of `table` for `dialect`, compiled on first use."""
    cache_key = (dialect.name, dialect.driver, dialect.paramstyle, table.name, unique)
    found = _DRIVER_INSERTS.get(cache_key)
    if found is None:
        statement = _insert_new_statement(dialect.name, table, unique)
        columns = [column.name for column in table.c if not column.primary_key]
        compiled = statement.compile(dialect=dialect, column_keys=columns)
        order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        found = _DRIVER_INSERTS.setdefault(cache_key, DriverInsert(compiled.string, order))
    return found


class JobQueue:
    """Jobs in the state database. Safe to share between threads and processes."""

    def __init__(
        self,
        database: Database,
        *,
        lease_seconds: float = 60.0,
        max_attempts: int = 5,
        backoff_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> JobQueue:
        return cls(
            database,
            lease_seconds=settings.job_lease_seconds,
            max_attempts=settings.job_max_attempts,
            backoff_seconds=settings.job_backoff_seconds,
        )

    def enqueue(
        self,
        kind: str,
        *,
        key: str | IdempotencyKey,
        payload: Mapping[str, Any] | BaseModel | None = None,
        priority: int = 0,
        max_attempts: int | None = None,
        session: Session | None = None,
    ) -> Enqueued:
        """Add a job unless one with the same key exists. Pass `session` to enqueue inside its transaction."""
        key = str(key)
        values = self.new_job(kind, key=key, payload=payload, priority=priority, max_attempts=max_attempts)
        if session is not None:
            return self._enqueue_in(session, key, values)
        with self.database.session() as own:
            return self._enqueue_in(own, key, values)

    def new_job(
        self,
        kind: str,
        *,
        key: str,
        payload: Mapping[str, Any] | BaseModel | None = None,
        priority: int = 0,
        max_attempts: int | None = None,
    ) -> dict[str, Any]:
        """The row of a new queued job (its payload as a dict, with the current trace beside it)."""
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ValueError(f"a job key must have 1 to {MAX_KEY_LENGTH} characters, got {len(key)}")
        now = self.clock()
        data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else dict(payload or {})
        trace = current_trace()
        return {
            "kind": kind,
            "key": key,
            "payload": {**data, TRACE_KEY: trace} if trace else data,
            "priority": priority,
            "state": JobState.QUEUED.value,
            "attempts": 0,
            "max_attempts": max_attempts or self.max_attempts,
            "run_after": now,
            "lease_owner": None,
            "lease_expires_at": None,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
            "finished_at": None,
        }

    def _enqueue_in(self, session: Session, key: str, values: dict[str, Any]) -> Enqueued:
        job_id = insert_new(session, JOBS, values, unique=["key"])
        if job_id is not None:
            return Enqueued(job_id, created=True)
        existing = session.execute(select(JOBS.c.id).where(JOBS.c.key == key)).scalar_one()
        return Enqueued(int(existing), created=False)

    def claim(self, worker: str) -> Job | None:
        """Lease the most urgent runnable job to `worker`, or None when there is nothing to do."""
        now = self.clock()
        runnable = or_(
            and_(JOBS.c.state == JobState.QUEUED.value, JOBS.c.run_after <= now),
            and_(
                JOBS.c.state == JobState.RUNNING.value,
                JOBS.c.lease_expires_at < now,
                JOBS.c.attempts < JOBS.c.max_attempts,
            ),
        )
        if self.database.is_sqlite and not self._exists(runnable):
            return None
        candidate = (
            select(JOBS.c.id)
            .where(runnable)
            .order_by(JOBS.c.priority.desc(), JOBS.c.run_after, JOBS.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            update(JOBS)
            .where(JOBS.c.id == candidate)
            .values(
                state=JobState.RUNNING.value,
                lease_owner=worker,
                lease_expires_at=now + self.lease_seconds,
                attempts=JOBS.c.attempts + 1,
                updated_at=now,
            )
            .returning(*JOBS.c)
        )
        with self.database.session() as session:
            row = session.execute(statement).mappings().one_or_none()
        return Job.from_row(row) if row is not None else None

    def _exists(self, condition: Any) -> bool:
        """A read first: idle polls then never take SQLite's write lock, which webhooks and workers need.
        PostgreSQL claims with SKIP LOCKED, which locks no more than the row it takes: no read first."""
        with self.database.session() as session:
            return session.execute(select(JOBS.c.id).where(condition).limit(1)).first() is not None

    def _held(self, job: Job) -> Any:
        """The WHERE clause that is true only while `job`'s claim is still the current one."""
        return and_(
            JOBS.c.id == job.id,
            JOBS.c.state == JobState.RUNNING.value,
            JOBS.c.lease_owner == job.lease_owner,
            JOBS.c.attempts == job.attempts,
        )

    def _change(self, job: Job, **values: Any) -> bool:
        with self.database.session() as session:
            result = session.execute(
                update(JOBS).where(self._held(job)).values(updated_at=self.clock(), **values)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def heartbeat(self, job: Job) -> bool:
        """Extend the lease; False if the claim was lost (the lease expired and another worker took it)."""
        return self._change(job, lease_expires_at=self.clock() + self.lease_seconds)

    def complete(self, job: Job) -> bool:
        return self._change(
            job,
            state=JobState.SUCCEEDED.value,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=self.clock(),
        )

    def fail(self, job: Job, error: str, *, permanent: bool = False) -> JobState | None:
        """Record a failed attempt: queued again after a backoff, or dead after the last attempt (or at
        once when `permanent`). None if the claim was lost meanwhile (the other worker's outcome stands).
        """
        error = error[:MAX_ERROR_LENGTH]
        if permanent or job.attempts >= job.max_attempts:
            done = self._change(
                job,
                state=JobState.DEAD.value,
                last_error=error,
                lease_owner=None,
                lease_expires_at=None,
                finished_at=self.clock(),
            )
            return JobState.DEAD if done else None
        retry_at = self.clock() + self.backoff(job.attempts)
        done = self._change(
            job,
            state=JobState.QUEUED.value,
            last_error=error,
            run_after=retry_at,
            lease_owner=None,
            lease_expires_at=None,
        )
        return JobState.QUEUED if done else None

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt: doubling from `backoff_seconds`, capped."""
        return float(min(self.backoff_seconds * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))

    def reap_expired(self) -> list[Job]:
        """Jobs whose lease expired on their last attempt become dead (a job that kills its worker ends)."""
        now = self.clock()
        lost = and_(
            JOBS.c.state == JobState.RUNNING.value,
            JOBS.c.lease_expires_at < now,
            JOBS.c.attempts >= JOBS.c.max_attempts,
        )
        if not self._exists(lost):
            return []
        statement = (
            update(JOBS)
            .where(lost)
            .values(
                state=JobState.DEAD.value,
                last_error=LEASE_EXPIRED_ERROR,
                lease_owner=None,
                lease_expires_at=None,
                finished_at=now,
                updated_at=now,
            )
            .returning(*JOBS.c)
        )
        with self.database.session() as session:
            rows = session.execute(statement).mappings().all()
        return [Job.from_row(row) for row in rows]

    def prune(self, before: float) -> int:
        """Delete jobs that succeeded before `before`; dead jobs stay until retried or looked at."""
        with self.database.session() as session:
            result = session.execute(
                delete(JOBS).where(JOBS.c.state == JobState.SUCCEEDED.value, JOBS.c.finished_at < before)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def retry(self, job_id: int) -> bool:
        """Put a dead job back in the queue with fresh attempts (e.g. `/intentops retry`)."""
        now = self.clock()
        with self.database.session() as session:
            result = session.execute(
                update(JOBS)
                .where(JOBS.c.id == job_id, JOBS.c.state == JobState.DEAD.value)
                .values(
                    state=JobState.QUEUED.value, attempts=0, run_after=now, updated_at=now, finished_at=None
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def get(self, job_id: int) -> Job | None:
        with self.database.session() as session:
            row = session.execute(select(JOBS).where(JOBS.c.id == job_id)).mappings().one_or_none()
        return Job.from_row(row) if row is not None else None

    def find(self, key: str | IdempotencyKey) -> Job | None:
        with self.database.session() as session:
            row = session.execute(select(JOBS).where(JOBS.c.key == str(key))).mappings().one_or_none()
        return Job.from_row(row) if row is not None else None

    def counts(self) -> dict[JobState, int]:
        with self.database.session() as session:
            rows = session.execute(select(JOBS.c.state, func.count()).group_by(JOBS.c.state)).all()
        found = {JobState(state): int(count) for state, count in rows}
        return {state: found.get(state, 0) for state in JobState}
