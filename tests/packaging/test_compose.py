"""The compose stack as a platform team runs it: the images built on the local base (scripts/image.sh),
then the bot, two workers and PostgreSQL from compose.yaml. The webhook accepts a signed ping and a signed
push, a worker container claims the push's job from the shared PostgreSQL queue, the bot runs unprivileged
on a read-only root filesystem with a healthcheck, and /metrics parses.

Needs Docker (scripts/docker.sh) and docker-compose: without them the test fails, it is never skipped.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SHARED
from tests.fixtures.servers import free_port
from tests.packaging.conftest import ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.xdist_group("compose")]

SECRET = "compose-smoke-webhook-secret"
PASSWORD = "compose-smoke-postgres-password"
START_TIMEOUT_S = 180.0
IMAGE_TIMEOUT_S = 900
PUSH = SHARED / "github" / "webhooks" / "payload-examples" / "push" / "payload.json"


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Stack:
    project: str
    url: str
    env: dict[str, str]

    def compose(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [*compose_command(), "-p", self.project, "-f", str(ROOT / "compose.yaml"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
        if check:
            assert done.returncode == 0, f"docker-compose {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def sql(self, query: str) -> str:
        return self.compose(
            "exec", "-T", "-e", f"PGPASSWORD={PASSWORD}", "postgres",
            "psql", "-h", "127.0.0.1", "-U", "intentops", "-d", "postgres", "-tAc", query,
        ).strip()  # fmt: skip

    def post(self, event: str, payload: dict[str, object]) -> httpx.Response:
        body = json.dumps(payload).encode()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json",
        }
        return httpx.post(f"{self.url}/webhook", content=body, headers=headers, timeout=10)


@functools.cache
def compose_command() -> list[str]:
    """Docker's compose plugin when it is there (GitHub's runners), else Debian's docker-compose."""
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if plugin.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose") is None:
        pytest.fail(
            "neither `docker compose` nor docker-compose is installed (scripts/docker.sh installs one)"
        )
    return ["docker-compose"]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    compose_command()
    built = subprocess.run(
        [str(ROOT / "scripts" / "image.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=IMAGE_TIMEOUT_S,
    )
    assert built.returncode == 0, f"scripts/image.sh failed:\n{built.stderr}"
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INTENTOPS_", "GITHUB_", "DATABASE_"))},
        "POSTGRES_PASSWORD": PASSWORD,
        "INTENTOPS_WEBHOOK_SECRET": SECRET,
        "INTENTOPS_DASHBOARD_SECRET": "compose-smoke-dashboard-secret-0123456789",
        "GITHUB_TOKEN": "compose-smoke-token",
        "GITHUB_BASE_URL": "http://127.0.0.1:9/api/v3",  # no forge: the job fails and is retried, claimed
        "INTENTOPS_BOT_LOGIN": "intentops-bot",
        "INTENTOPS_PORT": str(port),
        "INTENTOPS_WHEELHOUSE": str(ROOT / ".data" / "wheelhouse"),  # prepared by set-up
    }
    running = Stack(
        project=f"intentops-smoke-{uuid.uuid4().hex[:8]}", url=f"http://127.0.0.1:{port}", env=env
    )
    try:
        running.compose("up", "-d")
        wait_until(lambda: _answers(f"{running.url}/healthz"), what="the bot's /healthz")
        yield running
    finally:
        running.compose("down", "-v", "--remove-orphans", "--timeout", "3", check=False)


def test_the_stack_takes_a_delivery_and_a_worker_claims_its_job(stack: Stack) -> None:
    ping = stack.post("ping", {"zen": "Keep it logically awesome.", "hook_id": 1})
    assert ping.status_code == 200 and ping.json()["status"] == "ping"
    push = stack.post("push", json.loads(PUSH.read_text(encoding="utf-8")))
    assert push.status_code == 202 and push.json()["status"] == "queued", push.text

    def claimed_by_a_worker() -> bool:
        # The bot runs no worker threads here (INTENTOPS_BOT_WORKER_THREADS=0): an attempt is a worker's.
        if stack.sql("SELECT count(*) FROM jobs WHERE attempts > 0") in ("", "0"):
            return False
        lines = stack.compose("logs", "--no-color", "worker-1", "worker-2").splitlines()
        return any('"job_kind": "github-event"' in line and "delivery_id" in line for line in lines)

    wait_until(claimed_by_a_worker, what="a worker container to claim the push's job")

    metrics = httpx.get(f"{stack.url}/metrics", timeout=10).text
    names = {family.name for family in text_string_to_metric_families(metrics)}
    assert {"intentops_webhook_deliveries", "intentops_queue_depth"} <= names

    bot = json.loads(_inspect(stack.compose("ps", "-q", "bot")))
    assert bot["HostConfig"]["ReadonlyRootfs"] is True
    assert bot["Config"]["User"] == "10001:10001"
    assert bot["State"]["Health"]["Status"] in {"healthy", "starting"}
    assert "/healthz" in " ".join(bot["Config"]["Healthcheck"]["Test"])
    for worker in ("worker-1", "worker-2"):  # running since they started: able to run builds here
        state = json.loads(_inspect(stack.compose("ps", "-q", worker)))["State"]
        assert state["Running"] is True and state["Restarting"] is False, f"{worker}: {state}"
        assert json.loads(_inspect(stack.compose("ps", "-q", worker)))["RestartCount"] == 0, worker


def _inspect(container_id: str) -> str:
    done = subprocess.run(
        ["docker", "inspect", container_id.strip()], capture_output=True, text=True, check=True, timeout=30
    )
    return json.dumps(json.loads(done.stdout)[0])
