"""`POST /webhook` through the real app: signatures, limits, unknown events, duplicates, then the workers."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.app import BotConfigurationError, bot_routes, create_app, load_routes
from bot.events import AnyEvent, IssuesEvent, PullRequestEvent, PushEvent, is_modelled
from bot.queue import JOBS, JobState
from bot.routing import BotContext, Routes
from bot.settings import Settings
from bot.webhooks.deliveries import DELIVERIES
from bot.webhooks.verification import WebhookRejected, verify
from pipeline.state import Database
from tests.bot.conftest import (
    delivery_headers,
    example_id,
    load_example,
    payload_examples,
    serving,
    sign,
    wait_for,
)


class Recorder:
    """A feature module's routes that remember every event they were given (thread-safe)."""

    def __init__(self) -> None:
        self.events: list[AnyEvent] = []
        self.lock = threading.Lock()
        self.routes = Routes()
        for event_type in (PushEvent, PullRequestEvent):
            self.routes.on(event_type)(self.record)
        self.routes.on(PullRequestEvent, action="closed", include_own=True)(self.record_closed)

    def record(self, event: AnyEvent, context: BotContext) -> None:
        with self.lock:
            self.events.append(event)

    def record_closed(self, event: AnyEvent, context: BotContext) -> None:
        self.record(event, context)


class EveryModelledEvent:
    """Routes for every event the bot models, so every real example goes through parsing in a worker."""

    def __init__(self) -> None:
        self.routes = Routes()
        from bot import events

        for event_type in (
            events.PushEvent,
            events.PullRequestEvent,
            events.PullRequestReviewEvent,
            events.IssueCommentEvent,
            events.IssuesEvent,
            events.InstallationEvent,
            events.InstallationRepositoriesEvent,
        ):
            self.routes.on(event_type)(self.accept)
        self.seen: list[str] = []

    def accept(self, event: AnyEvent, context: BotContext) -> None:
        self.seen.append(event.name)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(bot_settings: Settings, recorder: Recorder) -> Iterator[TestClient]:
    app = create_app(bot_settings, routes=bot_routes(recorder.routes), worker_threads=0)
    with TestClient(app) as test_client:
        yield test_client


def post(client: TestClient, event: str, payload: Any, **headers: str) -> httpx.Response:
    body = json.dumps(payload).encode()
    return client.post("/webhook", content=body, headers={**delivery_headers(event, body), **headers})


def rows(database: Database, table: Any) -> int:
    with database.session() as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def db(client: TestClient) -> Database:
    database: Database = client.app.state.context.database  # type: ignore[attr-defined]
    return database


def test_githubs_signature_vector_passes(shared_dir: Path) -> None:
    vector = json.loads((shared_dir / "github" / "signature-vector.json").read_text(encoding="utf-8"))
    body = vector["payload"].encode("utf-8")
    assert sign(body, vector["secret"]) == vector["X-Hub-Signature-256"]
    headers = {"x-hub-signature-256": vector["X-Hub-Signature-256"], "content-type": "application/json"}
    headers |= {"x-github-event": "ping", "x-github-delivery": "1"}
    # The signature is accepted; the body then fails as JSON, which proves the check ran before parsing.
    with pytest.raises(WebhookRejected) as past_signature:
        verify(headers, body, secret=vector["secret"])
    assert past_signature.value.status == 400
    with pytest.raises(WebhookRejected) as tampered:
        verify(headers, body + b" ", secret=vector["secret"])
    assert tampered.value.status == 401


@pytest.mark.parametrize("example", payload_examples(), ids=example_id)
def test_every_real_example_is_acknowledged(client: TestClient, example: tuple[str, Path]) -> None:
    event, path = example
    response = post(client, event, json.loads(path.read_text(encoding="utf-8")))
    assert response.status_code == (200 if event == "ping" else 202), response.text
    assert response.json()["status"] in {"ping", "queued", "ignored"}


def test_every_real_example_runs_through_a_worker(bot_settings: Settings) -> None:
    feature = EveryModelledEvent()
    app = create_app(bot_settings, routes=bot_routes(feature.routes), worker_threads=1)
    modelled = [(e, p) for e, p in payload_examples() if is_modelled(e) and e != "ping"]
    with TestClient(app) as client:
        for event, path in modelled:
            assert post(client, event, json.loads(path.read_text(encoding="utf-8"))).status_code == 202
        queue = app.state.context.queue
        wait_for(lambda: queue.counts()[JobState.SUCCEEDED] == len(modelled), what="every event handled")
        assert queue.counts()[JobState.DEAD] == 0
    assert sorted(feature.seen) == sorted(e for e, _ in modelled)


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({"X-Hub-Signature-256": ""}, 401, "missing X-Hub-Signature-256 header"),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, 401, "signature does not match the payload"),
        ({"X-Hub-Signature-256": sign(b"other body")}, 401, "signature does not match the payload"),
        ({"X-Hub-Signature-256": "sha1=" + "0" * 40}, 401, "signature does not match the payload"),
        ({"X-Hub-Signature-256": sign(b"x", "wrong secret")}, 401, "signature does not match the payload"),
    ],
)
def test_bad_signatures_are_refused(
    client: TestClient, headers: dict[str, str], status: int, message: str
) -> None:
    response = post(client, "push", load_example("push"), **headers)
    assert response.status_code == status
    assert response.json() == {"error": message}
    assert rows(db(client), DELIVERIES) == 0


def test_a_legacy_sha1_signature_alone_is_not_enough(client: TestClient) -> None:
    body = json.dumps(load_example("push")).encode()
    headers = delivery_headers("push", body)
    del headers["X-Hub-Signature-256"]
    headers["X-Hub-Signature"] = "sha1=" + "0" * 40
    assert client.post("/webhook", content=body, headers=headers).status_code == 401


def test_oversized_body_by_content_length(client: TestClient, bot_settings: Settings) -> None:
    payload = load_example("push")
    payload["padding"] = "x" * bot_settings.webhook_max_bytes
    response = post(client, "push", payload)
    assert response.status_code == 413
    assert response.json() == {"error": f"payload larger than {bot_settings.webhook_max_bytes} bytes"}
    assert rows(db(client), DELIVERIES) == 0


def test_oversized_chunked_body_is_cut_off(client: TestClient, bot_settings: Settings) -> None:
    chunk = b"x" * 65536

    def body() -> Iterator[bytes]:
        for _ in range(bot_settings.webhook_max_bytes // len(chunk) + 4):
            yield chunk

    headers = delivery_headers("push", b"")
    response = client.post("/webhook", content=body(), headers=headers)
    assert response.status_code == 413
    assert "content-length" not in {k.lower() for k in response.request.headers}


@pytest.mark.parametrize(
    ("mutate", "status", "message"),
    [
        (lambda h: h.pop("X-GitHub-Event"), 400, "missing X-GitHub-Event or X-GitHub-Delivery header"),
        (lambda h: h.pop("X-GitHub-Delivery"), 400, "missing X-GitHub-Event or X-GitHub-Delivery header"),
        (lambda h: h.update({"Content-Type": "text/plain"}), 415, "expected a content-type"),
        (lambda h: h.update({"X-GitHub-Delivery": ""}), 400, "X-GitHub-Delivery, X-GitHub-Event or"),
        (lambda h: h.update({"X-GitHub-Delivery": "d" * 101}), 400, "X-GitHub-Delivery, X-GitHub-Event or"),
        (lambda h: h.update({"X-GitHub-Hook-ID": "9" * 41}), 400, "X-GitHub-Delivery, X-GitHub-Event or"),
    ],
)
def test_malformed_requests_are_refused(client: TestClient, mutate: Any, status: int, message: str) -> None:
    body = json.dumps(load_example("push")).encode()
    headers = delivery_headers("push", body)
    mutate(headers)
    response = client.post("/webhook", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error"].startswith(message)


@pytest.mark.parametrize(
    ("body", "message"), [(b"{not json", "body is not valid JSON"), (b"[1]", "JSON object")]
)
def test_bodies_that_are_not_a_json_object(client: TestClient, body: bytes, message: str) -> None:
    response = client.post("/webhook", content=body, headers=delivery_headers("push", body))
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_form_encoded_deliveries_are_accepted(client: TestClient) -> None:
    body = httpx.QueryParams({"payload": json.dumps(load_example("push"))}).__str__().encode()
    headers = delivery_headers("push", body) | {"Content-Type": "application/x-www-form-urlencoded"}
    response = client.post("/webhook", content=body, headers=headers)
    assert response.status_code == 202 and response.json()["status"] == "queued"


def test_unknown_event_is_acknowledged_logged_and_not_queued(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.webhooks"):
        response = post(client, "status", load_example("status"), **{"X-GitHub-Delivery": "d-unknown"})
    assert response.status_code == 202
    assert response.json() == {"status": "ignored", "delivery": "d-unknown", "jobs": 0}
    assert "ignored status delivery d-unknown: no handler for it" in caplog.text
    assert rows(db(client), JOBS) == 0
    assert rows(db(client), DELIVERIES) == 1


def test_ping_is_answered_200(client: TestClient) -> None:
    response = post(client, "ping", load_example("ping"))
    assert response.status_code == 200 and response.json()["status"] == "ping"


def test_the_delivery_is_recorded_before_the_answer(client: TestClient) -> None:
    payload = load_example("pull_request", "opened.payload.json")
    body = json.dumps(payload).encode()
    headers = delivery_headers("pull_request", body, delivery="d-1", hook_id="7")
    assert client.post("/webhook", content=body, headers=headers).status_code == 202
    with db(client).session() as session:
        row = session.execute(select(DELIVERIES)).mappings().one()
        job = session.execute(select(JOBS)).mappings().one()
    assert (row["delivery_id"], row["hook_id"], row["event"], row["action"]) == (
        "d-1",
        "7",
        "pull_request",
        "opened",
    )
    assert row["payload_sha256"] == hashlib.sha256(body).hexdigest()
    assert row["outcome"] == "queued" and row["jobs"] == 1
    assert job["kind"] == "github-event" and job["state"] == "queued"


def test_the_same_delivery_a_hundred_times_is_one_job(client: TestClient) -> None:
    payload = load_example("pull_request", "closed.payload.json")
    body = json.dumps(payload).encode()
    headers = delivery_headers("pull_request", body, delivery="same")
    answers = [client.post("/webhook", content=body, headers=headers).json()["status"] for _ in range(100)]
    # Two routes match a closed PR (any action, and closed): one job each, created once.
    assert answers[0] == "queued" and set(answers[1:]) == {"duplicate"}
    assert rows(db(client), DELIVERIES) == 1
    assert rows(db(client), JOBS) == 2


def test_one_event_delivered_to_two_hooks_is_processed_per_hook(client: TestClient) -> None:
    payload = load_example("push")
    body = json.dumps(payload).encode()
    for hook in ("1", "2"):
        response = client.post(
            "/webhook", content=body, headers=delivery_headers("push", body, delivery="g", hook_id=hook)
        )
        assert response.json()["status"] == "queued"
    assert rows(db(client), JOBS) == 2


def test_the_bots_own_events_are_ignored_unless_a_route_asks(client: TestClient) -> None:
    own_push = load_example("push")
    own_push["sender"]["login"] = "intentops[bot]"
    assert post(client, "push", own_push).json()["status"] == "own-event"
    own_close = load_example("pull_request", "closed.payload.json")
    own_close["sender"]["login"] = "intentops[bot]"
    answer = post(client, "pull_request", own_close).json()
    assert answer["status"] == "queued" and answer["jobs"] == 1  # only the route with include_own


def test_the_app_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    settings = Settings(**{"INTENTOPS_DATA_DIR": str(tmp_path)})
    with pytest.raises(BotConfigurationError, match="INTENTOPS_WEBHOOK_SECRET is not set"):
        create_app(settings)


def test_workers_in_the_app_handle_queued_events(bot_settings: Settings, recorder: Recorder) -> None:
    app = create_app(bot_settings, routes=bot_routes(recorder.routes), worker_threads=2)
    push = load_example("push")
    with TestClient(app) as client:
        assert post(client, "push", push).status_code == 202
        wait_for(lambda: len(recorder.events) == 1, what="the push handler")
        workers = [worker.name for worker in app.state.workers.workers]
        assert sum(thread.name in workers for thread in threading.enumerate()) == 2
    assert not any(thread.name in workers for thread in threading.enumerate())  # stopped with the app
    event = recorder.events[0]
    assert isinstance(event, PushEvent) and event.repo == "Codertocat/Hello-World"


def test_concurrent_duplicates_over_real_http(
    bot_settings: Settings, recorder: Recorder, database: Database
) -> None:
    app = create_app(bot_settings, database=database, routes=bot_routes(recorder.routes), worker_threads=2)
    body = json.dumps(load_example("push")).encode()
    headers = delivery_headers("push", body, delivery="raced")
    with serving(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(lambda _: http.post("/webhook", content=body, headers=headers), range(100))
            )
        assert {a.status_code for a in answers} == {202}
        assert [a.json()["status"] for a in answers].count("queued") == 1
        wait_for(lambda: len(recorder.events) == 1, what="the push handler")
    assert rows(app.state.context.database, JOBS) == 1
    assert len(recorder.events) == 1


def test_a_handler_module_without_routes_is_named() -> None:
    with pytest.raises(BotConfigurationError, match="handler module bot.events has no module-level"):
        load_routes(["bot.events"])


def test_handler_modules_register_their_routes() -> None:
    routes = load_routes(["tests.bot.test_webhook"])
    assert [r.name for r in routes.matching("issues", load_example("issues", "opened.payload.json"))] == [
        "tests.bot.test_webhook.on_issue_opened:issues.opened"
    ]
    assert routes.job_kinds() == ["github-event"]


routes = Routes()


@routes.on(IssuesEvent, action="opened")
def on_issue_opened(event: IssuesEvent, context: BotContext) -> None:
    """A module-level route, as a feature module declares them."""
