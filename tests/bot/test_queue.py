"""The durable job queue on SQLite and on a real PostgreSQL: idempotency, priority, leases, dead letters."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from bot.queue import LEASE_EXPIRED_ERROR, IdempotencyKey, JobQueue, JobState
from pipeline.state import Database
from tests.fixtures.clock import ManualClock

KEY = IdempotencyKey("acme/intents", "intents/hello-world.yaml", "c0ffee", "build")


@pytest.fixture
def queue(database: Database, clock: ManualClock) -> JobQueue:
    return JobQueue(database, lease_seconds=30, max_attempts=3, backoff_seconds=2, clock=clock.time)


def test_same_key_a_hundred_times_is_one_job(queue: JobQueue) -> None:
    results = [queue.enqueue("build", key=KEY, payload={"n": n}) for n in range(100)]
    assert results[0].created
    assert not any(r.created for r in results[1:])
    assert {r.job_id for r in results} == {results[0].job_id}
    job = queue.find(KEY)
    assert job is not None and job.payload == {"n": 0}
    assert queue.counts()[JobState.QUEUED] == 1


def test_a_different_content_hash_is_a_different_job(queue: JobQueue) -> None:
    first = queue.enqueue("build", key=KEY)
    second = queue.enqueue("build", key=IdempotencyKey(KEY.repo, KEY.path, "d00d", KEY.stage))
    assert first.created and second.created and first.job_id != second.job_id


def test_a_finished_job_is_not_enqueued_again(queue: JobQueue) -> None:
    queue.enqueue("build", key=KEY)
    job = queue.claim("w1")
    assert job is not None and queue.complete(job)
    again = queue.enqueue("build", key=KEY)
    assert not again.created
    assert queue.claim("w1") is None


def test_enqueue_inside_a_transaction_that_rolls_back_leaves_nothing(
    queue: JobQueue, database: Database
) -> None:
    with pytest.raises(RuntimeError), database.session() as session:
        queue.enqueue("build", key=KEY, session=session)
        raise RuntimeError("the caller's other write failed")
    assert queue.find(KEY) is None


def test_key_length_is_checked(queue: JobQueue) -> None:
    with pytest.raises(ValueError, match="1 to 512 characters"):
        queue.enqueue("build", key="x" * 513)


def test_higher_priority_first_then_oldest(queue: JobQueue, clock: ManualClock) -> None:
    queue.enqueue("build", key="low", priority=0)
    clock.advance(1)
    queue.enqueue("build", key="high-old", priority=3)
    clock.advance(1)
    queue.enqueue("build", key="high-new", priority=3)
    order = []
    while (job := queue.claim("w")) is not None:
        order.append(job.key)
        queue.complete(job)
    assert order == ["high-old", "high-new", "low"]


def test_an_expired_lease_is_taken_over_and_the_old_claim_is_void(
    queue: JobQueue, clock: ManualClock
) -> None:
    queue.enqueue("build", key=KEY)
    first = queue.claim("dead-worker")
    assert first is not None and first.attempts == 1
    assert queue.claim("other") is None  # leased
    clock.advance(31)
    second = queue.claim("other")
    assert second is not None and second.id == first.id and second.attempts == 2
    assert not queue.complete(first)
    assert queue.fail(first, "late") is None
    assert queue.complete(second)
    done = queue.get(first.id)
    assert done is not None and done.state is JobState.SUCCEEDED and done.last_error is None


def test_heartbeat_keeps_the_lease(queue: JobQueue, clock: ManualClock) -> None:
    queue.enqueue("build", key=KEY)
    job = queue.claim("w1")
    assert job is not None
    for _ in range(5):
        clock.advance(20)
        assert queue.heartbeat(job)
        assert queue.claim("w2") is None


def test_failures_back_off_exponentially_then_go_dead(queue: JobQueue, clock: ManualClock) -> None:
    queue.enqueue("build", key=KEY)
    delays = []
    for attempt in (1, 2):
        job = queue.claim("w")
        assert job is not None and job.attempts == attempt
        assert queue.fail(job, f"boom {attempt}") is JobState.QUEUED
        waiting = queue.get(job.id)
        assert waiting is not None and waiting.state is JobState.QUEUED
        delays.append(waiting.run_after - clock.time())
        assert queue.claim("w") is None  # not before its time
        clock.advance(delays[-1])
    assert delays == [2.0, 4.0]
    job = queue.claim("w")
    assert job is not None and job.attempts == 3
    assert queue.fail(job, "boom 3") is JobState.DEAD
    dead = queue.get(job.id)
    assert dead is not None and dead.state is JobState.DEAD and dead.last_error == "boom 3"
    clock.advance(3600)
    assert queue.claim("w") is None


def test_a_permanent_failure_is_dead_at_once(queue: JobQueue) -> None:
    queue.enqueue("build", key=KEY)
    job = queue.claim("w")
    assert job is not None
    assert queue.fail(job, "cannot ever work", permanent=True) is JobState.DEAD


def test_retry_brings_a_dead_job_back(queue: JobQueue) -> None:
    queue.enqueue("build", key=KEY, max_attempts=1)
    job = queue.claim("w")
    assert job is not None and queue.fail(job, "boom") is JobState.DEAD
    assert queue.retry(job.id)
    again = queue.claim("w")
    assert again is not None and again.id == job.id and again.attempts == 1
    assert not queue.retry(job.id)  # only dead jobs


def test_a_job_whose_worker_dies_on_the_last_attempt_is_reaped(queue: JobQueue, clock: ManualClock) -> None:
    queue.enqueue("build", key=KEY, max_attempts=2)
    for _ in range(2):
        assert queue.claim("doomed") is not None
        clock.advance(31)
    assert queue.claim("next") is None
    reaped = queue.reap_expired()
    assert [j.key for j in reaped] == [str(KEY)]
    assert reaped[0].state is JobState.DEAD and reaped[0].last_error == LEASE_EXPIRED_ERROR
    assert queue.reap_expired() == []


def test_concurrent_claims_run_each_job_once(database: Database) -> None:
    queue = JobQueue(database, lease_seconds=300)
    for n in range(120):
        queue.enqueue("build", key=f"job-{n}", priority=n % 4)
    claimed: Counter[int] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            while (job := queue.claim(name)) is not None:
                with lock:
                    claimed[job.id] += 1
                assert queue.complete(job)
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(claimed) == 120
    assert set(claimed.values()) == {1}
    assert queue.counts()[JobState.SUCCEEDED] == 120
