"""Code generation: the generated services lint clean, pass their own tests, and behave when started."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.codegen.context import CodegenError
from pipeline.codegen.generator import generate_service, ruff_executable
from pipeline.intents import parse_intent_mapping
from pipeline.manifest import ServiceManifest
from pipeline.registry import RegistryStore
from pipeline.sandbox import ProcessSandbox
from pipeline.spec.builder import build_spec
from pipeline.spec.optimizer import optimize
from pipeline.spec.render import read_spec
from tests.conftest import EXAMPLES
from tests.factory.conftest import FREE_TEXT, REGISTRY_TOKEN, STRUCTURED, load_example
from tests.fixtures.generated import REPORTING
from tests.fixtures.servers import free_port

EVERY_KIND = {
    "service_name": "inventory",
    "purpose": "Track stock items and answer a few lookups for the warehouse team.",
    "blueprint_context": "Shared internal tools.",
    "storage": "sqlite",
    "resources": [
        {
            "name": "stock_item",
            "fields": {
                "sku": "string",
                "count": "integer",
                "price": "number",
                "active": "boolean",
                "restocked_at": "datetime",
            },
            "required": ["sku"],
        },
        {"name": "note", "fields": {"body": "string"}},
        # Field names that are Python keywords or pydantic's own names still work on the wire.
        {
            "name": "event",
            "fields": {"from": "string", "class": "integer", "json": "boolean"},
            "required": ["from"],
        },
    ],
    "endpoints": [
        {
            "method": "GET",
            "path": "/greet/{who}",
            "summary": "Greet someone by name.",
            "query": {"resource": "note", "where": {"body": {"contains": "{who}"}}, "single": True},
        },
        {"method": "GET", "path": "/answer", "summary": "A fixed answer.", "respond": {"answer": 42}},
        {
            "method": "GET",
            "path": "/items-by/{item-id}",
            "summary": "Look one item up.",
            "resource": "stock_item",
        },
        {"method": "GET", "path": "/all-notes", "summary": "All notes.", "resource": "note"},
        {"method": "POST", "path": "/quick-note", "summary": "Add a note.", "resource": "note"},
        {
            "method": "POST",
            "path": "/stock-items/{sku}/restock",
            "summary": "Count a delivery.",
            "action": {
                "resource": "stock_item",
                "lookup": "sku",
                "set": {"restocked_at": "now", "active": True},
                "increment": {"count": 10, "price": 0.5},
            },
        },
        {
            "method": "GET",
            "path": "/stock-items/value",
            "summary": "Stock per activity.",
            "aggregate": {
                "resource": "stock_item",
                "function": "max",
                "field": "price",
                "group_by": "active",
            },
        },
        # Routes the spec already has: folded in, not served twice.
        {"method": "GET", "path": "/notes", "summary": "List notes.", "resource": "note"},
        {"method": "GET", "path": "/health", "summary": "Health."},
    ],
}


def ruff(*args: str, directory: Path) -> subprocess.CompletedProcess[str]:
    executable = ruff_executable()
    assert executable is not None, "ruff is part of the dev dependencies"
    return subprocess.run(
        [executable, *args, "--no-cache", "."], cwd=directory, capture_output=True, text=True
    )


EXAMPLE_INTENTS = sorted(p.stem for p in (EXAMPLES / "intents").glob("*.yaml"))


def test_the_examples_are_the_ones_the_factory_tests_know() -> None:
    assert set(EXAMPLE_INTENTS) == {*STRUCTURED, *FREE_TEXT, *REPORTING}
    for name in FREE_TEXT:  # nothing a service would do is said in hints: offline, only free text
        assert not load_example(EXAMPLES, name).has_structured_hints(), name


@pytest.mark.parametrize("name", EXAMPLE_INTENTS)
def test_generated_code_passes_ruff(tmp_path: Path, blueprint: str, name: str) -> None:
    # Every example, free text included (its spec stays below the gate, yet its code must still lint).
    # Their own tests run in the sandbox (test_sandbox.py), in the pinned venv.
    spec = build_spec(load_example(EXAMPLES, name), blueprint=blueprint)
    directory = generate_service(spec, tmp_path / name).directory
    lint, fmt = ruff("check", directory=directory), ruff("format", "--check", directory=directory)
    assert lint.returncode == 0, lint.stdout
    assert fmt.returncode == 0, fmt.stdout


def test_every_field_type_and_endpoint_kind(tmp_path: Path, sandbox_python: Path) -> None:
    intent = parse_intent_mapping(EVERY_KIND, source="inventory.yaml")
    report = optimize(build_spec(intent))
    assert report.reached_gate, report.verification.to_json()
    service = generate_service(report.spec, tmp_path / "inventory")
    assert ruff("check", directory=service.directory).returncode == 0
    result = ProcessSandbox(sandbox_python).run_tests(service.directory)
    assert result.ok, result.output
    assert result.passed == len(report.spec.acceptance_criteria)
    routes = [(ep.method.value, ep.path) for ep in report.spec.endpoints]
    assert len(routes) == len(set(routes))


def test_layout_manifest_and_pins(generated: dict[str, Path]) -> None:
    directory = generated["bookmarks"]
    manifest = ServiceManifest.load(directory)
    spec = read_spec(directory)
    assert manifest.name == "bookmarks"
    assert manifest.spec_hash == spec.content_hash() == manifest.version
    assert manifest.intent_path == "intents/bookmarks.yaml"
    assert manifest.storage == "sqlite"
    for path in (
        "app/main.py",
        "tests/test_acceptance.py",
        "Dockerfile",
        "README.md",
        "SPEC.md",
        "spec.json",
    ):
        assert (directory / path).is_file(), path
    requirements = (directory / "requirements.txt").read_text()
    assert "fastapi==" in requirements and "--hash=sha256:" in requirements
    assert "pytest==" not in requirements
    assert "pytest==" in (directory / "requirements-test.txt").read_text()
    dockerfile = (directory / "Dockerfile").read_text()
    assert "--no-index --find-links" in dockerfile and "--require-hashes" in dockerfile


def test_refuses_to_write_over_a_folder_it_did_not_make(tmp_path: Path, hello_spec: object) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(CodegenError, match="refusing to write over it"):
        generate_service(hello_spec, target)  # type: ignore[arg-type]
    assert (target / "notes.txt").read_text() == "keep me"


def test_regenerating_replaces_stale_generated_files(tmp_path: Path, hello_spec: object) -> None:
    service = generate_service(hello_spec, tmp_path / "svc")  # type: ignore[arg-type]
    stale = service.directory / "app" / "old_module.py"
    stale.write_text("x = 1\n")
    generate_service(hello_spec, tmp_path / "svc")  # type: ignore[arg-type]
    assert not stale.exists()


@pytest.fixture
def running_service(
    generated: dict[str, Path], registry_server: tuple[str, RegistryStore], tmp_path: Path
) -> Iterator[tuple[str, RegistryStore]]:
    """bookmarks started as a deployer would (python -m app), registering with the real registry."""
    registry_url, store = registry_server
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATA_DIR": str(tmp_path / "data"),
        "SERVICE_VERSION": "v-test",
        "REGISTRY_URL": registry_url,
        "REGISTRY_TOKEN": REGISTRY_TOKEN,
        "HEARTBEAT_SECONDS": "0.2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app"],
        cwd=generated["bookmarks"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url, store
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_healthy(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else "exited"
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail("the generated service did not become healthy")


def test_started_service_registers_and_serves_every_spec_endpoint(
    running_service: tuple[str, RegistryStore], generated: dict[str, Path]
) -> None:
    url, store = running_service
    deadline = time.monotonic() + 10
    while (entry := store.get("bookmarks")) is None or entry.last_heartbeat is None:
        assert time.monotonic() < deadline, "no registration and heartbeat reached the registry"
        time.sleep(0.05)
    assert entry.version == "v-test" and entry.health_path == "/health"
    spec = read_spec(generated["bookmarks"])
    created = httpx.post(f"{url}/bookmarks", json={"url": "https://example.org", "title": "Example"}).json()
    for endpoint in spec.endpoints:
        path = endpoint.path.replace("{id}", str(created["id"]))
        body = {"title": "Changed"} if endpoint.method.value in {"POST", "PATCH"} else None
        if endpoint.operation == "create":
            body = {"url": "https://example.com", "title": "Another"}
        response = httpx.request(endpoint.method.value, f"{url}{path}", json=body)
        assert response.status_code == endpoint.success_status, (endpoint.id, response.text)
    assert httpx.get(f"{url}/bookmarks/{created['id']}").status_code == 404  # deleted above
    too_big = httpx.post(
        f"{url}/bookmarks", content=b"x" * (65 * 1024), headers={"content-type": "application/json"}
    )
    assert too_big.status_code == 413
    chunked = httpx.post(
        f"{url}/bookmarks",
        content=iter([b'{"url": "', *[b"x" * 8192] * 9, b'", "title": "t"}']),
        headers={"content-type": "application/json"},
    )
    assert chunked.request.headers["transfer-encoding"] == "chunked"
    assert chunked.status_code == 413, chunked.text[:300]
    coerced = httpx.post(
        f"{url}/bookmarks", json={"url": "https://u.example", "title": "t", "stars": "3", "archived": "yes"}
    )
    assert coerced.status_code == 422
    assert {e["loc"][-1] for e in coerced.json()["detail"]} == {"stars", "archived"}
    assert len(httpx.get(f"{url}/bookmarks").json()) == 1  # only the one created above and not deleted


def test_service_keeps_serving_while_the_registry_is_down(generated: dict[str, Path], tmp_path: Path) -> None:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PORT": str(port),
        "DATA_DIR": str(tmp_path),
        "REGISTRY_URL": f"http://127.0.0.1:{free_port()}",
        "REGISTRY_TOKEN": REGISTRY_TOKEN,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app"],
        cwd=generated["hello-world"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process)
        time.sleep(1.0)  # a few failed registration attempts
        assert process.poll() is None
        assert httpx.get(f"http://127.0.0.1:{port}/hello").json() == {
            "language": "en",
            "message": "Hello, world!",
        }
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "the registry is unreachable" in output
    assert REGISTRY_TOKEN not in output
