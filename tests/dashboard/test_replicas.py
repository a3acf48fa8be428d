"""The services page and the registry's API show how many copies of a version run (Docker Swarm tasks)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.registry_api import create_registry_app
from pipeline.registry import Provenance, Replica
from tests.dashboard.rig import Rig

TOKEN = "replica-test-token-0123456789"
REPLICAS = (
    Replica(task_id="t1", slot=1, node="node-a", state="running", address="10.0.1.3"),
    Replica(task_id="t2", slot=2, node="node-b", state="running", address="10.0.1.4"),
    Replica(task_id="t3", slot=3, node="node-b", state="starting", address="10.0.1.5"),
)


@pytest.fixture
def client(rig: Rig) -> Iterator[httpx.Client]:
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        yield client


def test_services_show_each_version_s_replicas(rig: Rig, client: httpx.Client) -> None:
    rig.registry.announce(
        name="notes",
        version="v2",
        url="http://127.0.0.1:9001",
        health_path="/health",
        provenance=Provenance(),
    )
    rig.registry.activate("notes", "v2")
    rig.registry.record_replicas("notes", "v2", REPLICAS)
    rig.registry.register(name="single", version="1", url="http://127.0.0.1:9002")

    page = client.get("/services").text
    api = TestClient(create_registry_app(rig.registry, SecretStr(TOKEN)))
    listed = api.get("/services", headers={"Authorization": f"Bearer {TOKEN}"}).json()

    row = page[page.index('id="service-notes"') : page.index('id="service-single"')]
    assert "3 replicas, 2 running" in row
    assert "replica" not in page[page.index('id="service-single"') :]
    notes = next(entry for entry in listed if entry["name"] == "notes")
    assert [(r["task_id"], r["node"], r["state"]) for r in notes["replicas"]] == [
        ("t1", "node-a", "running"),
        ("t2", "node-b", "running"),
        ("t3", "node-b", "starting"),
    ]
