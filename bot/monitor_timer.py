"""The monitor's timer: the bot (`bot serve`, `up`) queues the assembly-line monitor for each repository it
serves every INTENTOPS_MONITOR_INTERVAL_MINUTES, so a rule about waiting (a sign-off pending for a day)
fires even when nothing happens on the line.

Time is cut into slots of one interval and a slot's job has one key per repository, so several bot
processes ticking in the same slot queue one job between them (the queue's keys are unique). A repository
whose monitor job is still waiting or running gets no second one, whatever slot it is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from bot.handlers.monitor import MONITOR_JOB, MonitorPayload, monitor_job_in
from bot.queue import JobState
from bot.routing import BotContext
from pipeline.ledger.tables import IntentRow

log = logging.getLogger(__name__)

TIMER_KEY = "monitor:{repo}:timer:{slot}"
PENDING = (JobState.QUEUED, JobState.RUNNING)
MIN_WAIT_SECONDS = 0.1
TICK_FAILED = "the monitor's timer could not queue its jobs (it tries again next interval): %s"


def served_repos(context: BotContext) -> list[str]:
    """The repositories the bot serves: each one its ledger has intents of, and INTENTOPS_REPO."""
    with context.database.session() as session:
        repos = set(session.scalars(select(IntentRow.repo).distinct()))
    if context.settings.intents_repo:
        repos.add(context.settings.intents_repo)
    return sorted(repos)


def monitor_pending(context: BotContext, repo: str) -> bool:
    """Whether a monitor job for `repo` is waiting or running."""
    return monitor_job_in(context, repo, PENDING)


def queue_monitors(context: BotContext, *, now: datetime, interval: timedelta) -> list[str]:
    """Queue the monitor for each served repository without one pending, once in `now`'s slot; the
    repositories a job was queued for."""
    slot = int(now.timestamp() // interval.total_seconds())
    queued = []
    for repo in served_repos(context):
        if monitor_pending(context, repo):
            continue
        key = TIMER_KEY.format(repo=repo, slot=slot)
        if context.queue.enqueue(MONITOR_JOB, key=key, payload=MonitorPayload(repo=repo)).created:
            queued.append(repo)
    return queued


class MonitorTimer:
    """A thread that queues the monitor at the beginning of each slot (the clock's whole intervals: with 60
    minutes, each full hour), until stopped. It does not tick when it starts: a restarted bot adds nothing,
    and bots started at different times still tick together."""

    def __init__(
        self,
        context: BotContext,
        *,
        interval: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        if interval <= timedelta(0):
            raise ValueError(f"the monitor's interval must be positive, got {interval}")
        self._context = context
        self._interval = interval
        self._clock = clock
        self._on_queued = on_queued
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> list[str]:
        """Queue what this slot needs; wake the workers when something was queued."""
        queued = queue_monitors(self._context, now=self._clock(), interval=self._interval)
        if queued and self._on_queued is not None:
            self._on_queued()
        return queued

    def seconds_to_next_slot(self) -> float:
        seconds = self._interval.total_seconds()
        return max(MIN_WAIT_SECONDS, seconds - self._clock().timestamp() % seconds)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="monitor-timer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.seconds_to_next_slot()):
            try:
                self.tick()
            except SQLAlchemyError as exc:  # the database is away: the next slot tries again
                log.warning(TICK_FAILED, exc)


def attach_monitor_timer(
    app: FastAPI, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> MonitorTimer | None:
    """Run the monitor's timer while the bot's app runs (its lifespan), per its settings; None when the
    monitor or its timer is turned off (INTENTOPS_MONITOR=false, INTENTOPS_MONITOR_INTERVAL_MINUTES=0)."""
    context: BotContext = app.state.context
    settings = context.settings
    if not settings.monitor_enabled or settings.monitor_interval_minutes == 0:
        return None
    timer = MonitorTimer(
        context,
        interval=timedelta(minutes=settings.monitor_interval_minutes),
        clock=clock,
        on_queued=app.state.workers.wake,
    )
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[Any]:
        async with inner(running) as state:
            timer.start()
            try:
                yield state
            finally:
                await run_in_threadpool(timer.stop)

    app.router.lifespan_context = lifespan
    return timer
