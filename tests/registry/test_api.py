"""The registry's HTTP contract, as generated services use it: bearer token, register, heartbeat, list."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pipeline.registry import RegistryStore, create_registry_app
from tests.registry.conftest import ManualClock

TOKEN = "registry-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HELLO = {"name": "hello-world", "version": "v1", "url": "http://127.0.0.1:9001", "health_path": "/health"}


@pytest.fixture
def client(store: RegistryStore) -> TestClient:
    return TestClient(create_registry_app(store, SecretStr(TOKEN)))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/services/register", HELLO),
        ("POST", "/services/hello-world/heartbeat", {"version": "v1"}),
        ("DELETE", "/services/hello-world", None),
        ("GET", "/services", None),
        ("GET", "/services/hello-world", None),
    ],
)
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}]
)
def test_unknown_callers_are_refused_and_change_nothing(
    client: TestClient, store: RegistryStore, method: str, path: str, body: object, headers: dict[str, str]
) -> None:
    response = client.request(method, path, json=body, headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in response.text
    assert store.entries() == []


def test_register_then_get_and_list(client: TestClient) -> None:
    registered = client.post("/services/register", json=HELLO, headers=AUTH)

    assert registered.status_code == 200
    assert registered.json()["status"] == "healthy"
    entry = client.get("/services/hello-world", headers=AUTH).json()
    assert {k: entry[k] for k in HELLO} == HELLO
    assert set(entry["provenance"]) == {
        "intent_path",
        "spec_hash",
        "commit_sha",
        "pr_number",
        "approvers",
        "image_digest",
    }
    assert [e["name"] for e in client.get("/services", headers=AUTH).json()] == ["hello-world"]


def test_unknown_service_is_404(client: TestClient) -> None:
    response = client.get("/services/nobody", headers=AUTH)

    assert response.status_code == 404
    assert "nobody" in response.json()["detail"]


def test_heartbeat_keeps_the_entry_healthy_past_the_ttl(client: TestClient, clock: ManualClock) -> None:
    client.post("/services/register", json=HELLO, headers=AUTH)
    clock.advance(31)
    assert client.get("/services/hello-world", headers=AUTH).json()["status"] == "unhealthy"

    beat = client.post("/services/hello-world/heartbeat", json={"version": "v1"}, headers=AUTH)

    assert beat.status_code == 200
    assert client.get("/services/hello-world", headers=AUTH).json()["status"] == "healthy"


def test_heartbeat_from_an_unregistered_version_is_404(client: TestClient) -> None:
    client.post("/services/register", json=HELLO, headers=AUTH)

    response = client.post("/services/hello-world/heartbeat", json={"version": "v9"}, headers=AUTH)

    assert response.status_code == 404
    assert "register again" in response.json()["detail"]


def test_deregister_is_idempotent_and_leaves_the_entry_gone(client: TestClient) -> None:
    client.post("/services/register", json=HELLO, headers=AUTH)

    assert client.delete("/services/hello-world", headers=AUTH).status_code == 204
    assert client.delete("/services/hello-world", headers=AUTH).status_code == 204
    assert client.get("/services/hello-world", headers=AUTH).json()["status"] == "gone"
    assert client.get("/services?include_gone=false", headers=AUTH).json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**HELLO, "name": "../etc"}, "name"),
        ({**HELLO, "name": "Hello"}, "name"),
        ({**HELLO, "url": "file:///etc/passwd"}, "url"),
        ({**HELLO, "health_path": "health"}, "health_path"),
        ({k: v for k, v in HELLO.items() if k != "version"}, "version"),
    ],
)
def test_bad_registrations_are_422_naming_the_field(
    client: TestClient, store: RegistryStore, body: dict[str, str], field: str
) -> None:
    response = client.post("/services/register", json=body, headers=AUTH)

    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"])
    assert store.entries() == []


def test_an_empty_token_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="non-empty token"):
        create_registry_app(None, SecretStr(""))  # type: ignore[arg-type]
