"""Workers: retries, dead letters and their reports, lease renewal, and a worker process killed mid-job."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from gidgethub import sansio
from sqlalchemy import select

from bot.app import bot_context, bot_routes, create_app, load_routes
from bot.events import PullRequestEvent
from bot.queue import JOBS, Job, JobQueue, JobState
from bot.routing import BotContext, PermanentJobError, Routes
from bot.settings import Settings
from bot.webhooks.deliveries import DELIVERIES
from bot.webhooks.intake import WebhookIntake
from bot.worker import Worker, WorkerPool
from pipeline.state import Database
from tests.bot.conftest import delivery_headers, load_example, wait_for
from tests.conftest import ROOT
from tests.fixtures.clock import ManualClock


class Flaky:
    """Job handlers that fail in chosen ways, and a dead-letter report that remembers what it was told."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.dead: list[Job] = []
        self.routes = Routes()
        self.routes.job("fails", on_dead=self.report)(self.fails)
        self.routes.job("hopeless", on_dead=self.report)(self.hopeless)
        self.routes.job("slow")(self.slow)

    def fails(self, job: Job, context: BotContext) -> None:
        self.calls.append(job.attempts)
        if job.attempts < int(job.payload["succeed_on"]):
            raise RuntimeError(f"attempt {job.attempts} broke")

    def hopeless(self, job: Job, context: BotContext) -> None:
        raise PermanentJobError("the intent file is gone")

    def slow(self, job: Job, context: BotContext) -> None:
        time.sleep(float(job.payload["seconds"]))

    def report(self, job: Job, context: BotContext) -> None:
        self.dead.append(job)


@pytest.fixture
def flaky() -> Flaky:
    return Flaky()


@pytest.fixture
def context(bot_settings: Settings, database: Database) -> BotContext:
    return bot_context(bot_settings, database)


def drain(worker: Worker, *, timeout: float = 20.0) -> None:
    """Run jobs until none is runnable now or waiting for a retry."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.run_once() and worker.context.queue.counts()[JobState.QUEUED] == 0:
            return
        time.sleep(0.01)
    raise AssertionError("jobs still queued")


def test_a_failing_job_is_retried_until_it_succeeds(context: BotContext, flaky: Flaky) -> None:
    job_id = context.queue.enqueue("fails", key="k", payload={"succeed_on": 3}).job_id
    drain(Worker(context, bot_routes(flaky.routes), name="w"))
    job = context.queue.get(job_id)
    assert job is not None and job.state is JobState.SUCCEEDED
    assert flaky.calls == [1, 2, 3]
    assert job.last_error == "RuntimeError: attempt 2 broke"
    assert flaky.dead == []


def test_a_job_failing_every_attempt_is_dead_and_reported(context: BotContext, flaky: Flaky) -> None:
    job_id = context.queue.enqueue("fails", key="k", payload={"succeed_on": 99}, max_attempts=3).job_id
    drain(Worker(context, bot_routes(flaky.routes), name="w"))
    job = context.queue.get(job_id)
    assert job is not None and job.state is JobState.DEAD
    assert job.last_error == "RuntimeError: attempt 3 broke"
    assert [(d.id, d.state, d.last_error) for d in flaky.dead] == [(job_id, JobState.DEAD, job.last_error)]


def test_a_permanent_error_is_dead_at_once(context: BotContext, flaky: Flaky) -> None:
    job_id = context.queue.enqueue("hopeless", key="k").job_id
    drain(Worker(context, bot_routes(flaky.routes), name="w"))
    job = context.queue.get(job_id)
    assert job is not None and job.state is JobState.DEAD and job.attempts == 1
    assert job.last_error == "PermanentJobError: the intent file is gone"
    assert len(flaky.dead) == 1


def test_a_job_kind_nobody_handles_is_kept_with_the_reason(context: BotContext) -> None:
    job_id = context.queue.enqueue("unheard-of", key="k", max_attempts=1).job_id
    drain(Worker(context, bot_routes(), name="w"))
    job = context.queue.get(job_id)
    assert job is not None and job.state is JobState.DEAD
    assert job.last_error == "LookupError: no handler for job kind 'unheard-of' in this worker"


@pytest.mark.parametrize(
    ("kind", "payload", "problem"),
    [
        ("intent.build", {"repo": "acme/intents", "sha": "a" * 40}, "path: Field required"),
        (
            "pr.deploy",
            {"repo": "acme/intents", "number": "seven", "sha": "a" * 40},
            "number: Input should be",
        ),
        ("pr.signoff", {"repo": "acme/intents", "number": 3, "extra": 1}, "extra: Extra inputs"),
    ],
)
def test_a_malformed_job_payload_is_dead_at_once_with_the_field_named(
    context: BotContext, kind: str, payload: dict[str, object], problem: str
) -> None:
    job_id = context.queue.enqueue(kind, key=f"k:{kind}", payload=payload).job_id
    drain(Worker(context, load_routes(), name="w"))
    job = context.queue.get(job_id)
    assert job is not None and job.state is JobState.DEAD and job.attempts == 1, "never retried"
    assert job.last_error is not None
    assert job.last_error.startswith(f"PermanentJobError: the {kind} job's payload is malformed: {problem}")


def test_a_job_longer_than_its_lease_keeps_it(
    bot_settings: Settings, database: Database, clock: ManualClock
) -> None:
    queue = JobQueue(database, lease_seconds=30, clock=clock.time)
    context = BotContext(bot_settings, database, queue)
    stolen: list[Job] = []

    def lease_end(job_id: int) -> float:
        job = queue.get(job_id)
        assert job is not None and job.lease_expires_at is not None
        return job.lease_expires_at

    routes = Routes()

    @routes.job("long")
    def long_job(job: Job, context: BotContext) -> None:
        # Three times two thirds of the lease: without renewals the lease would lapse after the second.
        for _ in range(3):
            clock.advance(20)
            wait_for(lambda: lease_end(job.id) >= clock.time() + 29, what="the lease to be renewed")
            stolen.extend(j for j in [queue.claim("thief")] if j is not None)

    job_id = queue.enqueue("long", key="k").job_id
    assert Worker(context, bot_routes(routes), name="busy", renew_every=0.05).run_once()
    assert stolen == []
    job = queue.get(job_id)
    assert job is not None and job.state is JobState.SUCCEEDED and job.attempts == 1


def test_a_malformed_event_is_dead_at_once_with_the_field_named(bot_settings: Settings) -> None:
    routes = Routes()
    routes.on(PullRequestEvent)(lambda event, context: None)
    app = create_app(bot_settings, routes=bot_routes(routes), worker_threads=1)
    payload = load_example("pull_request", "opened.payload.json")
    del payload["pull_request"]["head"]["sha"]
    body = json.dumps(payload).encode()
    with TestClient(app) as client:
        response = client.post("/webhook", content=body, headers=delivery_headers("pull_request", body))
        assert response.status_code == 202
        queue = app.state.context.queue
        wait_for(lambda: queue.counts()[JobState.DEAD] == 1, what="the event job to be dead")
    with app.state.context.database.session() as session:
        error = session.execute(select(JOBS.c.last_error).where(JOBS.c.state == "dead")).scalar_one()
    assert error == "PermanentJobError: pull_request payload: pull_request.head.sha: missing"


def test_the_pool_stops_promptly(context: BotContext) -> None:
    pool = WorkerPool(context, bot_routes(), threads=3)
    pool.start()
    started = time.monotonic()
    assert pool.stop(timeout=10)
    assert time.monotonic() - started < 5


def spawn_worker(url: str, markers: Path, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.bot.worker_process", url, str(markers), mode],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def markers_of(markers: Path, prefix: str) -> list[str]:
    return sorted(p.name for p in markers.glob(f"{prefix}-*"))


def test_a_sigkilled_workers_job_is_finished_by_another(
    database: Database, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    queue = JobQueue(database)
    job_id = queue.enqueue("work", key="the-job").job_id
    markers = tmp_path / "markers"
    markers.mkdir()
    doomed = spawn_worker(database.url, markers, "hang")
    processes.append(doomed)
    wait_for(
        lambda: bool(markers_of(markers, "started")), timeout=180, what="the first worker to start the job"
    )
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    survivor = spawn_worker(database.url, markers, "finish")
    processes.append(survivor)
    wait_for(
        lambda: (j := queue.get(job_id)) is not None and j.state is JobState.SUCCEEDED,
        timeout=180,
        what="the job",
    )
    survivor.terminate()
    assert survivor.wait(20) == 0, survivor.stderr.read().decode() if survivor.stderr else ""
    job = queue.get(job_id)
    assert job is not None and job.attempts == 2 and job.lease_owner is None
    assert markers_of(markers, "done") == [f"done-{job_id}-{survivor.pid}"]


@pytest.mark.slow
def test_workers_killed_at_random_points_lose_no_job(
    database: Database, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    queue = JobQueue(database)
    ids = [
        queue.enqueue("work", key=f"job-{n}", payload={"seconds": 0.2}, max_attempts=50).job_id
        for n in range(10)
    ]
    markers = tmp_path / "markers"
    markers.mkdir()
    chance = random.Random(7)
    for _ in range(3):
        victim = spawn_worker(database.url, markers, "finish")
        processes.append(victim)
        time.sleep(chance.uniform(0.5, 1.5))
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    processes.extend(spawn_worker(database.url, markers, "finish") for _ in range(2))
    wait_for(lambda: queue.counts()[JobState.SUCCEEDED] == 10, timeout=180, what="all ten jobs")
    assert queue.counts()[JobState.DEAD] == 0
    done = {int(name.split("-")[1]) for name in markers_of(markers, "done")}
    assert done == set(ids)


def test_an_idle_worker_prunes_what_is_past_retention(
    bot_settings: Settings, database: Database, clock: ManualClock, flaky: Flaky
) -> None:
    queue = JobQueue(database, clock=clock.time)
    context = BotContext(bot_settings, database, queue)
    routes = bot_routes(flaky.routes)
    intake = WebhookIntake(routes=routes, queue=queue, bot_login=None, clock=clock.time)
    body = json.dumps(load_example("push")).encode()
    intake.record(sansio.Event(json.loads(body), event="push", delivery_id="old"), body, hook_id="1")
    old_done = queue.enqueue("fails", key="old-done", payload={"succeed_on": 1}).job_id
    old_dead = queue.enqueue("hopeless", key="old-dead").job_id
    worker = Worker(context, routes, name="w")
    while worker.run_once():
        pass
    clock.advance(bot_settings.retention_days * 86400 + 1)
    recent = queue.enqueue("fails", key="recent", payload={"succeed_on": 1}).job_id
    assert worker.run_once()  # the recent job
    assert not worker.run_once()  # idle: prunes
    assert queue.get(old_done) is None
    assert queue.get(old_dead) is not None  # dead jobs stay until someone looks
    assert queue.get(recent) is not None
    with database.session() as session:
        assert session.execute(select(DELIVERIES.c.id)).first() is None


def test_a_dead_jobs_reported_error_never_holds_a_secret(
    context: BotContext, caplog: pytest.LogCaptureFixture
) -> None:
    # The common report (kinds without their own) logs the error without the webhook secret in it.
    routes = Routes()

    def leaks(job: Job, context: BotContext) -> None:
        secret = context.settings.webhook_secret
        assert secret is not None
        raise PermanentJobError(f"the forge refused {secret.get_secret_value()}")

    routes.job("leaky")(leaks)
    context.queue.enqueue("leaky", key="k", payload={"repo": "acme/intents", "number": 3})
    drain(Worker(context, bot_routes(routes), name="w"))
    reported = [r.getMessage() for r in caplog.records if r.name == "bot.handlers.deadletters"]
    assert reported == ["giving up on leaky for #3: PermanentJobError: the forge refused [redacted]"]
