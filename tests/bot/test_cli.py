"""`intentops bot serve` and `intentops worker` as a user runs them: real processes, real HTTP, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bot.app import open_state_database
from bot.cli.main import build_app
from bot.queue import JobQueue, JobState
from bot.webhooks.intake import EVENT_JOB_KIND
from pipeline.state import default_sqlite_url
from tests.bot.conftest import SECRET, delivery_headers, load_example, wait_for
from tests.conftest import ROOT
from tests.fixtures.forge import ForgeKit
from tests.fixtures.servers import free_port

INTENTOPS = str(Path(sys.executable).with_name("intentops"))


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTOPS_") and k != "DATABASE_URL"}
    return env | {"INTENTOPS_DATA_DIR": str(tmp_path / "data")} | extra


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(10)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "GITHUB_TOKEN"),
        (
            {"GITHUB_TOKEN": "t0ken", "INTENTOPS_BOT_LOGIN": "intentops-bot"},
            "INTENTOPS_WEBHOOK_SECRET is not set",
        ),
    ],
)
def test_serve_without_configuration_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name in ("INTENTOPS_WEBHOOK_SECRET", "DATABASE_URL", "GITHUB_TOKEN", "INTENTOPS_BOT_LOGIN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INTENTOPS_DATA_DIR", str(tmp_path / "data"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(build_app(), ["bot", "serve", "--port", str(free_port())])
    assert result.exit_code == 1
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.fixture
def bot_env(forge_kit: ForgeKit, tmp_path: Path) -> dict[str, str]:
    """A bot account on a real embedded forge, as `intentops up` would configure it."""
    account = forge_kit.user("intentops-bot")
    return environment(
        tmp_path,
        INTENTOPS_WEBHOOK_SECRET=SECRET,
        GITHUB_TOKEN=account.token,
        GITHUB_BASE_URL=forge_kit.api_url,
        INTENTOPS_BOT_LOGIN="intentops-bot",
    )


def test_serve_acknowledges_a_signed_delivery_and_stops_on_sigterm(
    tmp_path: Path, bot_env: dict[str, str], started: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [INTENTOPS, "bot", "serve", "--port", str(port), "--threads", "1"],
        env=bot_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started.append(process)
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return process.poll() is not None  # stop waiting: it died

    wait_for(healthy, timeout=180, what="the bot to answer")
    assert process.poll() is None, process.stderr.read() if process.stderr else ""
    body = json.dumps(load_example("ping")).encode()
    answer = httpx.post(f"{base}/webhook", content=body, headers=delivery_headers("ping", body), timeout=10)
    assert answer.status_code == 200 and answer.json()["status"] == "ping"
    refused = httpx.post(f"{base}/webhook", content=body, headers={"X-GitHub-Event": "ping"}, timeout=10)
    assert refused.status_code == 401
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells how it ended.
    assert process.wait(30) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in (process.stderr.read() if process.stderr else "")


def test_worker_runs_queued_jobs_until_sigterm(
    tmp_path: Path, bot_env: dict[str, str], started: list[subprocess.Popen[str]]
) -> None:
    database = open_state_database(default_sqlite_url(tmp_path / "data"))
    (tmp_path / "data" / "wheelhouse").symlink_to(ROOT / ".data" / "wheelhouse")  # a host that can build
    queue = JobQueue(database)
    job_id = queue.enqueue(EVENT_JOB_KIND, key="k", payload={"delivery": 1, "route": "gone:push"}).job_id
    process = subprocess.Popen(
        [INTENTOPS, "worker", "--threads", "2"],
        env=bot_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started.append(process)
    wait_for(
        lambda: (j := queue.get(job_id)) is not None and j.state is JobState.DEAD, timeout=180, what="the job"
    )
    job = queue.get(job_id)
    assert (
        job is not None
        and job.last_error == "PermanentJobError: no handler named gone:push (was it removed?)"
    )
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    output = process.stdout.read() if process.stdout else ""
    assert "worker: 2 thread(s) on sqlite:///" in output
    database.dispose()
