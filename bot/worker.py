"""Workers: claim a job, run its handler while renewing the lease, record the outcome, report dead letters.

They run as threads in the app's process (started and stopped by its lifespan) and in `intentops worker`
processes; any number of either may share one database.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bot.handlers.deadletters import out_of_sight, report_dead
from bot.logs import job_log_context
from bot.metrics import job_claimed, job_finished
from bot.queue import Job, JobState
from bot.routing import BotContext, PermanentJobError, Routes
from bot.vcs.errors import NotFound
from bot.webhooks.deliveries import prune_deliveries

log = logging.getLogger(__name__)

IDLE_SECONDS = 0.5
PRUNE_EVERY_SECONDS = 3600.0
NO_HANDLER = "no handler for job kind {kind!r} in this worker"
NOTHING_TO_DO = "job %d (%s) has nothing to do: the forge does not show the bot %s (404: %s)"


def describe_error(exc: BaseException) -> str:
    """What is kept as a job's last error: the exception's type and message, never a traceback."""
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _subject(job: Job) -> str:
    payload = job.payload
    subject = payload.get("path") or (f"#{payload['number']}" if "number" in payload else "")
    return f"{payload.get('repo', '')} {subject}".strip() or "what it is about"


def worker_name(suffix: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{suffix}"


class Worker:
    """Runs one job at a time. `run_once` is the unit the threads, the CLI and the tests share."""

    def __init__(
        self, context: BotContext, routes: Routes, *, name: str, renew_every: float | None = None
    ) -> None:
        self.context = context
        self.routes = routes
        self.name = name
        self.renew_every = renew_every or context.queue.lease_seconds / 3
        """Seconds between lease renewals while a job runs; a third of the lease leaves room for a miss."""
        self._next_prune = 0.0

    def run_once(self) -> bool:
        """Claim and run one job; False when there was none."""
        job = self.context.queue.claim(self.name)
        if job is None:
            self._reap()
            return False
        job_claimed(job, now=self.context.queue.clock())
        started = time.monotonic()
        with self._lease_renewed(job), job_log_context(job, self.context.database):
            state, error = self._execute(job)
        job_finished(job, state, seconds=time.monotonic() - started)
        if state is JobState.DEAD:
            self._report_dead(job, error)
        return True

    def _reap(self) -> None:
        for job in self.context.queue.reap_expired():
            log.error("job %d (%s) is dead: %s", job.id, job.kind, job.last_error)
            self._report_dead(job)
        now = self.context.queue.clock()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY_SECONDS
            before = now - self.context.settings.retention_days * 86400
            jobs = self.context.queue.prune(before)
            deliveries = prune_deliveries(self.context.database, before)
            if jobs or deliveries:
                log.info("pruned %d finished jobs and %d deliveries", jobs, deliveries)

    def _execute(self, job: Job) -> tuple[JobState | None, str | None]:
        queue = self.context.queue
        route = self.routes.job_route(job.kind)
        try:
            if route is None:
                # Not permanent: another worker (a newer version) may know the kind.
                raise LookupError(NO_HANDLER.format(kind=job.kind))
            malformed = route.malformed(job)
            if malformed:
                raise PermanentJobError(malformed)
            route.handler(job, self.context)
        except NotFound as exc:
            if not out_of_sight(job, self.context):
                return self._failed(job, exc)
            # The repository or PR is gone, or was never one the bot may see: trying again cannot help.
            log.info(NOTHING_TO_DO, job.id, job.kind, _subject(job), exc.message)
        except PermanentJobError as exc:
            error = describe_error(exc)
            log.error("job %d (%s) failed for good: %s", job.id, job.kind, error)
            return queue.fail(job, error, permanent=True), error
        except Exception as exc:
            return self._failed(job, exc)
        if not queue.complete(job):
            log.warning("job %d (%s) finished after its lease was taken over", job.id, job.kind)
        else:
            log.info("job %d (%s) done, attempt %d", job.id, job.kind, job.attempts)
        return JobState.SUCCEEDED, None

    def _failed(self, job: Job, exc: Exception) -> tuple[JobState | None, str | None]:
        # The error is kept on the job and the job is retried or dead-lettered: nothing is swallowed.
        error = describe_error(exc)
        log.warning("job %d (%s) attempt %d failed: %s", job.id, job.kind, job.attempts, error, exc_info=True)
        return self.context.queue.fail(job, error), error

    def _report_dead(self, job: Job, error: str | None = None) -> None:
        """Tell the people concerned, with the kind's own report or, when it has none, the common one."""
        route = self.routes.job_route(job.kind)
        on_dead = route.on_dead if route is not None and route.on_dead is not None else report_dead
        if error is not None:
            job = Job(**{**job.__dict__, "state": JobState.DEAD, "last_error": error})
        try:
            on_dead(job, self.context)
        except Exception:
            # The job is already dead with its error stored; a report that fails must not stop the worker.
            log.exception("could not report dead job %d (%s)", job.id, job.kind)

    @contextmanager
    def _lease_renewed(self, job: Job) -> Iterator[None]:
        """Renew the lease every `renew_every` seconds while the handler runs."""
        done = threading.Event()
        interval = self.renew_every

        def renew() -> None:
            while not done.wait(interval):
                if not self.context.queue.heartbeat(job):
                    log.warning("job %d (%s): lease lost to another worker", job.id, job.kind)
                    return

        renewer = threading.Thread(target=renew, name=f"lease-{job.id}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            done.set()
            renewer.join()

    def run(self, stop: threading.Event, wake: threading.Event | None = None) -> None:
        """Work until `stop` is set; sleep between empty polls unless `wake` is set."""
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                # The database is unreachable or similar: back off and try again rather than die.
                log.exception("worker %s: could not poll the queue", self.name)
                busy = False
            if busy:
                continue
            if wake is None:
                stop.wait(IDLE_SECONDS)
            elif wake.wait(IDLE_SECONDS):
                wake.clear()


class WorkerPool:
    """Worker threads, started and stopped together (the app's lifespan, `intentops worker`)."""

    def __init__(self, context: BotContext, routes: Routes, *, threads: int, prefix: str = "worker") -> None:
        self.workers = [Worker(context, routes, name=worker_name(f"{prefix}-{i}")) for i in range(threads)]
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        for worker in self.workers:
            thread = threading.Thread(
                target=worker.run, args=(self._stop, self._wake), name=worker.name, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """New jobs were queued: stop waiting for the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> bool:
        """Ask the threads to finish their current job and stop; False if one is still running after
        `timeout` (its lease then expires and another worker takes the job over)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        alive = [t for t in self._threads if t.is_alive()]
        self._threads = alive
        return not alive

    def wait(self) -> None:
        """Block until `stop` is called from another thread or a signal handler."""
        self._stop.wait()
