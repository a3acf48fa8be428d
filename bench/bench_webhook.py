"""Webhook acknowledgement: throughput and latency of the bot's `POST /webhook` against a bare uvicorn
endpoint measured in the same run, on the same machine, with the same client.

    .venv/bin/python bench/bench_webhook.py [--requests 2000] [--concurrency 16] [--runs 3]
                                            [--database-url URL]

The bare endpoint reads the body and answers 202: the floor any ASGI server on uvicorn can reach. The bot
does its whole request path for each delivery: body limit, HMAC-SHA256 verification, JSON decoding,
routing, and the delivery row plus its event job committed to the state database (SQLite by default)
before answering (deliveries that arrive together share one transaction). Each request is a distinct
signed `push` delivery (GitHub's example payload). Worker threads are off in the measured server, so
the numbers are the acknowledgement alone.

On a small machine the load client competes with the server for the same cores, so throughput and p99
say as much about the client as about the server. The server's own CPU time per request (user + system,
read from /proc for the server process) does not: it is the figure to compare, and the ratio printed last.
The machine may be shared: each server runs `--runs` times, alternated, and the medians are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

SECRET = "bench-secret"
PAYLOAD = ROOT.parent / "shared" / "github" / "webhooks" / "payload-examples" / "push" / "payload.json"
BARE = "bare uvicorn (baseline)"
BOT = "bot POST /webhook"


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The baseline: read the whole body, answer 202 with a small JSON body like the bot's."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {"type": "http.response.start", "status": 202, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": b'{"status":"queued"}'})


def serve(kind: str, port: int, data_dir: str, database_url: str | None) -> None:
    import uvicorn

    if kind == "bare":
        uvicorn.run(bare_app, host="127.0.0.1", port=port, log_level="warning")
        return
    from bot.app import bot_routes, create_app
    from bot.events import PushEvent
    from bot.routing import Routes
    from bot.settings import Settings

    routes = Routes()
    routes.on(PushEvent)(lambda event, context: None)
    env = {"INTENTOPS_WEBHOOK_SECRET": SECRET, "INTENTOPS_DATA_DIR": data_dir}
    if database_url:
        env["DATABASE_URL"] = database_url
    app = create_app(Settings(**env), routes=bot_routes(routes), worker_threads=0)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def signed(body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
        "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
    }


async def load(url: str, body: bytes, *, requests: int, concurrency: int) -> tuple[float, list[float]]:
    """(elapsed seconds, per-request latencies) for `requests` deliveries from `concurrency` clients."""
    latencies: list[float] = []
    pending = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def client_loop() -> None:
            for _ in pending:
                started = time.perf_counter()
                response = await client.post("/webhook", content=body, headers=signed(body))
                latencies.append(time.perf_counter() - started)
                if response.status_code != 202:
                    raise RuntimeError(f"unexpected {response.status_code}: {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(url + "/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(kind: str, args: argparse.Namespace, body: bytes, data_dir: str) -> dict[str, float]:
    port = free_port()
    command = [sys.executable, __file__, "--serve", kind, "--port", str(port), "--data-dir", data_dir]
    if args.database_url:
        command += ["--database-url", args.database_url]
    process = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        asyncio.run(load(url, body, requests=args.warmup, concurrency=args.concurrency))
        cpu_before = cpu_seconds(process.pid)
        elapsed, latencies = asyncio.run(
            load(url, body, requests=args.requests, concurrency=args.concurrency)
        )
        cpu = cpu_seconds(process.pid) - cpu_before
    finally:
        process.terminate()
        process.wait(30)
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "rps": len(latencies) / elapsed,
        "p50": cuts[49] * 1000,
        "p99": cuts[98] * 1000,
        "cpu_ms": cpu * 1000 / len(latencies),
    }


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {figure: statistics.median(run[figure] for run in runs) for figure in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3, help="runs of each server, alternated; medians shown")
    parser.add_argument("--database-url", default=None, help="PostgreSQL instead of SQLite for the bot")
    parser.add_argument("--serve", choices=["bare", "bot"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.data_dir, args.database_url)
        return
    body = json.dumps(json.loads(PAYLOAD.read_text(encoding="utf-8"))).encode()
    runs: dict[str, list[dict[str, float]]] = {BARE: [], BOT: []}
    with tempfile.TemporaryDirectory(prefix="bench-webhook-") as data_dir:
        for _ in range(args.runs):  # alternated, so both see the same share of a busy machine
            runs[BARE].append(measure("bare", args, body, data_dir))
            runs[BOT].append(measure("bot", args, body, data_dir))
    results = {name: medians(measured) for name, measured in runs.items()}
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.requests} signed push deliveries, {args.concurrency} concurrent clients, bot on {database}")
    if args.runs > 1:
        print(f"medians of {args.runs} runs of each, alternated; the bot's CPU ms/req in each run: ", end="")
        print(", ".join(f"{run['cpu_ms']:.3f}" for run in runs[BOT]))
    print(f"{'server':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'CPU ms/req':>12}")
    for name, r in results.items():
        print(f"{name:<28}{r['rps']:>10.0f}{r['p50']:>10.1f}{r['p99']:>10.1f}{r['cpu_ms']:>12.3f}")
    bare, bot = results[BARE], results[BOT]
    print(f"ratio bot/bare: throughput {bot['rps'] / bare['rps']:.2f}x, p99 {bot['p99'] / bare['p99']:.2f}x")
    print(f"ratio bot/bare: server CPU per acknowledged delivery {bot['cpu_ms'] / bare['cpu_ms']:.2f}x")


if __name__ == "__main__":
    main()
