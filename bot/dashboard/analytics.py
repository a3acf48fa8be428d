"""Analytics: intents per day, auto-approval rate, median time per stage, SPEC scores, deploy success
rate, LLM tokens and cost this month. A handful of grouped queries over the ledger."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from starlette.responses import Response

from bot.dashboard.charts import BarChart, bar_chart
from bot.dashboard.context import ContextDep, DashboardContext
from bot.dashboard.readmodel import TIMELINE
from bot.dashboard.rendering import duration, render
from bot.dashboard.sessions import UserDep
from pipeline.ledger import Outcome, Stage
from pipeline.ledger.tables import DecisionRow, IntentEventRow, IntentRow
from pipeline.llm.usage import month_of
from pipeline.state import Database

DAYS = 14
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
class Analytics:
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


def _per_day(db: Database, now: datetime) -> tuple[int, BarChart]:
    first = (now - timedelta(days=DAYS - 1)).date()
    with db.session() as session:
        total = int(session.execute(select(func.count(IntentRow.id))).scalar_one())
        created = session.scalars(
            select(IntentRow.created_at).where(IntentRow.created_at >= datetime.combine(first, time.min, UTC))
        ).all()
    days = Counter(moment.date() for moment in created)
    points = []
    for offset in range(DAYS):
        day = first + timedelta(days=offset)
        points.append((day.strftime("%m-%d"), float(days[day]), str(days[day])))
    return total, bar_chart(f"Intents received per day, last {DAYS} days", points)


def _auto_approval(db: Database) -> tuple[int, float | None]:
    """Of the intents with a decision, the share whose latest decision was auto_approve."""
    latest = select(func.max(DecisionRow.id)).group_by(DecisionRow.intent_id)
    query = (
        select(DecisionRow.action, func.count())
        .where(DecisionRow.id.in_(latest))
        .group_by(DecisionRow.action)
    )
    with db.session() as session:
        actions = {action: int(count) for action, count in session.execute(query)}
    decided = sum(actions.values())
    return decided, (actions.get(AUTO_APPROVE, 0) / decided if decided else None)


def _stage_times(db: Database) -> tuple[BarChart, int, float | None]:
    query = select(IntentEventRow.stage, IntentEventRow.outcome, IntentEventRow.duration_ms).where(
        IntentEventRow.outcome.in_([Outcome.SUCCEEDED.value, Outcome.FAILED.value])
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


def _spec_scores(db: Database) -> tuple[BarChart, float | None]:
    # Only the score is read out of each build report (JSON path, SQLite and PostgreSQL alike).
    # As text, parsed here: a score that is not a number is skipped instead of failing the cast in SQL.
    score = IntentRow.report[("spec", "score")].as_string()
    with db.session() as session:
        values = session.scalars(select(score).where(IntentRow.report.is_not(None))).all()
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


def compute(context: DashboardContext) -> Analytics:
    now = context.clock()
    total, per_day = _per_day(context.db, now)
    decided, auto_rate = _auto_approval(context.db)
    medians, deploys, deploy_rate = _stage_times(context.db)
    scores, spec_median = _spec_scores(context.db)
    return Analytics(
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
    )


@router.get("/analytics", name="analytics")
def analytics(request: Request, user: UserDep, context: ContextDep) -> Response:
    return render(request, "analytics.html", {"title": "Analytics", "data": compute(context)}, user=user)
