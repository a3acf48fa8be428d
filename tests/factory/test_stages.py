"""The factory stages over HTTP: seed routes, JSON contracts, authentication, file access kept to a root."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.stages import create_stage_app
from pipeline.factory.contracts import CONTRACT_VERSION, Stage
from pipeline.spec.builder import build_spec
from pipeline.spec.model import Spec
from pipeline.spec.render import write_spec
from tests.factory.conftest import load_example

TOKEN = "stage-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def files(tmp_path: Path, hello_spec: Spec, examples_dir: Path) -> Path:
    write_spec(hello_spec, tmp_path / "root" / "hello-world")
    write_spec(build_spec(load_example(examples_dir, "governance-v2")), tmp_path / "root" / "governance-v2")
    (tmp_path / "root" / "broken").mkdir()
    (tmp_path / "root" / "broken" / "spec.json").write_text("{not json")
    (tmp_path / "secret.json").write_text("{}")
    return tmp_path / "root"


@pytest.fixture
def client(files: Path) -> TestClient:
    return TestClient(create_stage_app(token=SecretStr(TOKEN), files_root=files))


def test_health_is_open_and_everything_else_needs_the_token(client: TestClient) -> None:
    assert client.get("/health").json()["stages"] == [s.value for s in Stage]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = client.post("/verify-file", json={"file_path": "hello-world"}, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ["hello-world", "hello-world/spec.json", "hello-world/SPEC.md"])
def test_verify_file_scores_a_spec_under_the_root(client: TestClient, path: str) -> None:
    response = client.post("/verify-file", json={"file_path": path}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["contract_version"] == CONTRACT_VERSION
    assert body["service_name"] == "hello-world"
    assert body["score"] == 100 and body["hard_checks_passed"]
    assert body["rubric_version"]


@pytest.mark.parametrize(
    ("path", "status"),
    [("../secret.json", 403), ("/etc/passwd", 403), ("nowhere", 404), ("broken", 422)],
)
def test_verify_file_refuses_what_it_must_not_or_cannot_read(
    client: TestClient, path: str, status: int
) -> None:
    response = client.post("/verify-file", json={"file_path": path}, headers=AUTH)
    assert response.status_code == status, response.text
    assert "/tmp/" not in response.text  # never leaks the server's paths


def test_optimize_file_reports_a_free_text_spec_honestly(client: TestClient) -> None:
    response = client.post("/optimize-file", json={"file_path": "governance-v2", "gate": 90}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["reached_gate"] is False
    assert body["score"] < 90
    assert any(f["code"] == "fr-uncovered" for f in body["verification"]["findings"])
    assert body["rounds"][0]["round"] == 0


def test_optimize_inline_spec_and_verify_inline(client: TestClient, hello_spec: Spec) -> None:
    response = client.post("/optimize", json={"spec": hello_spec.to_json(), "max_rounds": 2}, headers=AUTH)
    assert response.json()["reached_gate"] is True
    assert Spec.model_validate(response.json()["spec"]) == hello_spec
    bad = client.post("/verify", json={"spec": {"service_name": "x"}}, headers=AUTH)
    assert bad.status_code == 422


def test_build_from_an_intent(client: TestClient, examples_dir: Path) -> None:
    intent = {
        "service_name": "notes",
        "purpose": "Keep notes.",
        "resources": [{"name": "note", "fields": {"body": "string"}}],
    }
    response = client.post(
        "/build", json={"intent": intent, "intent_path": "intents/notes.yaml"}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    spec = Spec.model_validate(response.json()["spec"])
    assert spec.service_name == "notes" and spec.intent_path == "intents/notes.yaml"
    invalid = client.post(
        "/build", json={"intent": {"service_name": "Bad Name", "purpose": "x"}}, headers=AUTH
    )
    assert invalid.status_code == 422
    assert any(p["field"] == "service_name" for p in invalid.json()["detail"])


def test_a_stage_served_alone_serves_only_its_routes(files: Path) -> None:
    client = TestClient(create_stage_app(Stage.SPEC_VERIFIER, token=SecretStr(TOKEN), files_root=files))
    assert client.post("/verify-file", json={"file_path": "hello-world"}, headers=AUTH).status_code == 200
    assert client.post("/optimize-file", json={"file_path": "hello-world"}, headers=AUTH).status_code == 404
    assert Stage.SPEC_VERIFIER.seed_port == 8205


def test_oversized_bodies_are_refused(client: TestClient) -> None:
    body = json.dumps({"spec": {"padding": "x" * (1024 * 1024)}})
    response = client.post("/verify", content=body, headers={**AUTH, "content-type": "application/json"})
    assert response.status_code == 413


def test_a_stage_needs_a_token() -> None:
    with pytest.raises(ValueError, match="non-empty token"):
        create_stage_app(token=SecretStr(" "))


def test_a_spec_md_edited_by_hand_is_a_hard_finding(client: TestClient, files: Path) -> None:
    (files / "hello-world" / "SPEC.md").write_text("# nothing here\n", encoding="utf-8")
    response = client.post("/verify-file", json={"file_path": "hello-world/SPEC.md"}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["hard_checks_passed"] is False and body["score"] <= 60
    stale = [f for f in body["findings"] if f["code"] == "spec-md-stale"]
    assert len(stale) == 1 and "edited by hand or is stale" in stale[0]["message"]
    # Asked for spec.json itself, the same folder scores what spec.json says.
    assert client.post("/verify-file", json={"file_path": "hello-world"}, headers=AUTH).json()["score"] == 100


def test_a_missing_spec_md_is_not_found(client: TestClient, files: Path) -> None:
    (files / "hello-world" / "SPEC.md").unlink()
    response = client.post("/verify-file", json={"file_path": "hello-world/SPEC.md"}, headers=AUTH)
    assert response.status_code == 404


@pytest.mark.parametrize("route", ["/optimize", "/optimize-file"])
def test_optimizer_rounds_above_three_are_refused(client: TestClient, hello_spec: Spec, route: str) -> None:
    source = {"spec": hello_spec.to_json()} if route == "/optimize" else {"file_path": "hello-world"}
    response = client.post(route, json={**source, "max_rounds": 4}, headers=AUTH)
    assert response.status_code == 422
    assert "less than or equal to 3" in response.text
