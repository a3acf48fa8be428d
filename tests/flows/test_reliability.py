"""Redelivered webhooks and re-pushed intents: one PR, one job per stage, one deploy."""

from __future__ import annotations

import dataclasses
import os
import signal
import time

import httpx
import pytest
from sqlalchemy import select

from bot.handlers.intents import build_intent
from bot.queue import JOBS
from bot.server import build_bot
from pipeline.deploy.local import process_alive
from pipeline.ledger import IntentState
from tests.conftest import EXAMPLES
from tests.fixtures.line import BOT, REPO, Rig

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]

PATH = "intents/hello-world.yaml"
REDELIVERIES = 100


def test_the_same_delivery_100_times_and_the_same_intent_twice_build_and_deploy_once(rig: Rig) -> None:
    intent = (EXAMPLES / "intents" / "hello-world.yaml").read_text()
    rig.push({PATH: intent}, "Add hello-world")
    deployed = rig.wait_for(PATH, IntentState.DEPLOYED)
    rig.wait_until_idle()
    before = rig.job_counts()
    assert before["intent.build"] == 1 and before["pr.deploy"] == 1

    push = next(d for d in rig.kit.admin.deliveries(REPO) if d.event == "push")
    owner = {"Authorization": f"token {rig.accounts['acme'].token}"}
    attempts = f"{rig.kit.api_url}/repos/{REPO}/hooks/{push.hook_id}/deliveries/{push.id}/attempts"
    with httpx.Client(headers=owner, timeout=30) as client:
        for _ in range(REDELIVERIES):
            assert client.post(attempts).status_code == 202
    rig.wait_until_idle()
    redelivered = [d for d in rig.kit.admin.deliveries(REPO) if d.event == "push" and d.redelivery]
    assert len(redelivered) == REDELIVERIES
    assert all(d.status_code in (200, 202) for d in redelivered)
    assert rig.job_counts() == before, "a delivery seen before is acknowledged and not processed again"

    # The same content again: removed and re-added within one push.
    rig.kit.git(rig.clone, "fetch", "--quiet", "origin")
    rig.kit.git(rig.clone, "reset", "--quiet", "--hard", "origin/main")
    rig.kit.commit(rig.clone, {PATH: None}, "Remove hello-world")
    rig.kit.commit(rig.clone, {PATH: intent}, "Add it back, unchanged")
    rig.kit.git(rig.clone, "push", "--quiet", "origin", "HEAD:main")
    rig.wait_until_idle()
    after = rig.job_counts()
    assert after["intent.read"] == before["intent.read"] + 1
    assert after["intent.build"] == 1 and after["pr.deploy"] == 1
    pulls = list(rig.github(BOT).get_repo(REPO).get_pulls(state="all", head="acme:intentops/hello-world"))
    assert len(pulls) == 1
    assert [v.version for v in rig.bot.line.registry.versions("hello-world")] == [deployed.commit_sha]
    assert rig.ledger.get(deployed.id).state is IntentState.DEPLOYED


def test_a_restarted_bot_brings_back_services_that_died_meanwhile(rig: Rig) -> None:
    rig.push({PATH: (EXAMPLES / "intents" / "hello-world.yaml").read_text()}, "Add hello-world")
    deployed = rig.wait_for(PATH, IntentState.DEPLOYED)
    (instance,) = rig.bot.line.deployer.running()
    os.killpg(int(instance.handle), signal.SIGKILL)  # the service dies while the bot is down
    rig.wait_until_idle()
    deadline = time.monotonic() + 10
    while process_alive(int(instance.handle), instance.started_marker) and time.monotonic() < deadline:
        time.sleep(0.05)  # SIGKILL takes effect asynchronously; a loaded machine may take a moment

    restarted = build_bot(rig.bot.app.state.context.settings, worker_threads=0)
    try:
        entry = restarted.line.registry.get("hello-world")
        assert entry is not None and entry.version == deployed.commit_sha
        assert httpx.get(f"{entry.url}/health", timeout=10).status_code == 200
    finally:
        restarted.database.dispose()


def test_a_build_retried_after_the_bot_merged_its_pull_request_does_nothing_more(rig: Rig) -> None:
    """A worker killed after the auto-merge but before acknowledging the build job: its next attempt finds
    the PR merged and stops, instead of failing to open a PR with no commits."""
    rig.push({PATH: (EXAMPLES / "intents" / "hello-world.yaml").read_text()}, "Add hello-world")
    deployed = rig.wait_for(PATH, IntentState.DEPLOYED)
    rig.wait_until_idle()
    context = rig.bot.app.state.context
    with context.database.session() as session:
        key = session.execute(select(JOBS.c.key).where(JOBS.c.kind == "intent.build")).scalar_one()
    job = context.queue.find(key)
    assert job is not None

    build_intent(job, context)  # the same job's next attempt
    assert rig.ledger.get(deployed.id).state is IntentState.DEPLOYED

    # `/intentops rebuild` of merged content builds again, finds nothing new, and leaves things as they were.
    build_intent(dataclasses.replace(job, payload={**job.payload, "rebuild": True}), context)
    assert rig.ledger.get(deployed.id).state is IntentState.DEPLOYED
    pulls = list(rig.github(BOT).get_repo(REPO).get_pulls(state="all", head="acme:intentops/hello-world"))
    assert [p.merged for p in pulls] == [True]
