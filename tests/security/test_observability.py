"""Attacks on what the bot exposes for watching it.

- Label flooding: unsigned deliveries to /webhook, each with a new made-up X-GitHub-Event, would each add
  a time series to /metrics (unbounded memory for the bot and the Prometheus scraping it). Refused
  deliveries are counted under one `unverified` event whatever their headers say.
- Header injection into the exposition: an event name with quotes and braces in a signed delivery
  would forge other metrics' lines; names that are not plain identifiers are counted as `other`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.settings import Settings
from tests.fixtures.servers import serve_app

SECRET = "observability-attack-secret"


def _events(url: str) -> set[str]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        sample.labels["event"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "intentops_webhook_deliveries_total"
    }


def _signed(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_made_up_event_names_add_no_series(tmp_path: Path) -> None:
    settings = Settings(INTENTOPS_WEBHOOK_SECRET=SECRET, INTENTOPS_DATA_DIR=str(tmp_path))
    with serve_app(create_app(settings, worker_threads=0)) as url:
        for n in range(20):
            headers = {
                "X-GitHub-Event": f"flood-{uuid.uuid4().hex}",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": "sha256=" + "0" * 64,
                "Content-Type": "application/json",
            }
            assert httpx.post(f"{url}/webhook", content=b"{}", headers=headers).status_code == 401, n
        body = json.dumps({"zen": "hi", "hook_id": 1}).encode()
        forged = 'push",outcome="queued"} 1e9 intentops_fake{a="'
        headers = {
            "X-GitHub-Event": forged,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": _signed(body),
            "Content-Type": "application/json",
        }
        httpx.post(f"{url}/webhook", content=body, headers=headers)
        events = _events(url)
        text = httpx.get(f"{url}/metrics", timeout=10).text
    assert not [event for event in events if event.startswith("flood-")]
    assert "unverified" in events
    assert "intentops_fake" not in text
