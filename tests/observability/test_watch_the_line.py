"""Watching the bot as a platform team does: `/metrics` parses with prometheus-client's own parser and
moves when a push is processed, every JSON log line of the build job carries the push's delivery id,
and `/readyz` says whether the database and the forge answer (while `/healthz` stays a constant answer).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.logs import configure_logging, json_formatter
from bot.settings import Settings
from pipeline.ledger import IntentState
from tests.fixtures.line import REPO, Rig
from tests.fixtures.servers import free_port, serve_app

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]

BLOCKED = (
    "service_name: miner\npurpose: Run a cryptocurrency mining rig controller on spare servers for profit.\n"
)
"""Blocked by governance inside its build job: the cheapest push that runs read and build jobs."""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The `bot` loggers' lines as INTENTOPS_LOG_FORMAT=json writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    bot_logger = logging.getLogger("bot")
    level = bot_logger.level
    bot_logger.addHandler(handler)
    bot_logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        bot_logger.removeHandler(handler)
        bot_logger.setLevel(level)


def test_metrics_move_and_logs_carry_the_delivery(line_rig: Rig, json_log: io.StringIO) -> None:
    rig = line_rig
    ready = httpx.get(f"{rig.url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "forge": "ok"}}
    before = scrape(rig.url)
    rig.push({"intents/miner.yaml": BLOCKED}, "A blocked intent")
    rig.wait_for("intents/miner.yaml", IntentState.BLOCKED)
    rig.wait_until_idle()
    after = scrape(rig.url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("intentops_webhook_deliveries_total", event="push", outcome="queued") == 1
    assert moved("intentops_job_duration_seconds_count", kind="intent.build", result="succeeded") == 1
    assert moved("intentops_job_attempts_count", kind="intent.build", result="succeeded") == 1
    assert moved("intentops_job_wait_seconds_count", kind="intent.read") >= 1
    assert moved("intentops_stage_duration_seconds_count", stage="governed", outcome="succeeded") == 1
    assert value(after, "intentops_queue_depth", kind="intent.build", state="queued") == 0
    assert value(after, "intentops_deploys_total", outcome="refused") == value(
        before, "intentops_deploys_total", outcome="refused"
    )

    (push,) = [d for d in rig.kit.admin.deliveries(REPO) if d.event == "push"]
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    build = [line for line in lines if line.get("job_kind") == "intent.build"]
    assert build, f"no log line of the build job in {lines}"
    for line in build:
        assert line["delivery_id"] == push.guid
        assert line["intent"] == "intents/miner.yaml" and line["repo"] == REPO
        assert {"timestamp", "level", "logger", "event", "job_id"} <= set(line)


def test_readyz_names_what_does_not_answer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dead_forge = f"http://127.0.0.1:{free_port()}/api/v3"
    settings = Settings(
        INTENTOPS_WEBHOOK_SECRET="readyz-test-secret",
        INTENTOPS_DATA_DIR=str(tmp_path),
        GITHUB_TOKEN="readyz-token",
        GITHUB_BASE_URL=dead_forge,
    )
    with serve_app(create_app(settings, worker_threads=0)) as url:
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
        answer = httpx.get(f"{url}/readyz", timeout=10)
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["database"] == "ok" and checks["forge"].startswith(f"the forge's API at {dead_forge}")


def test_text_logs_append_the_bound_context(capsys: pytest.CaptureFixture[str]) -> None:
    import structlog

    root = logging.getLogger()
    saved = [(handler, handler.formatter) for handler in root.handlers]
    probe = logging.StreamHandler()  # stderr, as the bot's handler
    root.addHandler(probe)
    try:
        configure_logging("text", level=logging.INFO)
        with structlog.contextvars.bound_contextvars(job_id=7, delivery_id="abc"):
            logging.getLogger("bot.worker").info("job 7 done")
    finally:
        root.removeHandler(probe)
        for handler, formatter in saved:
            handler.setFormatter(formatter)
    assert "INFO bot.worker: job 7 done [delivery_id=abc job_id=7]" in capsys.readouterr().err


def test_up_does_not_log_events_nothing_handles(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = [(handler, handler.formatter) for handler in root.handlers]
    probe = logging.StreamHandler()
    root.addHandler(probe)
    intake = logging.getLogger("bot.webhooks.intake")
    try:
        configure_logging(level=logging.INFO, quiet=True)  # as `intentops up` does
        intake.info("ignored status delivery 1: no handler for it")
        intake.warning("a warning still shows")
        logging.getLogger("bot.worker").info("job 1 done")
    finally:
        root.removeHandler(probe)
        intake.setLevel(logging.NOTSET)
        for handler, formatter in saved:
            handler.setFormatter(formatter)
    shown = capsys.readouterr().err
    assert "no handler" not in shown
    assert "a warning still shows" in shown and "job 1 done" in shown


def test_deploys_rollbacks_and_refusals_are_told_apart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pipeline.ledger import Ledger, Outcome, Stage
    from pipeline.state import Database

    database = Database(f"sqlite:///{tmp_path / 'state.db'}")
    database.create_all()
    try:
        ledger = Ledger(database)
        for name, ran, outcome in (
            ("good", True, Outcome.SUCCEEDED),
            ("broken", True, Outcome.FAILED),  # started, unhealthy: the previous version stays
            ("unsigned", False, Outcome.FAILED),  # refused before anything started
        ):
            record, _ = ledger.receive(
                repo="acme/intents", path=f"intents/{name}.yaml", service_name=name, content_hash=name
            )
            duration = 1500 if ran else None
            ledger.record(record.id, Stage.DEPLOYED, outcome, name, duration_ms=duration)
        from bot.metrics import app_registry

        registry = app_registry(database)
        assert registry.get_sample_value("intentops_deploys_total", {"outcome": "succeeded"}) == 1
        assert registry.get_sample_value("intentops_deploys_total", {"outcome": "failed"}) == 1
        assert registry.get_sample_value("intentops_deploys_total", {"outcome": "refused"}) == 1
        assert registry.get_sample_value("intentops_rollbacks_total") == 1
    finally:
        database.dispose()
