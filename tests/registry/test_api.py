"""The registry's HTTP contract, as generated services use it: bearer token, register, heartbeat, list,
deregister; every answer says what happened."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.registry_api import create_registry_app
from pipeline.registry import RegistryStore
from tests.fixtures.clock import ManualClock

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

    assert registered.status_code == 201
    assert registered.json()["status"] == "healthy"
    assert registered.json()["outcome"] == "created" and registered.json()["serving"] is True
    assert registered.headers["location"].endswith("/services/hello-world")
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


def test_deregister_says_what_it_removed_and_the_entry_is_gone(client: TestClient) -> None:
    client.post("/services/register", json=HELLO, headers=AUTH)

    removed = client.delete("/services/hello-world", headers=AUTH)

    assert removed.status_code == 200
    assert [(e["version"], e["status"]) for e in removed.json()["deregistered"]] == [("v1", "healthy")]
    assert removed.json()["detail"] == "hello-world: deregistered v1"
    gone = client.get("/services/hello-world", headers=AUTH)
    assert gone.status_code == 404 and "was deregistered" in gone.json()["detail"]
    assert client.get("/services", headers=AUTH).json() == []
    history = client.get("/services?include_gone=true", headers=AUTH).json()
    assert [(e["name"], e["status"]) for e in history] == [("hello-world", "gone")]


def test_the_deregistered_service_still_running_does_not_put_itself_back(client: TestClient) -> None:
    client.post("/services/register", json=HELLO, headers=AUTH)
    client.delete("/services/hello-world", headers=AUTH)

    # What a generated service does next: its heartbeat is refused, so it registers again.
    beat = client.post("/services/hello-world/heartbeat", json={"version": "v1"}, headers=AUTH)
    again = client.post("/services/register", json=HELLO, headers=AUTH)

    assert beat.status_code == 404 and "was deregistered" in beat.json()["detail"]
    assert again.status_code == 409 and "deployed again" in again.json()["detail"]
    assert client.get("/services/hello-world", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/services/nobody", "no service named 'nobody' is registered"),
        ("/services/hello-world?version=v9", "hello-world v9 is not registered (registered: v1)"),
    ],
)
def test_deregistering_what_is_not_registered_is_404_saying_so(
    client: TestClient, path: str, detail: str
) -> None:
    client.post("/services/register", json=HELLO, headers=AUTH)

    response = client.delete(path, headers=AUTH)

    assert response.status_code == 404 and response.json()["detail"] == detail
    assert client.get("/services/hello-world", headers=AUTH).json()["status"] == "healthy"


def test_deregistering_twice_is_404_the_second_time(client: TestClient) -> None:
    client.post("/services/register", json=HELLO, headers=AUTH)

    first = client.delete("/services/hello-world", headers=AUTH)
    second = client.delete("/services/hello-world", headers=AUTH)

    assert first.status_code == 200
    assert second.status_code == 404 and "was deregistered" in second.json()["detail"]


def test_a_re_registration_is_200_with_what_was_stored(client: TestClient) -> None:
    client.post("/services/register", json=HELLO, headers=AUTH)
    moved = {**HELLO, "url": "http://127.0.0.1:9009", "health_path": "/ready"}

    again = client.post("/services/register", json=moved, headers=AUTH)

    assert again.status_code == 200 and again.json()["outcome"] == "updated"
    assert again.json()["url"] == moved["url"] and again.json()["health_path"] == "/ready"
    stored = client.get("/services/hello-world", headers=AUTH).json()
    assert (stored["url"], stored["health_path"]) == (moved["url"], "/ready")


def test_a_version_registering_beside_the_serving_one_is_told_it_does_not_serve(
    client: TestClient, store: RegistryStore
) -> None:
    client.post("/services/register", json=HELLO, headers=AUTH)

    beside = client.post("/services/register", json={**HELLO, "version": "v2"}, headers=AUTH)

    assert beside.status_code == 201 and beside.json()["serving"] is False
    assert beside.json()["detail"] == (
        "hello-world v2 created; v1 serves hello-world until a deployer switches to v2"
    )
    assert client.get("/services/hello-world", headers=AUTH).json()["version"] == "v1"
    assert [e.version for e in store.versions("hello-world")] == ["v1", "v2"]


def test_a_misspelt_field_is_refused_rather_than_dropped(client: TestClient, store: RegistryStore) -> None:
    client.post("/services/register", json=HELLO, headers=AUTH)

    response = client.post("/services/register", json={**HELLO, "healthPath": "/ready"}, headers=AUTH)

    assert response.status_code == 422
    assert any("healthPath" in error["loc"] for error in response.json()["detail"])
    assert store.get("hello-world").health_path == "/health"  # type: ignore[union-attr]


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
