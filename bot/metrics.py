"""Prometheus metrics of the bot: `GET /metrics` in the text exposition format (prometheus-client).

Two kinds of figures. What only this process sees is counted as it happens: webhook deliveries by event
and outcome (an ASGI middleware around `POST /webhook`), and the jobs its workers ran (how long each
waited and ran, how many attempts it took). What every process shares is read from the state database
when scraped (`StateCollector`), so one scrape of the bot tells the whole line's state however many
`intentops worker` processes share the queue: queue depth by kind, dead jobs, stage durations, deploys
and rollbacks, model tokens and cost.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from bot.queue import JOBS, Job, JobState
from pipeline.ledger import Outcome, Stage
from pipeline.ledger.tables import IntentEventRow
from pipeline.llm.usage import CallStatus, LLMCall
from pipeline.state import Database

METRICS_PATH = "/metrics"
WEBHOOK_PATH = "/webhook"
EVENT_HEADER = "x-github-event"
MAX_LABEL = 64
"""Longest event name kept as a label (GitHub's are far shorter); longer ones are counted as `other`."""
REFUSED_EVENT = "unverified"
"""The event label of a refused delivery: its headers are unauthenticated, so never a label value."""
STATUS_OUTCOMES = {
    400: "bad-request",
    401: "bad-signature",
    413: "too-large",
    415: "bad-media-type",
}
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
ATTEMPT_BUCKETS = (1, 2, 3, 4, 5, 7, 10, 20)

PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
"""This process's own counters and histograms (shared by every app it serves; tests read differences)."""
WEBHOOK_DELIVERIES = Counter(
    "intentops_webhook_deliveries",
    "Webhook deliveries received, by event and what became of them",
    ["event", "outcome"],
    registry=PROCESS_REGISTRY,
)
JOB_WAIT = Histogram(
    "intentops_job_wait_seconds",
    "Time a job waited between becoming runnable and being claimed",
    ["kind"],
    buckets=JOB_BUCKETS,
    registry=PROCESS_REGISTRY,
)
JOB_DURATION = Histogram(
    "intentops_job_duration_seconds",
    "Time a job's attempt ran, by kind and result (succeeded, retry, dead, lost)",
    ["kind", "result"],
    buckets=JOB_BUCKETS,
    registry=PROCESS_REGISTRY,
)
JOB_ATTEMPTS = Histogram(
    "intentops_job_attempts",
    "Attempts a job took, observed when it finished (succeeded or dead)",
    ["kind", "result"],
    buckets=ATTEMPT_BUCKETS,
    registry=PROCESS_REGISTRY,
)


def job_claimed(job: Job, *, now: float) -> None:
    """A worker claimed `job` at `now` (the queue's clock): how long it waited to run."""
    JOB_WAIT.labels(kind=job.kind).observe(max(0.0, now - job.run_after))


def job_finished(job: Job, state: JobState | None, *, seconds: float) -> None:
    """An attempt of `job` ended in `state` (None: its lease was lost or it will be retried)."""
    result = {JobState.SUCCEEDED: "succeeded", JobState.DEAD: "dead", JobState.QUEUED: "retry"}.get(
        state if state is not None else JobState.RUNNING, "lost"
    )
    JOB_DURATION.labels(kind=job.kind, result=result).observe(seconds)
    if state in (JobState.SUCCEEDED, JobState.DEAD):
        JOB_ATTEMPTS.labels(kind=job.kind, result=result).observe(job.attempts)


def _delivery_outcome(status: int, body: bytes) -> str:
    if status in STATUS_OUTCOMES:
        return STATUS_OUTCOMES[status]
    if status >= 500:
        return "error"
    try:
        answer = json.loads(body)
    except ValueError:
        return f"http-{status}"
    return str(answer.get("status", f"http-{status}")) if isinstance(answer, dict) else f"http-{status}"


def _event_label(scope: MutableMapping[str, Any], status: int) -> str:
    if status >= 300:
        return REFUSED_EVENT
    for name, value in scope.get("headers", ()):
        if name == EVENT_HEADER.encode():
            event = value.decode("latin-1")
            return event if len(event) <= MAX_LABEL and event.replace("_", "").isalnum() else "other"
    return REFUSED_EVENT


ASGIApp = Callable[..., Awaitable[None]]


class DeliveryCounter:
    """Counts each `POST /webhook` by event and outcome, read from the answer the intake gave."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != WEBHOOK_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        status = 0
        body = bytearray()

        async def observed(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and len(body) < 4096:
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, observed)
        outcome = _delivery_outcome(status, bytes(body))
        WEBHOOK_DELIVERIES.labels(event=_event_label(scope, status), outcome=outcome).inc()


class StateCollector(Collector):
    """The line's state as the shared database holds it, read at each scrape."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterable[Metric]:
        with self.database.session() as session:
            jobs = session.execute(
                select(JOBS.c.kind, JOBS.c.state, func.count()).group_by(JOBS.c.kind, JOBS.c.state)
            ).all()
            stages = session.execute(
                select(
                    IntentEventRow.stage,
                    IntentEventRow.outcome,
                    func.count(),
                    func.coalesce(func.sum(IntentEventRow.duration_ms), 0),
                )
                .where(IntentEventRow.outcome.in_([Outcome.SUCCEEDED.value, Outcome.FAILED.value]))
                .group_by(IntentEventRow.stage, IntentEventRow.outcome)
            ).all()
            deploys = session.execute(
                select(IntentEventRow.outcome, IntentEventRow.duration_ms.is_not(None), func.count())
                .where(
                    IntentEventRow.stage == Stage.DEPLOYED.value,
                    IntentEventRow.outcome.in_([Outcome.SUCCEEDED.value, Outcome.FAILED.value]),
                )
                .group_by(IntentEventRow.outcome, IntentEventRow.duration_ms.is_not(None))
            ).all()
            usage = session.execute(
                select(
                    LLMCall.stage,
                    func.coalesce(func.sum(LLMCall.input_tokens), 0),
                    func.coalesce(func.sum(LLMCall.output_tokens), 0),
                    func.coalesce(func.sum(LLMCall.cost_usd), 0.0),
                )
                .where(LLMCall.status == CallStatus.RECORDED.value)
                .group_by(LLMCall.stage)
            ).all()
        yield from _queue_metrics([(str(k), str(s), int(n)) for k, s, n in jobs])
        yield from _stage_metrics([(str(st), str(o), int(n), int(ms or 0)) for st, o, n, ms in stages])
        yield from _deploy_metrics([(str(o), bool(ran), int(n)) for o, ran, n in deploys])
        yield from _usage_metrics([(str(st), int(i), int(o), float(c)) for st, i, o, c in usage])


def _queue_metrics(rows: list[tuple[str, str, int]]) -> Iterable[Metric]:
    depth = GaugeMetricFamily(
        "intentops_queue_depth", "Jobs waiting or running, by kind and state", labels=["kind", "state"]
    )
    dead = GaugeMetricFamily("intentops_dead_jobs", "Jobs that failed every attempt", labels=["kind"])
    for kind, state, count in rows:
        if state in (JobState.QUEUED.value, JobState.RUNNING.value):
            depth.add_metric([kind, state], count)
        elif state == JobState.DEAD.value:
            dead.add_metric([kind], count)
    return (depth, dead)


def _stage_metrics(rows: list[tuple[str, str, int, int]]) -> Iterable[Metric]:
    durations = SummaryMetricFamily(
        "intentops_stage_duration_seconds",
        "Time the line's stages took, by stage and outcome (from the intents' history)",
        labels=["stage", "outcome"],
    )
    for stage, outcome, count, milliseconds in rows:
        durations.add_metric([stage, outcome], count_value=count, sum_value=milliseconds / 1000)
    return (durations,)


def _deploy_metrics(rows: list[tuple[str, bool, int]]) -> Iterable[Metric]:
    """(outcome, whether a deploy ran, count): a deploy that ran and failed left the previous version
    serving (a rollback); one that never ran was refused (no sign-off, or a head the line did not test)."""
    deploys = CounterMetricFamily(
        "intentops_deploys",
        "Deploys by outcome: succeeded, failed (rolled back) or refused",
        labels=["outcome"],
    )
    rollbacks = CounterMetricFamily(
        "intentops_rollbacks", "Deploys that failed and left the version serving before in place"
    )
    counts = {"succeeded": 0, "failed": 0, "refused": 0}
    for outcome, ran, count in rows:
        key = outcome if outcome == Outcome.SUCCEEDED.value else ("failed" if ran else "refused")
        counts[key] += count
    for outcome, count in counts.items():
        deploys.add_metric([outcome], count)
    rollbacks.add_metric([], counts["failed"])
    return (deploys, rollbacks)


def _usage_metrics(rows: list[tuple[str, int, int, float]]) -> Iterable[Metric]:
    tokens = CounterMetricFamily(
        "intentops_model_tokens", "Model tokens used, by stage and direction", labels=["stage", "direction"]
    )
    cost = CounterMetricFamily("intentops_model_cost_usd", "Model cost in USD, by stage", labels=["stage"])
    for stage, input_tokens, output_tokens, usd in rows:
        tokens.add_metric([stage, "input"], input_tokens)
        tokens.add_metric([stage, "output"], output_tokens)
        cost.add_metric([stage], usd)
    return (tokens, cost)


def app_registry(database: Database) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(database))
    return registry


def exposition(*registries: CollectorRegistry) -> bytes:
    return b"".join(generate_latest(registry) for registry in registries)


def add_metrics(app: FastAPI, database: Database) -> None:
    """`GET /metrics` on `app` and the delivery counter around its webhook."""
    registry = app_registry(database)

    @app.get(METRICS_PATH, include_in_schema=False)
    def metrics() -> Response:
        return Response(exposition(PROCESS_REGISTRY, registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(DeliveryCounter)
