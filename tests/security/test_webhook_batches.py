"""Attacks on the webhook's group commit (deliveries arriving together share one transaction):

- test_a_delivery_the_database_refuses_does_not_sink_the_others_in_its_transaction: a delivery made to
  fail its insert, sent with genuine ones, so that the whole shared transaction rolls back and their
  senders are told to deliver again (or, had they been answered first, they would be lost).
- test_a_replay_in_the_same_transaction_as_the_original_is_processed_once: a captured delivery replayed
  at the same moment as the original, so both land in one transaction before either is committed.
- test_forged_deliveries_sent_among_genuine_ones_write_nothing: unsigned and wrongly signed deliveries
  sent concurrently with genuine ones, hoping to ride along in the transaction a genuine one opens.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from gidgethub import sansio
from sqlalchemy import select, text

from bot.app import bot_context, bot_routes, create_app
from bot.events import PushEvent
from bot.queue import JOBS
from bot.routing import BotContext, Routes
from bot.settings import Settings
from bot.webhooks.deliveries import DELIVERIES, DeliveryOutcome
from bot.webhooks.intake import DeliveryNotRecorded, Receipt, WebhookIntake
from bot.webhooks.writer import DeliveryWriter
from pipeline.state import Database, default_sqlite_url
from tests.bot.conftest import delivery_headers, load_example, serving, sign

POISON = "poison"
REFUSE_POISON = f"""
CREATE TRIGGER refuse_poison BEFORE INSERT ON webhook_deliveries
WHEN NEW.delivery_id = '{POISON}' BEGIN SELECT RAISE(ABORT, 'refused by the database'); END
"""


def push_routes() -> Routes:
    routes = Routes()

    @routes.on(PushEvent)
    def take(event: PushEvent, context: BotContext) -> None:
        """Queued, never run: nothing here has workers."""

    return bot_routes(routes)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(**{"INTENTOPS_WEBHOOK_SECRET": "batch-secret", "INTENTOPS_DATA_DIR": str(tmp_path)})


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(default_sqlite_url(tmp_path / "state"))
    database.create_all()
    yield database
    database.dispose()


@pytest.fixture
def intake(settings: Settings, database: Database) -> WebhookIntake:
    queue = bot_context(settings, database).queue
    return WebhookIntake(routes=push_routes(), queue=queue, bot_login=None)


def write_together(intake: WebhookIntake, deliveries: list[str]) -> list[Receipt | BaseException]:
    """Hand the writer these deliveries at one moment: the first is committed alone, the others wait
    for it and then share one transaction."""
    body = json.dumps(load_example("push")).encode()
    writer = DeliveryWriter(intake)

    async def all_at_once() -> list[Receipt | BaseException]:
        writes = []
        for delivery in deliveries:
            event = sansio.Event(json.loads(body), event="push", delivery_id=delivery)
            writes.append(writer.write(intake.prepare(event, body, hook_id="1", body_is_json=True)))
        return await asyncio.gather(*writes, return_exceptions=True)

    return asyncio.run(all_at_once())


def stored(database: Database) -> tuple[list[str], list[str]]:
    """The stored delivery ids and job keys, sorted."""
    with database.session() as session:
        deliveries = sorted(session.execute(select(DELIVERIES.c.delivery_id)).scalars())
        jobs = sorted(session.execute(select(JOBS.c.key)).scalars())
    return deliveries, jobs


def test_a_delivery_the_database_refuses_does_not_sink_the_others_in_its_transaction(
    intake: WebhookIntake, database: Database
) -> None:
    with database.engine.begin() as connection:
        connection.execute(text(REFUSE_POISON))
    first, *shared = write_together(intake, ["first", "before", POISON, "after"])
    assert isinstance(first, Receipt) and first.outcome is DeliveryOutcome.QUEUED
    before, poison, after = shared
    assert isinstance(poison, DeliveryNotRecorded) and "refused by the database" in str(poison)
    assert isinstance(before, Receipt) and before.outcome is DeliveryOutcome.QUEUED
    assert isinstance(after, Receipt) and after.outcome is DeliveryOutcome.QUEUED
    assert stored(database)[0] == ["after", "before", "first"]


def test_a_replay_in_the_same_transaction_as_the_original_is_processed_once(
    intake: WebhookIntake, database: Database
) -> None:
    receipts = write_together(intake, ["other", "original", "original", "original"])
    outcomes = [r.outcome for r in receipts if isinstance(r, Receipt)]
    assert outcomes == [DeliveryOutcome.QUEUED, DeliveryOutcome.QUEUED] + [DeliveryOutcome.DUPLICATE] * 2
    deliveries, jobs = stored(database)
    assert deliveries == ["original", "other"]
    assert [key.split(":")[1] for key in jobs] == ["original", "other"]


def test_forged_deliveries_sent_among_genuine_ones_write_nothing(
    settings: Settings, database: Database
) -> None:
    app = create_app(settings, database=database, routes=push_routes(), worker_threads=0)
    body = json.dumps(load_example("push")).encode()

    def headers(number: int) -> dict[str, str]:
        genuine = delivery_headers("push", body, delivery=f"genuine-{number}", secret="batch-secret")
        if number % 3 == 1:
            return genuine | {
                "X-GitHub-Delivery": f"forged-{number}",
                "X-Hub-Signature-256": sign(body, "guess"),
            }
        if number % 3 == 2:
            return {k: v for k, v in genuine.items() if k != "X-Hub-Signature-256"} | {
                "X-GitHub-Delivery": f"unsigned-{number}"
            }
        return genuine

    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as http, ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda n: http.post("/webhook", content=body, headers=headers(n)).status_code, range(30))
        )
    assert answers == [202 if n % 3 == 0 else 401 for n in range(30)]
    deliveries, jobs = stored(database)
    assert deliveries == sorted(f"genuine-{n}" for n in range(0, 30, 3))
    assert len(jobs) == 10
