"""What an adopted stage service's live calls say: each call recorded (served, or fell back and why), and
after `limit` failures within `window` the line stops routing to it (a suspension) until the stage file
changes or someone lifts it.

Kept in the state database, so every worker process and a restarted bot see the same health.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Boolean, DateTime, Integer, String, Text, UniqueConstraint, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from pipeline.state import Base, Database

DEFAULT_LIMIT = 3
REPORTING = 0
"""A suspension's issue number while its issue is being opened."""
DEFAULT_WINDOW = timedelta(minutes=30)


class StageCallRow(Base):
    """One call a build made to an adopted stage service."""

    __tablename__ = "stage_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo: Mapped[str] = mapped_column(String(200), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    service: Mapped[str] = mapped_column(String(63))
    ok: Mapped[bool] = mapped_column(Boolean)
    failure: Mapped[str] = mapped_column(String(32), default="")
    """unreachable, timeout, refused, malformed (the HTTP client's kinds), or empty when served."""
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class StageSuspensionRow(Base):
    """A stage service the line stopped routing to after repeated failures."""

    __tablename__ = "stage_suspensions"
    __table_args__ = (UniqueConstraint("repo", "stage", "service", name="uq_stage_suspensions_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(32))
    service: Mapped[str] = mapped_column(String(63))
    reason: Mapped[str] = mapped_column(Text, default="")
    issue_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class CallOutcome:
    """A recorded call, and whether it was the failure that suspended the service."""

    ok: bool
    failures_in_window: int
    tripped: bool


@dataclass(frozen=True)
class Suspension:
    repo: str
    stage: str
    service: str
    reason: str
    issue_number: int | None
    since: datetime


@dataclass(frozen=True)
class ErrorRate:
    calls: int
    failures: int

    @property
    def rate(self) -> float:
        return self.failures / self.calls if self.calls else 0.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StageHealth:
    def __init__(
        self,
        database: Database,
        *,
        limit: int = DEFAULT_LIMIT,
        window: timedelta = DEFAULT_WINDOW,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._db = database
        self.limit = limit
        self.window = window
        self._clock = clock

    def record(
        self, *, repo: str, stage: str, service: str, ok: bool, failure: str = "", detail: str = ""
    ) -> CallOutcome:
        """Record one call; a failure that brings the window's failures to `limit` suspends the service
        (once: `tripped` is True for that call only)."""
        now = self._clock()
        with self._db.session() as session:
            session.add(
                StageCallRow(
                    repo=repo,
                    stage=stage,
                    service=service,
                    ok=ok,
                    failure=failure,
                    detail=detail[:2000],
                    at=now,
                )
            )
        if ok:
            return CallOutcome(True, 0, False)
        failures = self._failures_since(repo, stage, service, now - self.window)
        if failures < self.limit:
            return CallOutcome(False, failures, False)
        reason = (
            f"{failures} failed calls within {int(self.window.total_seconds() // 60)} minutes ({failure})"
        )
        return CallOutcome(False, failures, self._suspend(repo, stage, service, reason, now))

    def _failures_since(self, repo: str, stage: str, service: str, since: datetime) -> int:
        query = select(func.count()).where(
            StageCallRow.repo == repo,
            StageCallRow.stage == stage,
            StageCallRow.service == service,
            StageCallRow.ok.is_(False),
            StageCallRow.at >= since,
        )
        with self._db.session() as session:
            return int(session.scalar(query) or 0)

    def _suspend(self, repo: str, stage: str, service: str, reason: str, now: datetime) -> bool:
        try:
            with self._db.session() as session:
                session.add(
                    StageSuspensionRow(repo=repo, stage=stage, service=service, reason=reason, since=now)
                )
        except IntegrityError:
            return False  # suspended already (by this process or another)
        return True

    def suspension(self, repo: str, stage: str, service: str) -> Suspension | None:
        query = select(StageSuspensionRow).where(
            StageSuspensionRow.repo == repo,
            StageSuspensionRow.stage == stage,
            StageSuspensionRow.service == service,
        )
        with self._db.session() as session:
            row = session.scalar(query)
            if row is None:
                return None
            return Suspension(row.repo, row.stage, row.service, row.reason, row.issue_number, row.since)

    def unreported(self, repo: str) -> list[Suspension]:
        """The repository's suspensions nobody has claimed to report yet (oldest first)."""
        query = (
            select(StageSuspensionRow)
            .where(StageSuspensionRow.repo == repo, StageSuspensionRow.issue_number.is_(None))
            .order_by(StageSuspensionRow.since)
        )
        with self._db.session() as session:
            return [
                Suspension(row.repo, row.stage, row.service, row.reason, row.issue_number, row.since)
                for row in session.scalars(query)
            ]

    def claim_report(self, repo: str, stage: str, service: str) -> bool:
        """Claim the suspension's issue for this caller: True for exactly one of concurrent callers."""
        claim = (
            update(StageSuspensionRow)
            .where(
                StageSuspensionRow.repo == repo,
                StageSuspensionRow.stage == stage,
                StageSuspensionRow.service == service,
                StageSuspensionRow.issue_number.is_(None),
            )
            .values(issue_number=REPORTING)
        )
        with self._db.session() as session:
            return bool(session.execute(claim).rowcount)  # type: ignore[attr-defined]

    def note_issue(self, repo: str, stage: str, service: str, issue_number: int) -> None:
        query = select(StageSuspensionRow).where(
            StageSuspensionRow.repo == repo,
            StageSuspensionRow.stage == stage,
            StageSuspensionRow.service == service,
        )
        with self._db.session() as session:
            row = session.scalar(query)
            if row is not None:
                row.issue_number = issue_number

    def lift(self, repo: str, stage: str, service: str) -> bool:
        """Route to the service again (its stage file entry changed, or a person says so)."""
        with self._db.session() as session:
            row = session.scalar(
                select(StageSuspensionRow).where(
                    StageSuspensionRow.repo == repo,
                    StageSuspensionRow.stage == stage,
                    StageSuspensionRow.service == service,
                )
            )
            if row is None:
                return False
            session.delete(row)
            return True

    def error_rate(self, repo: str, stage: str, service: str, *, since: datetime | None = None) -> ErrorRate:
        """Calls and failures of the service for the stage (within the window unless `since` says)."""
        start = since or (self._clock() - self.window)
        where = (
            StageCallRow.repo == repo,
            StageCallRow.stage == stage,
            StageCallRow.service == service,
            StageCallRow.at >= start,
        )
        with self._db.session() as session:
            calls = int(session.scalar(select(func.count()).where(*where)) or 0)
            failures = int(
                session.scalar(select(func.count()).where(*where, StageCallRow.ok.is_(False))) or 0
            )
        return ErrorRate(calls, failures)
