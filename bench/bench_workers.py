"""Scale-out of the job queue on PostgreSQL: throughput at 1, 2 and 4 worker processes when jobs wait on
the forge, and the queue's own cost per job (claim + finish).

    .venv/bin/python bench/bench_workers.py [--jobs 200] [--latency-ms 50] [--processes 1,2,4] [--runs 3]
                                            [--database-url URL]

Without --database-url the throwaway cluster of scripts/postgres.sh is used (started if need be); each
run gets a fresh database. The forge is a stand-in HTTP server on 127.0.0.1 that answers every request
after --latency-ms (a forge call of the bot: a REST round trip that mostly waits); each job makes one
such call, so throughput is bounded by waiting, which is what more worker processes on more hosts buy.
Worker processes are real `bot.worker.Worker`s (one thread each) on the real queue, started before the
clock and released together. Baseline, in the same run: one worker process. Printed: jobs per second
per process count and the ratio to one process (targets: 1.8x at 2, 3.2x at 4); then the queue's own
cost, claim and finish of a job whose handler does nothing, in ms of wall and of client CPU per job.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.app import open_state_database  # noqa: E402
from bot.queue import Job, JobQueue, JobState  # noqa: E402
from bot.routing import BotContext, Routes  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.worker import Worker  # noqa: E402
from pipeline.state import Database  # noqa: E402

KIND = "bench.forge-call"
NOOP = "bench.noop"
TARGETS = {2: 1.8, 4: 3.2}


def forge_stand_in(latency_s: float) -> ThreadingHTTPServer:
    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(latency_s)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def bench_routes(forge_url: str) -> Routes:
    routes = Routes()
    client = httpx.Client(base_url=forge_url, timeout=30)

    @routes.job(KIND)
    def call_forge(job: Job, context: BotContext) -> None:
        client.get(f"/repos/acme/intents/contents/intents/{job.payload['n']}.yaml").raise_for_status()

    @routes.job(NOOP)
    def nothing(job: Job, context: BotContext) -> None:
        return

    return routes


def context_for(database: Database, url: str) -> BotContext:
    settings = Settings(DATABASE_URL=url, INTENTOPS_WEBHOOK_SECRET="bench")
    return BotContext(settings=settings, database=database, queue=JobQueue(database))


def work(url: str, forge_url: str) -> None:
    """A worker process: ready, then run jobs from the go line on stdin until stdin closes."""
    database = open_state_database(url)
    worker = Worker(context_for(database, url), bench_routes(forge_url), name=f"bench-{os.getpid()}")
    stop = threading.Event()
    print("ready", flush=True)
    sys.stdin.readline()

    def until_stdin_closes() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    while not stop.is_set():
        if not worker.run_once():
            stop.wait(0.01)
    database.dispose()


def fresh_database(server_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    libpq = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def throughput(server_url: str, forge_url: str, *, processes: int, jobs: int) -> float:
    url = fresh_database(server_url)
    database = open_state_database(url)
    queue = JobQueue(database)
    for n in range(jobs):
        queue.enqueue(KIND, key=f"call:{n}", payload={"n": n})
    command = [sys.executable, __file__, "--work", url, "--forge", forge_url]
    workers = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    try:
        for process in workers:
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        started = time.monotonic()
        for process in workers:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        while queue.counts()[JobState.SUCCEEDED] < jobs:
            time.sleep(0.02)
        return jobs / (time.monotonic() - started)
    finally:
        for process in workers:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(30)
        database.dispose()


def queue_cost(server_url: str, *, jobs: int) -> tuple[float, float]:
    """(wall ms, client CPU ms) per job for claim + finish of jobs that do nothing, one worker in process."""
    url = fresh_database(server_url)
    database = open_state_database(url)
    queue = JobQueue(database)
    for n in range(jobs):
        queue.enqueue(NOOP, key=f"noop:{n}", payload={})
    worker = Worker(context_for(database, url), bench_routes("http://127.0.0.1:9"), name="bench-cost")
    before_cpu, started = _cpu(), time.monotonic()
    while worker.run_once():
        pass
    wall, cpu = time.monotonic() - started, _cpu() - before_cpu
    assert queue.counts()[JobState.SUCCEEDED] == jobs
    database.dispose()
    return wall * 1000 / jobs, cpu * 1000 / jobs


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def postgres_url(given: str | None) -> str:
    if given:
        return given
    started = subprocess.run(
        [str(ROOT / "scripts" / "postgres.sh"), "start"], capture_output=True, text=True, check=False
    )
    if started.returncode != 0 or not started.stdout.strip():
        raise SystemExit(f"no PostgreSQL: {started.stderr.strip()[-300:]}")
    return started.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server (its maintenance database)")
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--forge", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.work:
        work(args.work, args.forge)
        return
    counts = [int(part) for part in args.processes.split(",")]
    if 1 not in counts:
        counts.insert(0, 1)
    server_url = postgres_url(args.database_url)
    forge = forge_stand_in(args.latency_ms / 1000)
    forge_url = f"http://127.0.0.1:{forge.server_address[1]}"
    rates: dict[int, list[float]] = {count: [] for count in counts}
    for _ in range(args.runs):
        for count in counts:  # interleaved, so a busy moment of the machine hits every count alike
            rates[count].append(throughput(server_url, forge_url, processes=count, jobs=args.jobs))
    cost = [queue_cost(server_url, jobs=args.jobs) for _ in range(args.runs)]
    forge.shutdown()
    print(
        f"{args.jobs} jobs each waiting {args.latency_ms:.0f} ms on the forge, PostgreSQL, "
        f"medians of {args.runs}, {os.cpu_count()} CPUs"
    )
    base = statistics.median(rates[1])
    for count in counts:
        rate = statistics.median(rates[count])
        goal = TARGETS.get(count)
        note = " (baseline)" if count == 1 else ""
        if goal is not None:
            note = f"  target {goal}x: {'ok' if rate / base >= goal else 'MISSED'}"
        print(f"{count} worker process(es) {rate:8.1f} jobs/s  {rate / base:5.2f}x{note}")
    wall = statistics.median(c[0] for c in cost)
    cpu = statistics.median(c[1] for c in cost)
    print(f"queue's own cost per job (claim + finish, no-op handler): {wall:.2f} ms wall, {cpu:.2f} ms CPU")


if __name__ == "__main__":
    main()
