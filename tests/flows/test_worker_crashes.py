"""SIGKILL the only worker process at random points while 10 intents flow, restart it, repeat: every
intent ends deployed, with one PR, one build and one running version; nothing is lost or done twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from github import Auth, Github
from sqlalchemy import func, select

from bot.queue import JOBS
from bot.server import build_bot
from bot.settings import Settings
from pipeline.ledger import IntentState
from pipeline.wheelhouse import prepare_wheelhouse
from tests.conftest import EXAMPLES
from tests.fixtures.forge import ForgeKit
from tests.fixtures.line import BOT, REPO, SECRET, SHARED_DATA, _policy_files
from tests.fixtures.servers import free_port, serve_app

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]

NAMES = [
    f"tool-{n}"
    for n in ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")
]
INTENT = """\
service_name: {name}
purpose: Say hello in several languages, to test the assembly line from intent to running service.
tier: 3
resources:
  - name: greeting
    fields: {{language: string, message: string}}
    required: [language]
"""
# The tools go through without a person (offline, a lexical score never auto-approves; this rule reads none).
TOOLS_POLICY = """\
policies:
  - name: Auto-approve the test tools
    rule: service_name.startsWith('tool-') && tier == 3
    action: auto_approve
    reason: Tools of this test go straight through.
"""
KILLS = 6
SEED = 20261124
DEADLINE_S = 240.0  # below pytest-timeout (300 s), so a failure shows the worker log


def _environment(data: Path, forge: ForgeKit, token: str, url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(data),
        "INTENTOPS_WEBHOOK_SECRET": SECRET,
        "GITHUB_TOKEN": token,
        "GITHUB_BASE_URL": forge.api_url,
        "INTENTOPS_BOT_LOGIN": BOT,
        "INTENTOPS_DATA_DIR": str(data),
        "INTENTOPS_PUBLIC_URL": url,
        "INTENTOPS_REPO": REPO,
        "INTENTOPS_DASHBOARD_SECRET": "crash-test-dashboard-secret-0123456789",
        "INTENTOPS_JOB_LEASE_SECONDS": "3",
        "INTENTOPS_JOB_BACKOFF_SECONDS": "0.5",
        "INTENTOPS_JOB_MAX_ATTEMPTS": "20",
    }


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    intentops = Path(sys.executable).parent / "intentops"
    with log.open("ab") as handle:
        return subprocess.Popen(
            [str(intentops), "worker", "--threads", "2"],
            env=env,
            stdout=handle,
            stderr=handle,
            start_new_session=True,
        )


@pytest.fixture
def crash_rig(forge_kit: ForgeKit, tmp_path: Path) -> Iterator[tuple[ForgeKit, object, dict[str, str], Path]]:
    kit = forge_kit
    accounts = {login: kit.user(login) for login in ("acme", BOT, "alice")}
    files = {
        "BLUEPRINT.md": (EXAMPLES / "BLUEPRINT.md").read_bytes(),
        **_policy_files(),
        "policies/tools.yaml": TOOLS_POLICY.encode(),
    }
    kit.repo(REPO, files=files, collaborators={BOT: "write", "alice": "write"})
    prepare_wheelhouse(SHARED_DATA / "wheelhouse")
    data = tmp_path / "bot"
    data.mkdir()
    (data / "wheelhouse").symlink_to(SHARED_DATA / "wheelhouse")
    (data / "venvs").symlink_to(SHARED_DATA / "venvs")
    port = free_port()
    env = _environment(data, kit, accounts[BOT].token, f"http://127.0.0.1:{port}")
    settings = Settings(**env)  # type: ignore[arg-type]
    bot = build_bot(settings, worker_threads=0)  # intake, API and registry only: the work is the worker's
    with serve_app(bot.app, port=port) as url:
        kit.admin.add_webhook(REPO, f"{url}/webhook", secret=SECRET)
        yield kit, bot, env, kit.clone(REPO, accounts["alice"])
        for instance in bot.line.deployer.running():
            bot.line.deployer.undeploy(instance.name)
    bot.database.dispose()


def test_killed_workers_lose_nothing_and_do_nothing_twice(crash_rig, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kit, bot, env, clone = crash_rig
    ledger = bot.line.ledger
    rng = random.Random(SEED)
    log = tmp_path / "worker.log"
    worker = _start_worker(env, log)
    for name in NAMES:
        kit.commit(clone, {f"intents/{name}.yaml": INTENT.format(name=name)}, f"Add {name}")
    kit.git(clone, "push", "--quiet", "origin", "HEAD:main")

    deadline = time.monotonic() + DEADLINE_S
    kills = 0

    def finished() -> bool:
        records = [ledger.find(REPO, f"intents/{name}.yaml") for name in NAMES]
        return all(r is not None and r.state is IntentState.DEPLOYED for r in records)

    try:
        while not finished():
            assert time.monotonic() < deadline, (
                f"not all intents deployed; worker log:\n{log.read_text()[-3000:]}"
            )
            if kills < KILLS:
                time.sleep(rng.uniform(1.0, 5.0))
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
                kills += 1
                worker = _start_worker(env, log)
            else:
                time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)

    assert kills == KILLS
    github = Github(
        auth=Auth.Token(env["GITHUB_TOKEN"]),
        base_url=kit.api_url,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    pulls = list(github.get_repo(REPO).get_pulls(state="all"))
    assert sorted(p.head.ref for p in pulls) == sorted(f"intentops/{name}" for name in NAMES), "one PR each"
    deployments = list(github.get_repo(REPO).get_deployments())
    assert sorted(d.environment for d in deployments) == sorted(f"intentops-{name}" for name in NAMES)
    assert all(next(iter(d.get_statuses())).state == "success" for d in deployments), "one deployment each"
    with bot.database.session() as session:
        builds = dict(
            session.execute(
                select(JOBS.c.key, func.count()).where(JOBS.c.kind == "intent.build").group_by(JOBS.c.key)
            ).all()
        )
        deploys = session.execute(select(func.count()).where(JOBS.c.kind == "pr.deploy")).scalar_one()
    assert len(builds) == len(NAMES) and set(builds.values()) == {1}
    assert deploys == len(NAMES)
    for name in NAMES:
        record = ledger.find(REPO, f"intents/{name}.yaml")
        assert record is not None and record.pr_number is not None
        versions = [entry for entry in bot.line.registry.versions(name) if entry.status.value != "gone"]
        assert [v.version for v in versions] == [record.commit_sha], f"{name}: one version, the merge commit"
        assert httpx.get(f"{record.service_url}/health", timeout=10).status_code == 200
        # The ledger tells each stage once, however often a job was killed and taken over.
        ended = [
            (e.stage.value, e.outcome.value) for e in ledger.history(record.id) if e.outcome.value != "failed"
        ]
        twice = sorted({event for event in ended if ended.count(event) > 1})
        assert twice == [], f"{name}: stages recorded twice: {twice}"
    running = [instance.name for instance in bot.line.deployer.running()]
    assert sorted(running) == sorted(NAMES), "no service runs twice"
