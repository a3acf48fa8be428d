"""The monitor's timer: the bot queues the assembly-line monitor for each repository it serves every
INTENTOPS_MONITOR_INTERVAL_MINUTES, once per interval however many bot processes tick, never beside a
monitor job still pending; 0 turns it off. Time moves by hand (tests/fixtures/clock.py)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import bot_context, create_app
from bot.handlers.monitor import MONITOR_JOB, start_monitor
from bot.monitor_timer import MonitorTimer, attach_monitor_timer
from bot.queue import JOBS, JobState
from bot.routing import BotContext
from bot.settings import Settings
from pipeline.ledger import Ledger
from pipeline.state import Database
from tests.fixtures.clock import ManualClock

REPO = "acme/intents"
OTHER = "acme/other_repo"
HOUR = timedelta(minutes=60)


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(
        INTENTOPS_WEBHOOK_SECRET="monitor-timer-test-secret",
        INTENTOPS_DATA_DIR=str(tmp_path),
        INTENTOPS_REPO=REPO,
        **values,  # type: ignore[arg-type]
    )


@pytest.fixture
def context(database: Database, tmp_path: Path) -> BotContext:
    Ledger(database).receive(repo=OTHER, path="intents/x.yaml", service_name="x", content_hash="h")
    return bot_context(_settings(tmp_path), database)


def _pending(context: BotContext) -> list[str]:
    query = select(JOBS.c.payload).where(
        JOBS.c.kind == MONITOR_JOB, JOBS.c.state.in_([JobState.QUEUED.value, JobState.RUNNING.value])
    )
    with context.database.session() as session:
        return sorted(payload["repo"] for payload in session.scalars(query))


def _run_all(context: BotContext) -> None:
    while (job := context.queue.claim("test-worker")) is not None:
        assert context.queue.complete(job)


def test_each_served_repository_is_looked_at_once_an_interval_by_all_bots_together(
    context: BotContext, clock: ManualClock
) -> None:
    woken: list[bool] = []
    bot = MonitorTimer(context, interval=HOUR, clock=clock, on_queued=lambda: woken.append(True))
    other_bot = MonitorTimer(bot_context(context.settings, context.database), interval=HOUR, clock=clock)

    assert bot.tick() == [REPO, OTHER], "INTENTOPS_REPO and the ledger's repositories"
    assert other_bot.tick() == [] and _pending(context) == [REPO, OTHER] and woken == [True]
    _run_all(context)
    clock.advance(minutes=59)
    assert bot.tick() == [] and other_bot.tick() == [], "once an interval, even after the jobs ran"
    assert bot.seconds_to_next_slot() == pytest.approx(60)

    clock.advance(minutes=1)
    start_monitor(context, REPO)  # an event queued a look at REPO that has not run yet
    assert other_bot.tick() == [OTHER], "no second pending job beside the event's"
    assert bot.tick() == [] and _pending(context) == [REPO, OTHER]

    clock.advance(minutes=60)
    assert bot.tick() == [], "the previous interval's jobs still wait: nothing piles up"
    _run_all(context)
    clock.advance(minutes=60)
    assert bot.tick() == [REPO, OTHER]


def test_the_bots_lifespan_runs_the_timer_and_zero_turns_it_off(
    database: Database, tmp_path: Path, clock: ManualClock
) -> None:
    for off in ({"INTENTOPS_MONITOR_INTERVAL_MINUTES": 0}, {"INTENTOPS_MONITOR": False}):
        assert attach_monitor_timer(create_app(_settings(tmp_path, **off), database=database)) is None
    with pytest.raises(ValueError, match="interval must be positive"):
        MonitorTimer(bot_context(_settings(tmp_path), database), interval=timedelta(0))

    app = create_app(_settings(tmp_path), database=database, worker_threads=0)
    clock.advance(seconds=-0.1)  # the hour begins in a tenth of a second
    timer = attach_monitor_timer(app, clock=clock)
    assert timer is not None and timer.seconds_to_next_slot() == pytest.approx(0.1)
    context = app.state.context
    with TestClient(app):
        deadline = time.monotonic() + 10
        while _pending(context) != [REPO]:
            assert time.monotonic() < deadline, "the timer queued nothing when the hour began"
            time.sleep(0.02)
    assert "monitor-timer" not in {thread.name for thread in threading.enumerate()}, "stopped with the app"


def test_a_pending_job_holds_back_only_its_own_repository(context: BotContext, clock: ManualClock) -> None:
    """`_` in a repository's name is no wildcard: acme/otherXrepo's pending job does not hold back
    acme/other_repo."""
    Ledger(context.database).receive(
        repo="acme/otherXrepo", path="intents/y.yaml", service_name="y", content_hash="h"
    )
    start_monitor(context, "acme/otherXrepo")
    assert MonitorTimer(context, interval=HOUR, clock=clock).tick() == [REPO, OTHER]


def test_events_while_a_look_waits_to_start_add_no_second_one(context: BotContext) -> None:
    """A push of many intents opens many pull requests: one waiting look covers them; once it has started,
    the next change of the ledger queues the next look."""
    ledger = Ledger(context.database)
    start_monitor(context, REPO)
    for n in range(3):
        ledger.receive(repo=REPO, path=f"intents/s{n}.yaml", service_name=f"s{n}", content_hash="h")
        start_monitor(context, REPO)
    assert _pending(context) == [REPO]

    job = context.queue.claim("test-worker")
    assert job is not None and job.kind == MONITOR_JOB
    ledger.receive(repo=REPO, path="intents/s9.yaml", service_name="s9", content_hash="h")
    start_monitor(context, REPO)
    assert _pending(context) == [REPO, REPO], "the running look may have read the ledger before the change"
