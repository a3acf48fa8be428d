"""LLM usage and cost in the state database: a row per call, budget checks, and spend queries.

A call first *reserves* its worst-case cost; the reservation is checked against the budgets in the
same transaction that writes it, so two workers cannot both squeeze under a limit. After the call the
row is settled to the real usage (or released if nothing was billed). A process that dies mid-call
leaves its reservation counted at the worst case: the error is toward spending less, never more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Float, Integer, String, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from pipeline.llm.base import BudgetExceeded, Usage
from pipeline.state import Base, Database

# Any fixed number serves: it names the one PostgreSQL advisory lock that serialises reservations.
_RESERVATION_LOCK_ID = 0x4C4C4D5553  # "LLMUS"

MONTHLY_BUDGET_EXCEEDED = (
    "LLM budget: this call could cost up to ${estimate:.4f}; ${spent:.4f} of the ${limit:.2f} monthly "
    "budget is spent or reserved in {month}, so it was not made"
)
KEY_BUDGET_EXCEEDED = (
    "LLM budget: this call could cost up to ${estimate:.4f}; ${spent:.4f} of the ${limit:.2f} budget for "
    "{key} is spent or reserved, so it was not made"
)


class CallStatus(StrEnum):
    RESERVED = "reserved"
    """The call is under way (or its process died): counted at its worst-case cost."""
    RECORDED = "recorded"
    """The call answered: counted at its real cost."""
    FAILED = "failed"
    """The call got no answer, so nothing was billed."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


class LLMCall(Base):
    """One call to a model: who asked, what it used and cost, and against which budget."""

    __tablename__ = "llm_usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    month: Mapped[str] = mapped_column(String(7), index=True)
    """UTC year-month (`2026-11`), stored so monthly sums need no dialect-specific date functions."""
    stage: Mapped[str] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(128))
    budget_key: Mapped[str | None] = mapped_column(String(512), index=True)
    status: Mapped[str] = mapped_column(String(16), default=CallStatus.RESERVED.value)
    estimate_usd: Mapped[float] = mapped_column(Float)
    cost_usd: Mapped[float] = mapped_column(Float)
    """The worst case while reserved, the real cost once recorded, 0 when failed."""
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_creation_input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(128))


@dataclass(frozen=True)
class Budgets:
    """Spending limits in USD. Both always apply; a limit of 0 refuses every call."""

    per_intent_usd: float
    monthly_usd: float


@dataclass(frozen=True)
class StageUsage:
    stage: str
    calls: int
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    cost_usd: float


@dataclass(frozen=True)
class MonthlyCost:
    month: str
    calls: int
    cost_usd: float


def _stage_usage(row: tuple[Any, ...]) -> StageUsage:
    stage, calls, inputs, outputs, cache_creation, cache_read, cost = row
    return StageUsage(
        stage=stage,
        calls=int(calls),
        input_tokens=int(inputs),
        output_tokens=int(outputs),
        cache_creation_input_tokens=int(cache_creation),
        cache_read_input_tokens=int(cache_read),
        cost_usd=float(cost),
    )


def _counted() -> list[str]:
    return [CallStatus.RESERVED.value, CallStatus.RECORDED.value]


class UsageLedger:
    """Reads and writes `llm_usage`; the budgets are checked here, against what the table says."""

    def __init__(
        self, database: Database, budgets: Budgets, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._db = database
        self.budgets = budgets
        self._clock = clock

    def reserve(self, *, stage: str, model: str, budget_key: str | None, estimate_usd: float) -> int:
        """Record a call about to be made at its worst-case cost; BudgetExceeded if a budget cannot take it.

        Returns the reservation's id, to settle or release afterwards.
        """
        now = self._clock()
        call = LLMCall(
            created_at=now,
            month=month_of(now),
            stage=stage,
            model=model,
            budget_key=budget_key,
            status=CallStatus.RESERVED.value,
            estimate_usd=estimate_usd,
            cost_usd=estimate_usd,
        )
        with self._serialised() as session:
            # Writing first takes SQLite's write lock, so the sums below see every earlier reservation.
            session.add(call)
            session.flush()
            self._check_budgets(session, call)
            return call.id

    def settle(self, reservation: int, *, usage: Usage, message_id: str | None) -> None:
        """Replace a reservation's worst case with what the call really used and cost."""
        with self._db.session() as session:
            call = session.get_one(LLMCall, reservation)
            call.status = CallStatus.RECORDED.value
            call.cost_usd = usage.cost_usd
            call.input_tokens = usage.input_tokens
            call.output_tokens = usage.output_tokens
            call.cache_creation_input_tokens = usage.cache_creation_input_tokens
            call.cache_read_input_tokens = usage.cache_read_input_tokens
            call.message_id = message_id

    def release(self, reservation: int) -> None:
        """The call got no answer: it costs nothing and stops counting against the budgets."""
        with self._db.session() as session:
            call = session.get_one(LLMCall, reservation)
            call.status = CallStatus.FAILED.value
            call.cost_usd = 0.0

    def spend_this_month(self) -> float:
        """USD spent or reserved in the current UTC month."""
        with self._db.session() as session:
            return self._month_spend(session, month_of(self._clock()))

    def spend_for_key(self, budget_key: str) -> float:
        """USD spent or reserved for one budget key (one intent), over all time."""
        with self._db.session() as session:
            return self._key_spend(session, budget_key)

    def usage_by_stage(self, month: str | None = None) -> list[StageUsage]:
        """Calls, tokens and cost per stage, for one month (`YYYY-MM`) or all time."""
        query = select(
            LLMCall.stage,
            func.count(LLMCall.id),
            func.coalesce(func.sum(LLMCall.input_tokens), 0),
            func.coalesce(func.sum(LLMCall.output_tokens), 0),
            func.coalesce(func.sum(LLMCall.cache_creation_input_tokens), 0),
            func.coalesce(func.sum(LLMCall.cache_read_input_tokens), 0),
            func.coalesce(func.sum(LLMCall.cost_usd), 0.0),
        ).where(LLMCall.status.in_(_counted()))
        if month is not None:
            query = query.where(LLMCall.month == month)
        query = query.group_by(LLMCall.stage).order_by(LLMCall.stage)
        with self._db.session() as session:
            return [_stage_usage(tuple(row)) for row in session.execute(query)]

    def cost_by_month(self) -> list[MonthlyCost]:
        """Calls and USD per UTC month, oldest first (the dashboard's cost chart)."""
        query = (
            select(LLMCall.month, func.count(LLMCall.id), func.coalesce(func.sum(LLMCall.cost_usd), 0.0))
            .where(LLMCall.status.in_(_counted()))
            .group_by(LLMCall.month)
            .order_by(LLMCall.month)
        )
        with self._db.session() as session:
            return [MonthlyCost(row[0], int(row[1]), float(row[2])) for row in session.execute(query)]

    @contextmanager
    def _serialised(self) -> Iterator[Session]:
        with self._db.session() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _RESERVATION_LOCK_ID})
            yield session

    def _check_budgets(self, session: Session, call: LLMCall) -> None:
        # The sums include `call` itself (already flushed), so each compares the total with the limit.
        spent = self._month_spend(session, call.month)
        if spent > self.budgets.monthly_usd:
            raise BudgetExceeded(
                MONTHLY_BUDGET_EXCEEDED.format(
                    estimate=call.estimate_usd,
                    spent=spent - call.estimate_usd,
                    limit=self.budgets.monthly_usd,
                    month=call.month,
                )
            )
        if call.budget_key is None:
            return
        spent = self._key_spend(session, call.budget_key)
        if spent > self.budgets.per_intent_usd:
            raise BudgetExceeded(
                KEY_BUDGET_EXCEEDED.format(
                    estimate=call.estimate_usd,
                    spent=spent - call.estimate_usd,
                    limit=self.budgets.per_intent_usd,
                    key=call.budget_key,
                )
            )

    @staticmethod
    def _month_spend(session: Session, month: str) -> float:
        query = select(func.coalesce(func.sum(LLMCall.cost_usd), 0.0)).where(
            LLMCall.month == month, LLMCall.status.in_(_counted())
        )
        return float(session.execute(query).scalar_one())

    @staticmethod
    def _key_spend(session: Session, budget_key: str) -> float:
        query = select(func.coalesce(func.sum(LLMCall.cost_usd), 0.0)).where(
            LLMCall.budget_key == budget_key, LLMCall.status.in_(_counted())
        )
        return float(session.execute(query).scalar_one())
