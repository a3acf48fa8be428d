"""Analytics: intents per day, auto-approval rate, median time per stage, SPEC scores, deploy success
rate, LLM tokens and cost this month, and what each service cost this month (model calls plus compute
priced by the rate card: build and sandbox seconds, uptime, and with Docker its containers' CPU seconds
and memory, the running ones sampled when the page is asked for, at most once a minute). A handful of
grouped queries over the ledger, over a range of days (`since`, `until`; the last 14 by default)."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlalchemy import func, select
from starlette.responses import Response

from bot.dashboard.charts import BarChart, bar_chart
from bot.dashboard.context import ContextDep, DashboardContext
from bot.dashboard.readmodel import TIMELINE
from bot.dashboard.rendering import duration, render
from bot.dashboard.sessions import UserDep
from bot.dashboard.text import BAD_DATE, BAD_RANGE, RANGE_TOO_LONG
from pipeline.costs import RateCard, ServiceCost, month_total, service_costs
from pipeline.ledger import Outcome, Stage
from pipeline.ledger.tables import DecisionRow, IntentEventRow, IntentRow
from pipeline.llm.usage import month_of
from pipeline.state import Database

DAYS = 14
MAX_DAYS = 366
COST_ROWS = 12
"""At most this many services in the cost table (the costliest)."""
LABELS = 16
"""At most this many day labels under the per-day chart; the others stay blank (their bars keep titles)."""
AUTO_APPROVE = "auto_approve"
SCORE_BUCKETS = ((0, 59), (60, 69), (70, 79), (80, 89), (90, 100))

router = APIRouter()


@dataclass(frozen=True)
class LlmMonth:
    month: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    budget_usd: float | None


@dataclass(frozen=True)
class CostMonth:
    month: str
    services: tuple[ServiceCost, ...]
    """The costliest services this month, at most COST_ROWS."""
    more: int
    """Services left out of the table."""
    compute_usd: float
    llm_usd: float

    @property
    def total_usd(self) -> float:
        return self.compute_usd + self.llm_usd


@dataclass(frozen=True)
class DayRange:
    """The days shown, both included (UTC)."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the range."""
        return datetime.combine(self.last + timedelta(days=1), time.min, UTC)


def day_range(since: str, until: str, today: date) -> DayRange:
    """The range a person asked for: YYYY-MM-DD dates, at most MAX_DAYS days; the last DAYS days without
    them. Raises a 400 that names the bad value."""
    last = _date("until", until) if until else today
    first = _date("since", since) if since else last - timedelta(days=DAYS - 1)
    if first > last:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, BAD_RANGE.format(since=first, until=last))
    if (last - first).days + 1 > MAX_DAYS:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, RANGE_TOO_LONG.format(days=MAX_DAYS))
    return DayRange(first, last)


def _date(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, BAD_DATE.format(name=name, value=value[:40])
        ) from None


@dataclass(frozen=True)
class Analytics:
    days: DayRange
    intents_total: int
    per_day: BarChart
    decided: int
    auto_approval_rate: float | None
    stage_medians: BarChart
    spec_scores: BarChart
    spec_median: float | None
    deploys: int
    deploy_success_rate: float | None
    llm: LlmMonth | None
    costs: CostMonth


def _per_day(db: Database, days: DayRange) -> tuple[int, BarChart]:
    with db.session() as session:
        created = session.scalars(
            select(IntentRow.created_at).where(
                IntentRow.created_at >= days.start, IntentRow.created_at < days.end
            )
        ).all()
    per_day = Counter(_utc(moment).date() for moment in created)
    every = -(-days.days // LABELS)
    points = []
    for offset in range(days.days):
        day = days.first + timedelta(days=offset)
        label = day.strftime("%m-%d") if offset % every == 0 else ""
        points.append((label, float(per_day[day]), str(per_day[day])))
    title = f"Intents received per day, {days.first} to {days.last}"
    return len(created), bar_chart(title, points, describe=[d.strftime("%m-%d") for d in _each(days)])


def _each(days: DayRange) -> list[date]:
    return [days.first + timedelta(days=offset) for offset in range(days.days)]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _auto_approval(db: Database, days: DayRange) -> tuple[int, float | None]:
    """Of the intents decided in the range, the share whose latest decision there was auto_approve."""
    latest = (
        select(func.max(DecisionRow.id))
        .where(DecisionRow.at >= days.start, DecisionRow.at < days.end)
        .group_by(DecisionRow.intent_id)
    )
    query = (
        select(DecisionRow.action, func.count())
        .where(DecisionRow.id.in_(latest))
        .group_by(DecisionRow.action)
    )
    with db.session() as session:
        actions = {action: int(count) for action, count in session.execute(query)}
    decided = sum(actions.values())
    return decided, (actions.get(AUTO_APPROVE, 0) / decided if decided else None)


def _stage_times(db: Database, days: DayRange) -> tuple[BarChart, int, float | None]:
    query = select(IntentEventRow.stage, IntentEventRow.outcome, IntentEventRow.duration_ms).where(
        IntentEventRow.outcome.in_([Outcome.SUCCEEDED.value, Outcome.FAILED.value]),
        IntentEventRow.at >= days.start,
        IntentEventRow.at < days.end,
    )
    durations: dict[str, list[int]] = defaultdict(list)
    deploys = Counter[str]()
    with db.session() as session:
        for stage, outcome, ms in session.execute(query):
            if outcome == Outcome.SUCCEEDED.value and ms is not None:
                durations[stage].append(ms)
            if stage == Stage.DEPLOYED.value:
                deploys[outcome] += 1
    points = []
    for stage in TIMELINE:
        samples = durations[stage.value]
        median = statistics.median(samples) if samples else 0.0
        points.append((stage.value, float(median), duration(median) if samples else "–"))
    total = deploys.total()
    rate = deploys[Outcome.SUCCEEDED.value] / total if total else None
    return bar_chart("Median time per stage", points), total, rate


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _spec_scores(db: Database, days: DayRange) -> tuple[BarChart, float | None]:
    """The SPEC score of each intent last active in the range."""
    # Only the score is read out of each build report (JSON path, SQLite and PostgreSQL alike).
    # As text, parsed here: a score that is not a number is skipped instead of failing the cast in SQL.
    score = IntentRow.report[("spec", "score")].as_string()
    query = select(score).where(
        IntentRow.report.is_not(None), IntentRow.updated_at >= days.start, IntentRow.updated_at < days.end
    )
    with db.session() as session:
        values = session.scalars(query).all()
    scores = [s for s in map(_number, values) if s is not None]
    points = []
    for low, high in SCORE_BUCKETS:
        count = sum(1 for s in scores if low <= s <= high or (high == 100 and s > 100))
        points.append((f"{low}–{high}", float(count), str(count)))
    return bar_chart("SPEC scores", points), (statistics.median(scores) if scores else None)


def _llm(context: DashboardContext, now: datetime) -> LlmMonth | None:
    if context.usage is None:
        return None
    month = month_of(now)
    stages = context.usage.usage_by_stage(month)
    return LlmMonth(
        month=month,
        calls=sum(s.calls for s in stages),
        input_tokens=sum(
            s.input_tokens + s.cache_creation_input_tokens + s.cache_read_input_tokens for s in stages
        ),
        output_tokens=sum(s.output_tokens for s in stages),
        cost_usd=sum(s.cost_usd for s in stages),
        budget_usd=context.usage.budgets.monthly_usd,
    )


def _costs(context: DashboardContext, now: datetime, rates: RateCard) -> CostMonth:
    month = month_of(now)
    services = service_costs(context.db, month=month, now=now, rates=rates)
    total = month_total(context.db, month=month, now=now, rates=rates)
    return CostMonth(
        month=month,
        services=tuple(services[:COST_ROWS]),
        more=max(0, len(services) - COST_ROWS),
        compute_usd=total.compute_usd,
        llm_usd=total.llm_usd,
    )


def compute(
    context: DashboardContext, days: DayRange | None = None, rates: RateCard | None = None
) -> Analytics:
    now = context.clock()
    days = days or day_range("", "", now.date())
    total, per_day = _per_day(context.db, days)
    decided, auto_rate = _auto_approval(context.db, days)
    medians, deploys, deploy_rate = _stage_times(context.db, days)
    scores, spec_median = _spec_scores(context.db, days)
    return Analytics(
        days=days,
        intents_total=total,
        per_day=per_day,
        decided=decided,
        auto_approval_rate=auto_rate,
        stage_medians=medians,
        spec_scores=scores,
        spec_median=spec_median,
        deploys=deploys,
        deploy_success_rate=deploy_rate,
        llm=_llm(context, now),
        costs=_costs(context, now, rates or RateCard()),
    )


DateText = Annotated[str, Query(max_length=40)]


@router.get("/analytics", name="analytics")
def analytics(
    request: Request, user: UserDep, context: ContextDep, since: DateText = "", until: DateText = ""
) -> Response:
    days = day_range(since, until, context.clock().date())
    not_sampled = request.app.state.sample_containers()
    data = compute(context, days, request.app.state.rates)
    page = {"title": "Analytics", "data": data, "not_sampled": not_sampled}
    return render(request, "analytics.html", page, user=user)
