"""The intent ledger: where each intent is on the line, how it got there, and what it waits for.

The bot writes it as work proceeds; the HTTP API (`GET /intents/{id}`) and the dashboard read it.
Stage events are append-only, so a crash mid-stage leaves a 'started' with no end: visible, not lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from pipeline.buildreport import BuildReport
from pipeline.governance.decision import Decision
from pipeline.ledger.lifecycle import Event, Transition, transition
from pipeline.ledger.states import IntentState, Outcome, Stage
from pipeline.ledger.tables import (
    DecisionRow,
    IntentEventRow,
    IntentRow,
    SignoffRow,
)
from pipeline.state import Database

# Fields a caller may set along with a state change.
UPDATABLE = frozenset(
    {"pr_number", "pr_url", "issue_number", "head_sha", "service_url", "report", "commit_sha"}
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _updates(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise ValueError(f"cannot set {', '.join(sorted(unknown))} on an intent")
    if "report" in fields:
        if not isinstance(fields["report"], BuildReport):
            raise TypeError("an intent's report is a BuildReport")
        return {**fields, "report": fields["report"].to_json()}
    return fields


T = TypeVar("T")


class UnreadableRecord(ValueError):
    """A stored decision or report cannot be read back (written by hand, or by a broken version)."""


def _read(name: str, reader: Callable[[dict[str, Any]], T], raw: Any) -> tuple[T | None, str]:
    """A typed value from its stored JSON, or None and why it cannot be read: pages still show the rest of
    the record, and work that needs the value fails with that reason (`IntentRecord.checked`)."""
    if raw is None:
        return None, ""
    if not isinstance(raw, dict):
        return None, f"{name} is not an object"
    try:
        return reader(raw), ""
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        return None, f"{name} is unreadable ({where}: {problem['msg']})"


@dataclass(frozen=True)
class IntentRecord:
    id: int
    repo: str
    path: str
    service_name: str
    content_hash: str
    priority: str
    state: IntentState
    waiting_for: str
    author: str
    source: str
    commit_sha: str
    pr_number: int | None
    pr_url: str
    issue_number: int | None
    head_sha: str
    decision: Decision | None
    """The latest governance decision, read back typed (None before governance, or if it is unreadable)."""
    report: BuildReport | None
    """The latest build's report, typed (None before a build, or if it is unreadable)."""
    service_url: str
    created_at: datetime
    updated_at: datetime
    unreadable: tuple[str, ...] = ()
    """Stored values that could not be read back (`decision: approvals_required: ...`); they read as None."""

    @classmethod
    def of(cls, row: IntentRow) -> IntentRecord:
        typed = {"state", "decision", "report", "unreadable"}
        decision, decision_problem = _read("decision", Decision.from_json, row.decision)
        report, report_problem = _read("report", BuildReport.from_json, row.report)
        return cls(
            **{name: getattr(row, name) for name in cls.__dataclass_fields__ if name not in typed},
            state=IntentState(row.state),
            decision=decision,
            report=report,
            unreadable=tuple(p for p in (decision_problem, report_problem) if p),
        )

    def checked(self) -> IntentRecord:
        """This record, or UnreadableRecord when a stored value cannot be read: work that depends on it
        must fail loudly (and be retried, then reported), not act as if there were none."""
        if self.unreadable:
            raise UnreadableRecord(f"{self.path}: the ledger's {'; '.join(self.unreadable)}")
        return self

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["decision"] = self.decision.to_json() if self.decision else None
        data["unreadable"] = list(self.unreadable)
        data["report"] = self.report.to_json() if self.report else None
        data["state"] = self.state.value
        data["created_at"] = self.created_at.isoformat()
        data["updated_at"] = self.updated_at.isoformat()
        return data


@dataclass(frozen=True)
class StageEvent:
    stage: Stage
    outcome: Outcome
    message: str
    detail: dict[str, Any] | None
    duration_ms: int | None
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage.value,
            "outcome": self.outcome.value,
            "message": self.message,
            "detail": self.detail,
            "duration_ms": self.duration_ms,
            "at": self.at.isoformat(),
        }


@dataclass
class StageRun:
    """Filled in by the code inside `Ledger.stage(...)`: what to record when the stage ends."""

    message: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    failed: bool = False


class UnknownIntent(LookupError):
    pass


class Ledger:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    @property
    def database(self) -> Database:
        return self._db

    # -- intents ------------------------------------------------------------------------------------------

    def receive(
        self,
        *,
        repo: str,
        path: str,
        service_name: str,
        content_hash: str,
        priority: str = "normal",
        author: str = "",
        source: str = "push",
        commit_sha: str = "",
    ) -> tuple[IntentRecord, bool]:
        """Record that an intent file has this content. Returns (record, is_new_content): the same content
        again (a redelivery, a retry) changes nothing."""
        now = self._clock()
        with self._db.session() as session:
            row = session.scalar(select(IntentRow).where(IntentRow.repo == repo, IntentRow.path == path))
            if row is not None and row.content_hash == content_hash and row.state != IntentState.UNDEPLOYED:
                return IntentRecord.of(row), False
            if row is None:
                row = IntentRow(repo=repo, path=path, created_at=now)
                session.add(row)
            row.service_name, row.content_hash, row.priority = service_name, content_hash, priority
            row.author, row.source, row.commit_sha = author, source, commit_sha
            row.state, row.waiting_for, row.decision, row.report = IntentState.RECEIVED, "", None, None
            row.updated_at = now
            session.flush()
            session.add(
                self._event(row.id, Stage.RECEIVED, Outcome.SUCCEEDED, f"from {source}", now, content_hash)
            )
            return IntentRecord.of(row), True

    def get(self, intent_id: int) -> IntentRecord:
        with self._db.session() as session:
            row = session.get(IntentRow, intent_id)
            if row is None:
                raise UnknownIntent(intent_id)
            return IntentRecord.of(row)

    def find(self, repo: str, path: str) -> IntentRecord | None:
        with self._db.session() as session:
            row = session.scalar(select(IntentRow).where(IntentRow.repo == repo, IntentRow.path == path))
            return IntentRecord.of(row) if row else None

    def find_by_pr(self, repo: str, pr_number: int) -> IntentRecord | None:
        with self._db.session() as session:
            row = session.scalar(
                select(IntentRow).where(IntentRow.repo == repo, IntentRow.pr_number == pr_number)
            )
            return IntentRecord.of(row) if row else None

    def find_by_issue(self, repo: str, issue_number: int) -> IntentRecord | None:
        with self._db.session() as session:
            row = session.scalar(
                select(IntentRow).where(IntentRow.repo == repo, IntentRow.issue_number == issue_number)
            )
            return IntentRecord.of(row) if row else None

    def records_for_service(self, repo: str, service_name: str) -> list[IntentRecord]:
        """The repository's intent files recorded under `service_name`, oldest first (the first is the one
        the line has known longest); files whose service was undeployed are left out."""
        query = (
            select(IntentRow)
            .where(IntentRow.repo == repo, IntentRow.service_name == service_name)
            .where(IntentRow.state != IntentState.UNDEPLOYED.value)
            .order_by(IntentRow.id)
        )
        with self._db.session() as session:
            return [IntentRecord.of(row) for row in session.scalars(query)]

    def list_intents(
        self, *, state: str | None = None, priority: str | None = None, limit: int = 200, offset: int = 0
    ) -> list[IntentRecord]:
        query = select(IntentRow).order_by(IntentRow.updated_at.desc(), IntentRow.id.desc())
        if state:
            query = query.where(IntentRow.state == state)
        if priority:
            query = query.where(IntentRow.priority == priority)
        with self._db.session() as session:
            return [IntentRecord.of(row) for row in session.scalars(query.limit(limit).offset(offset))]

    def counts_by_state(self) -> dict[str, int]:
        with self._db.session() as session:
            rows = session.execute(select(IntentRow.state, func.count()).group_by(IntentRow.state))
            return {state: count for state, count in rows}

    def apply(self, intent_id: int, event: Event, *, reason: str = "", **fields: Any) -> Transition:
        """Record what happened to the intent: its state follows the lifecycle table
        (`pipeline.ledger.lifecycle`), `reason` (what it waits for now) replaces the table's default, and
        `fields` (any of UPDATABLE; `report` as a BuildReport) are set with it. An event the table refuses
        in the intent's state changes nothing; the returned transition says so."""
        values = _updates(fields)
        with self._db.session() as session:
            row = session.get(IntentRow, intent_id, with_for_update=True)
            if row is None:
                raise UnknownIntent(intent_id)
            step = transition(IntentState(row.state), event, reason=reason)
            if step.refused:
                return step
            row.state, row.waiting_for, row.updated_at = step.to, step.reason, self._clock()
            for name, value in values.items():
                setattr(row, name, value)
            return step

    def update(self, intent_id: int, **fields: Any) -> None:
        """Set `fields` (any of UPDATABLE) without changing the intent's state."""
        values = _updates(fields)
        with self._db.session() as session:
            row = session.get(IntentRow, intent_id)
            if row is None:
                raise UnknownIntent(intent_id)
            row.updated_at = self._clock()
            for name, value in values.items():
                setattr(row, name, value)

    def restore(self, intent_id: int, earlier: IntentRecord) -> None:
        """Put the intent back in the state `earlier` saw: undo a transition that turned out to change
        nothing (a rebuild of what is merged already)."""
        with self._db.session() as session:
            row = session.get(IntentRow, intent_id)
            if row is None:
                raise UnknownIntent(intent_id)
            row.state, row.waiting_for, row.updated_at = earlier.state, earlier.waiting_for, self._clock()

    # -- history ------------------------------------------------------------------------------------------

    def _event(
        self,
        intent_id: int,
        stage: Stage,
        outcome: Outcome,
        message: str,
        at: datetime,
        content_hash: str = "",
        detail: dict[str, Any] | None = None,
        duration_ms: int | None = None,
    ) -> IntentEventRow:
        return IntentEventRow(
            intent_id=intent_id,
            stage=stage,
            outcome=outcome,
            message=message,
            detail=detail,
            content_hash=content_hash,
            duration_ms=duration_ms,
            at=at,
        )

    def record(
        self,
        intent_id: int,
        stage: Stage,
        outcome: Outcome,
        message: str = "",
        *,
        detail: dict[str, Any] | None = None,
        duration_ms: int | None = None,
        at: datetime | None = None,
        once: str | None = None,
    ) -> bool:
        """Append a stage event; `at` when it happened earlier than now (a stage whose end is known late).

        `once`: a key (e.g. the job's idempotency key) under which this stage and outcome are recorded at
        most once, so a job retried after a crash does not show its stage twice. False when it was there."""
        try:
            with self._db.session() as session:
                row = session.get(IntentRow, intent_id)
                if row is None:
                    raise UnknownIntent(intent_id)
                row.updated_at = self._clock()
                now = at or row.updated_at
                event = self._event(
                    intent_id, stage, outcome, message, now, row.content_hash, detail, duration_ms
                )
                event.once_key = once[:300] if once else None
                session.add(event)
        except IntegrityError:
            if once is None:
                raise
            return False
        return True

    @contextmanager
    def stage(self, intent_id: int, stage: Stage, *, once: str | None = None) -> Iterator[StageRun]:
        """Record a stage's start, then its end with duration: failed if it raised or set `failed`.
        `once`: see `record`; a retried attempt continues the stage its crashed predecessor started."""
        self.record(intent_id, stage, Outcome.STARTED, once=once)
        run = StageRun()
        started = time.monotonic()
        try:
            yield run
        except BaseException as exc:
            elapsed = int((time.monotonic() - started) * 1000)
            self.record(
                intent_id,
                stage,
                Outcome.FAILED,
                run.message or f"{type(exc).__name__}: {exc}",
                detail=run.detail or None,
                duration_ms=elapsed,
                once=f"{once}:{_attempt()}" if once else None,
            )
            raise
        elapsed = int((time.monotonic() - started) * 1000)
        outcome = Outcome.FAILED if run.failed else Outcome.SUCCEEDED
        self.record(
            intent_id, stage, outcome, run.message, detail=run.detail or None, duration_ms=elapsed, once=once
        )

    def waited_ms(self, intent_id: int, since: Stage) -> int | None:
        """Milliseconds from the last success of stage `since` until now: how long a stage recorded at its
        end (a sign-off, a merge) was waited for. None when `since` never succeeded."""
        query = (
            select(IntentEventRow.at)
            .where(
                IntentEventRow.intent_id == intent_id,
                IntentEventRow.stage == since.value,
                IntentEventRow.outcome == Outcome.SUCCEEDED.value,
            )
            .order_by(IntentEventRow.id.desc())
            .limit(1)
        )
        with self._db.session() as session:
            started = session.scalar(query)
        if started is None:
            return None
        started = started if started.tzinfo is not None else started.replace(tzinfo=UTC)
        return max(0, int((self._clock() - started).total_seconds() * 1000))

    def history(self, intent_id: int) -> list[StageEvent]:
        query = (
            select(IntentEventRow).where(IntentEventRow.intent_id == intent_id).order_by(IntentEventRow.id)
        )
        with self._db.session() as session:
            return [
                StageEvent(Stage(r.stage), Outcome(r.outcome), r.message, r.detail, r.duration_ms, r.at)
                for r in session.scalars(query)
            ]

    # -- decisions and sign-offs --------------------------------------------------------------------------

    def record_decision(self, intent_id: int, decision: Decision) -> None:
        stored = decision.to_json()
        with self._db.session() as session:
            row = session.get(IntentRow, intent_id)
            if row is None:
                raise UnknownIntent(intent_id)
            row.decision = stored
            row.updated_at = now = self._clock()
            session.add(
                DecisionRow(
                    intent_id=intent_id,
                    content_hash=row.content_hash,
                    action=decision.action.value,
                    decision=stored,
                    at=now,
                )
            )

    def decisions(self, intent_id: int) -> list[dict[str, Any]]:
        query = select(DecisionRow).where(DecisionRow.intent_id == intent_id).order_by(DecisionRow.id)
        with self._db.session() as session:
            return [
                {
                    "action": r.action,
                    "content_hash": r.content_hash,
                    "decision": r.decision,
                    "at": r.at.isoformat(),
                }
                for r in session.scalars(query)
            ]

    def add_signoff(self, intent_id: int, *, pr_number: int, reviewer: str, head_sha: str, via: str) -> bool:
        """Record a valid sign-off; False when this reviewer already signed off on this head."""
        try:
            with self._db.session() as session:
                session.add(
                    SignoffRow(
                        intent_id=intent_id,
                        pr_number=pr_number,
                        reviewer=reviewer,
                        head_sha=head_sha,
                        via=via,
                        at=self._clock(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def signoffs(self, intent_id: int, *, head_sha: str, via: str | None = None) -> list[str]:
        """Reviewers who signed off on exactly this head (sign-offs on older heads are stale); `via`: only
        those given that way (e.g. "comment")."""
        query = (
            select(SignoffRow.reviewer)
            .where(SignoffRow.intent_id == intent_id, SignoffRow.head_sha == head_sha)
            .order_by(SignoffRow.id)
        )
        if via is not None:
            query = query.where(SignoffRow.via == via)
        with self._db.session() as session:
            return list(session.scalars(query))

    def withdraw_signoff(self, intent_id: int, *, reviewer: str, via: str) -> int:
        """Remove a reviewer's sign-offs given `via` (on any head); how many there were."""
        mine = (
            SignoffRow.intent_id == intent_id,
            func.lower(SignoffRow.reviewer) == reviewer.lower(),
            SignoffRow.via == via,
        )
        with self._db.session() as session:
            count = session.scalar(select(func.count()).select_from(SignoffRow).where(*mine)) or 0
            session.execute(delete(SignoffRow).where(*mine))
            return int(count)


def _attempt() -> str:
    """A key unique to one failed attempt: each failure of a retried stage is worth showing."""
    return f"{time.time_ns()}"
