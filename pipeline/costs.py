"""What the line costs per service and per month: its model calls (recorded per call, `pipeline.llm.usage`)
and its compute, priced by a rate card: the seconds the factory worked on each intent (SPEC and code: build
seconds; tests in the sandbox: sandbox seconds) and the hours each service ran (from its deploy to its
undeploy, as the ledger records them), and with Docker the CPU seconds and memory (GB-hours) of each service's
containers, from the engine's figures sampled when a container stops and when usage is asked for
(`pipeline.deploy.samples`).

A rate card is a small YAML file (`INTENTOPS_RATE_CARD`); without one the defaults below apply. Nothing here
enforces a budget: the monthly model budget is enforced where calls are made, as before.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select

from pipeline.deploy.samples import ContainerSamples
from pipeline.governance.yamldoc import DocumentError, read_document
from pipeline.ledger.states import Outcome, Stage
from pipeline.ledger.tables import IntentEventRow, IntentRow
from pipeline.llm.usage import CallStatus, LLMCall
from pipeline.state import Database

BUILD_STAGES = frozenset({Stage.SPEC.value, Stage.CODE.value})
SANDBOX_STAGES = frozenset({Stage.TESTS.value})
MAX_RATE_CARD_BYTES = 16 * 1024
BAD_RATE_CARD = "the rate card {path}: {problem}"


class RateCard(BaseModel):
    """USD per unit of compute. The defaults are a small cloud VM's list prices, rounded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    build_second_usd: float = Field(default=0.00004, ge=0, le=1)
    """A second of the factory's work on an intent (SPEC, code)."""
    sandbox_second_usd: float = Field(default=0.00004, ge=0, le=1)
    """A second of a service's tests in the sandbox."""
    uptime_hour_usd: float = Field(default=0.01, ge=0, le=100)
    """An hour of one running service."""
    cpu_second_usd: float = Field(default=0.000012, ge=0, le=1)
    """A second of CPU time used by a service's containers (Docker)."""
    memory_gb_hour_usd: float = Field(default=0.005, ge=0, le=100)
    """A GB (2**30 bytes) of memory used by a service's containers for an hour (Docker)."""

    @classmethod
    def load(cls, path: Path | None) -> RateCard:
        """The card in `path` (YAML), or the defaults. Raises ValueError naming the file, line and field."""
        if path is None:
            return cls()
        try:
            document = read_document(path.read_bytes(), max_bytes=MAX_RATE_CARD_BYTES)
            return cls.model_validate(document.value or {})
        except OSError as exc:
            raise ValueError(BAD_RATE_CARD.format(path=path, problem=exc.strerror)) from None
        except DocumentError as exc:
            raise ValueError(
                BAD_RATE_CARD.format(path=path, problem=f"{exc.line}:{exc.column}: {exc.message}")
            ) from None
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"]) or "card"
            line = document.position(tuple(error["loc"]))[0]
            raise ValueError(
                BAD_RATE_CARD.format(path=path, problem=f"line {line}: {where}: {error['msg']}")
            ) from None


@dataclass
class ServiceCost:
    service: str
    month: str
    build_seconds: float = 0.0
    sandbox_seconds: float = 0.0
    uptime_hours: float = 0.0
    cpu_seconds: float = 0.0
    memory_gb_hours: float = 0.0
    llm_calls: int = 0
    llm_usd: float = 0.0
    compute_usd: float = field(default=0.0)

    @property
    def total_usd(self) -> float:
        return self.llm_usd + self.compute_usd

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "month": self.month,
            "build_seconds": round(self.build_seconds, 3),
            "sandbox_seconds": round(self.sandbox_seconds, 3),
            "uptime_hours": round(self.uptime_hours, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "memory_gb_hours": round(self.memory_gb_hours, 9),
            "llm_calls": self.llm_calls,
            "llm_usd": round(self.llm_usd, 6),
            "compute_usd": round(self.compute_usd, 6),
            "total_usd": round(self.total_usd, 6),
        }


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The first moment of `month` (YYYY-MM, UTC) and of the month after."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def _overlap(start: datetime, end: datetime, lower: datetime, upper: datetime) -> float:
    return max(0.0, (min(end, upper) - max(start, lower)).total_seconds())


def service_costs(db: Database, *, month: str, now: datetime, rates: RateCard) -> list[ServiceCost]:
    """Each service's cost in `month`: its model calls, build and sandbox seconds, uptime, and its containers'
    CPU seconds and memory, priced."""
    lower, upper = month_bounds(month)
    costs: dict[str, ServiceCost] = {}

    def cost(service: str) -> ServiceCost:
        return costs.setdefault(service, ServiceCost(service=service, month=month))

    events = (
        select(
            IntentRow.service_name,
            IntentEventRow.intent_id,
            IntentEventRow.stage,
            IntentEventRow.outcome,
            IntentEventRow.duration_ms,
            IntentEventRow.at,
        )
        .join(IntentRow, IntentRow.id == IntentEventRow.intent_id)
        .where(IntentEventRow.outcome.in_([Outcome.SUCCEEDED.value, Outcome.FAILED.value]))
        .order_by(IntentEventRow.id)
    )
    up_since: dict[int, datetime] = {}
    uptime: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    with db.session() as session:
        for service, intent_id, stage, outcome, duration_ms, at in session.execute(events):
            at = _utc(at)
            if lower <= at < upper and duration_ms is not None:
                if stage in BUILD_STAGES:
                    cost(service).build_seconds += duration_ms / 1000
                elif stage in SANDBOX_STAGES:
                    cost(service).sandbox_seconds += duration_ms / 1000
            if outcome != Outcome.SUCCEEDED.value:
                continue
            if stage == Stage.DEPLOYED.value:
                up_since.setdefault(intent_id, at)
            elif stage == Stage.UNDEPLOYED.value and intent_id in up_since:
                uptime[service].append((up_since.pop(intent_id), at))
        names = dict(session.execute(select(IntentRow.id, IntentRow.service_name)).all())
        calls = session.execute(
            select(
                IntentRow.service_name, func.count(LLMCall.id), func.coalesce(func.sum(LLMCall.cost_usd), 0.0)
            )
            .join(IntentRow, LLMCall.budget_key == IntentRow.repo + ":" + IntentRow.path)
            .where(
                LLMCall.month == month,
                LLMCall.status.in_([CallStatus.RESERVED.value, CallStatus.RECORDED.value]),
            )
            .group_by(IntentRow.service_name)
        ).all()
    for intent_id, since in up_since.items():
        uptime[names[intent_id]].append((since, now))
    for service, spans in uptime.items():
        seconds = sum(_overlap(start, end, lower, upper) for start, end in spans)
        if seconds:
            cost(service).uptime_hours += seconds / 3600
    for service, used in ContainerSamples(db).usage(lower=lower, upper=upper).items():
        cost(service).cpu_seconds += used.cpu_seconds
        cost(service).memory_gb_hours += used.memory_gb_hours
    for service, count, usd in calls:
        cost(service).llm_calls += int(count)
        cost(service).llm_usd += float(usd)
    for item in costs.values():
        item.compute_usd = (
            item.build_seconds * rates.build_second_usd
            + item.sandbox_seconds * rates.sandbox_second_usd
            + item.uptime_hours * rates.uptime_hour_usd
            + item.cpu_seconds * rates.cpu_second_usd
            + item.memory_gb_hours * rates.memory_gb_hour_usd
        )
    return sorted(costs.values(), key=lambda c: (-c.total_usd, c.service))


@dataclass(frozen=True)
class MonthTotal:
    month: str
    llm_usd: float
    compute_usd: float

    @property
    def total_usd(self) -> float:
        return self.llm_usd + self.compute_usd


def month_total(db: Database, *, month: str, now: datetime, rates: RateCard) -> MonthTotal:
    services = service_costs(db, month=month, now=now, rates=rates)
    with db.session() as session:
        llm = session.scalar(
            select(func.coalesce(func.sum(LLMCall.cost_usd), 0.0)).where(
                LLMCall.month == month,
                LLMCall.status.in_([CallStatus.RESERVED.value, CallStatus.RECORDED.value]),
            )
        )
    return MonthTotal(month, float(llm or 0.0), sum(s.compute_usd for s in services))
