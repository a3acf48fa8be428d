"""A 202 means the delivery is stored: across a kill right after the answer, a failed commit, a shutdown
with a transaction in flight, and deliveries stored as received."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from bot.app import bot_routes, create_app
from bot.events import PushEvent
from bot.queue import JOBS
from bot.routing import BotContext, Routes
from bot.settings import Settings
from bot.webhooks.deliveries import DELIVERIES
from pipeline.state import Database
from tests.bot.conftest import SECRET, delivery_headers, load_example, serving, wait_for
from tests.conftest import ROOT
from tests.fixtures.servers import free_port

DELIVERIES_SENT = 24


def push_routes() -> Routes:
    routes = Routes()

    @routes.on(PushEvent)
    def take(event: PushEvent, context: BotContext) -> None:
        """Queued, never run: these apps have no workers."""

    return bot_routes(routes)


def stored(database: Database) -> dict[str, list[str]]:
    """Each stored delivery id with the keys of its jobs."""
    with database.session() as session:
        deliveries = session.execute(select(DELIVERIES.c.delivery_id)).scalars().all()
        keys = session.execute(select(JOBS.c.key)).scalars().all()
    return {d: [k for k in keys if k.startswith(f"event:{d}:")] for d in deliveries}


@pytest.fixture
def server(database: Database, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The bot's app in a process of its own, as `bot serve` runs it."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "tests.bot.webhook_server",
        database.url,
        str(tmp_path / "data"),
        str(port),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=os.environ | {"INTENTOPS_WEBHOOK_SECRET": SECRET})
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.poll() is None, f"the server exited with {process.returncode}"
        try:
            return httpx.get(url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, timeout=60, what="the bot to serve")
        yield process, url
    finally:
        process.kill()
        process.wait(30)


def test_every_delivery_answered_202_is_stored_when_the_server_is_killed_right_after(
    server: tuple[subprocess.Popen[bytes], str], database: Database
) -> None:
    process, url = server
    body = json.dumps(load_example("push")).encode()
    accepted: list[str] = []
    lock = threading.Lock()

    def deliver(number: int) -> None:
        delivery = f"kill-{number}"
        try:
            response = http.post(
                "/webhook", content=body, headers=delivery_headers("push", body, delivery=delivery)
            )
        except httpx.TransportError:
            return  # sent after the kill, or cut by it: never acknowledged
        if response.status_code == 202:
            with lock:
                accepted.append(delivery)
                process.kill()  # at the first 202: answers still on the wire are acknowledged too

    with httpx.Client(base_url=url, timeout=30) as http, ThreadPoolExecutor(8) as pool:
        list(pool.map(deliver, range(DELIVERIES_SENT)))
    process.wait(30)
    assert accepted
    found = stored(database)
    for delivery in accepted:
        assert delivery in found, f"{delivery} was answered 202 but is not in the database"
        assert len(found[delivery]) == 1, f"{delivery} was answered 202 without its job"


@pytest.fixture
def app(bot_settings: Settings) -> Any:
    return create_app(bot_settings, routes=push_routes(), worker_threads=0)


def fail_commits(database: Database) -> Any:
    """Make every commit on `database` fail as a full disk would; returns the listener to remove."""

    def refuse(connection: Any) -> None:
        raise OperationalError("COMMIT", {}, Exception("database or disk is full"))

    event.listen(database.engine, "commit", refuse)
    return refuse


def test_a_delivery_whose_commit_fails_gets_a_503_and_is_recorded_when_delivered_again(app: Any) -> None:
    database: Database = app.state.context.database
    body = json.dumps(load_example("push")).encode()
    headers = delivery_headers("push", body, delivery="disk-full")
    with TestClient(app) as client:
        refuse = fail_commits(database)
        response = client.post("/webhook", content=body, headers=headers)
        assert response.status_code == 503
        assert response.json() == {"error": "the delivery could not be recorded; deliver it again later"}
        event.remove(database.engine, "commit", refuse)
        assert stored(database) == {}
        again = client.post("/webhook", content=body, headers=headers)
    assert again.status_code == 202 and again.json()["status"] == "queued"
    assert len(stored(database)["disk-full"]) == 1


@dataclass
class Shutdown:
    """A server told to stop while one delivery's commit is held: `release` lets the commit go on."""

    server: uvicorn.Server
    thread: threading.Thread
    answer: Future[httpx.Response]
    release: threading.Event
    hold: Callable[[Any], None]


@contextmanager
def shutdown_during_a_commit(app: Any, delivery: str, **config: Any) -> Iterator[Shutdown]:
    """Serve `app`, post `delivery`, hold its commit and tell the server to stop (as SIGTERM does)."""
    database: Database = app.state.context.database
    committing, release = threading.Event(), threading.Event()

    def hold(connection: Any) -> None:
        committing.set()
        assert release.wait(30), "the test never released the commit"

    event.listen(database.engine, "commit", hold)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, **config))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started, what="the server to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    body = json.dumps(load_example("push")).encode()
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(
            httpx.post,
            f"http://127.0.0.1:{port}/webhook",
            content=body,
            headers=delivery_headers("push", body, delivery=delivery),
            timeout=30,
        )
        assert committing.wait(30), "the delivery never reached its commit"
        server.should_exit = True
        try:
            yield Shutdown(server, thread, answer, release, hold)
        finally:
            release.set()


def test_a_shutdown_during_a_commit_still_answers_and_stores_that_delivery(app: Any) -> None:
    database: Database = app.state.context.database
    with shutdown_during_a_commit(app, "in-flight", log_level="warning") as stopping:
        server = stopping.server
        wait_for(lambda: not server.servers or not server.servers[0].is_serving(), what="the shutdown")
        stopping.release.set()
        response = stopping.answer.result(30)
    stopping.thread.join(30)
    assert not stopping.thread.is_alive()
    assert response.status_code == 202
    assert len(stored(database)["in-flight"]) == 1


def test_a_delivery_cut_off_by_a_forced_shutdown_gets_no_202_and_the_app_serves_again(app: Any) -> None:
    database: Database = app.state.context.database
    # The commit outlasts the graceful shutdown's second.
    with shutdown_during_a_commit(
        app, "cut-off", log_level="critical", timeout_graceful_shutdown=1
    ) as stopping:
        try:
            cut = stopping.answer.result(30)
        except httpx.TransportError:
            cut = None
        assert cut is None or cut.status_code == 500  # uvicorn's answer to a cancelled request
        stopping.thread.join(30)
    wait_for(lambda: "cut-off" in stored(database), what="the cut-off delivery's commit")
    event.remove(database.engine, "commit", stopping.hold)
    body = json.dumps(load_example("push")).encode()
    with serving(app) as url:
        again = httpx.post(
            url + "/webhook", content=body, headers=delivery_headers("push", body, delivery="next")
        )
    assert again.status_code == 202 and again.json()["status"] == "queued"


def test_a_json_delivery_is_stored_as_received_and_a_form_encoded_one_as_its_json(app: Any) -> None:
    database: Database = app.state.context.database
    payload = load_example("push")
    as_sent = json.dumps(payload, indent=1).encode()  # whitespace a re-encoding would lose
    form = httpx.QueryParams({"payload": json.dumps(payload)}).__str__().encode()
    form_headers = delivery_headers("push", form, delivery="form") | {
        "Content-Type": "application/x-www-form-urlencoded"
    }
    with TestClient(app) as client:
        json_headers = delivery_headers("push", as_sent, delivery="json")
        assert client.post("/webhook", content=as_sent, headers=json_headers).status_code == 202
        assert client.post("/webhook", content=form, headers=form_headers).status_code == 202
    with database.engine.connect() as connection:
        raw = dict(connection.exec_driver_sql("SELECT delivery_id, payload FROM webhook_deliveries").all())
    assert raw["json"] == as_sent.decode()
    assert json.loads(raw["form"]) == payload
