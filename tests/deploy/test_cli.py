"""The deploy commands as a person runs them: deploy, services, undeploy, reconcile, registry serve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from bot.cli import deploy_cmd
from bot.cli.main import build_app
from pipeline.deploy.local import free_port
from pipeline.registry import Provenance, RegistryStore
from pipeline.state import Database
from tests.deploy.conftest import CACHE, MakeService

SHA = "f" * 40


@pytest.fixture
def cli_env(tmp_path: Path, wheelhouse: Path, venvs: object) -> Iterator[dict[str, str]]:
    data = tmp_path / "data"
    (data / "deploy").mkdir(parents=True)
    (data / "wheelhouse").symlink_to(wheelhouse)
    (data / "deploy" / "venvs").symlink_to(CACHE / "venvs")  # the venv the session already built
    env = {
        "INTENTOPS_DATA_DIR": str(data),
        "INTENTOPS_REGISTRY_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: services retry
        "INTENTOPS_DEPLOY_BACKEND": "local",
        "INTENTOPS_DEPLOY_HEALTH_TIMEOUT": "20",
    }
    yield env
    _run(env, "undeploy", "hello-fixture")  # never leave a process behind


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(build_app(), list(args), env=env)


def test_deploy_list_and_undeploy(cli_env: dict[str, str], make_service: MakeService) -> None:
    service = make_service("v1")

    deployed = _run(cli_env, "deploy", str(service), "--version", SHA, "--pr", "4", "--approver", "ann")
    again = _run(cli_env, "deploy", str(service), "--version", SHA)
    listed = _run(cli_env, "services", "--format", "json")
    table = _run(cli_env, "services")

    assert deployed.exit_code == 0, deployed.output
    assert "deployed" in deployed.output and "hello-fixture" in deployed.output
    assert again.exit_code == 0 and "unchanged" in again.output
    [entry] = json.loads(listed.output)
    assert entry["name"] == "hello-fixture" and entry["version"] == SHA
    assert entry["provenance"]["pr_number"] == 4 and entry["provenance"]["approvers"] == ["ann"]
    assert entry["provenance"]["commit_sha"] == SHA
    assert httpx.get(entry["url"] + "/hello").json()["version"] == SHA
    assert "hello-fixture" in table.output and "ann" in table.output

    removed = _run(cli_env, "undeploy", "hello-fixture")
    absent = _run(cli_env, "undeploy", "hello-fixture")

    assert removed.exit_code == 0 and "removed" in removed.output
    assert absent.exit_code == 0 and "nothing to do" in absent.output
    assert json.loads(_run(cli_env, "services", "--format", "json").output)[0]["status"] == "gone"


def test_a_failed_deploy_exits_1_with_the_reason_and_the_logs(
    cli_env: dict[str, str], make_service: MakeService
) -> None:
    result = _run(cli_env, "deploy", str(make_service("bad", crash=True)), "--version", SHA)

    assert result.exit_code == 1
    assert "failed its health check" in result.output
    assert "this build is broken" in result.output
    assert "Traceback (most recent call last)" not in result.output.split("last log lines:")[0]


def test_deploying_a_folder_without_a_manifest_names_the_file(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    result = _run(cli_env, "deploy", str(tmp_path))

    assert result.exit_code == 1
    assert str(tmp_path / "service.yaml") in result.output


def test_reconcile_dry_run_reports_drift_and_exits_1(
    cli_env: dict[str, str], make_service: MakeService, tmp_path: Path
) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "intents").mkdir(parents=True)
    (checkout / "intents" / "hello-fixture.yaml").write_text(
        "service_name: hello-fixture\npurpose: Greets.\n"
    )
    make_service("hello-fixture", root=checkout / "services")

    result = _run(cli_env, "reconcile", str(checkout), "--version", SHA, "--dry-run")

    assert result.exit_code == 1
    assert "missing" in result.output and "hello-fixture" in result.output
    assert json.loads(_run(cli_env, "services", "--format", "json").output) == []


def test_registry_serve_refuses_unknown_callers(cli_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, **cli_env}
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "registry", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_serving(url)
        token = (Path(cli_env["INTENTOPS_DATA_DIR"]) / "registry-token").read_text().strip()

        refused = httpx.get(f"{url}/services")
        allowed = httpx.get(f"{url}/services", headers={"Authorization": f"Bearer {token}"})
        taken = _run(cli_env, "registry", "serve", "--port", str(port))
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0].decode()

    assert refused.status_code == 401 and allowed.status_code == 200 and allowed.json() == []
    assert "registry-token" in output and token not in output
    assert taken.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in taken.output


def _wait_until_serving(url: str) -> None:
    deadline = time.monotonic() + 90  # the CLI imports every feature; slow on a loaded machine
    while True:
        try:
            httpx.get(f"{url}/health")
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the registry did not start"
            time.sleep(0.1)


def test_the_docker_backend_without_an_engine_says_how_to_get_one(
    cli_env: dict[str, str], make_service: MakeService, tmp_path: Path
) -> None:
    env = {**cli_env, "DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"}

    result = _run(env, "deploy", str(make_service("v1")), "--backend", "docker", "--version", SHA)

    assert result.exit_code == 1
    assert "no Docker engine answers" in result.output and "intentops docker base-image" in result.output


@pytest.mark.docker
def test_docker_base_image_is_idempotent_when_the_image_exists(docker_engine: object) -> None:
    result = CliRunner().invoke(build_app(), ["docker", "base-image"])

    assert result.exit_code == 0, result.output
    assert "ready" in result.output and "intentops-base" in result.output


def test_undeploy_refuses_a_name_that_is_not_a_dns_label(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = _run(cli_env, "undeploy", "../../etc")

    assert result.exit_code == 1
    assert (
        len(result.output.strip().splitlines()) == 1 and "'../../etc' is not a service name" in result.output
    )
    assert "Traceback" not in result.output
    assert not list(tmp_path.rglob("*.lock"))


def test_the_services_table_shows_commit_spec_and_image(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = Path(cli_env["INTENTOPS_DATA_DIR"])
    db = Database(f"sqlite:///{(data / 'state.db').resolve()}")
    db.create_all()
    store = RegistryStore(db)
    provenance = Provenance(
        intent_path="intents/hello-world.yaml",
        commit_sha="0123456789abcdef" * 2 + "01234567",
        spec_hash="fedcba9876543210" * 4,
        image_digest="sha256:" + "a1b2c3d4e5f6" * 5 + "abcd",
        pr_number=7,
        approvers=("bob",),
    )
    store.announce(
        name="hello-world",
        version=SHA,
        url="http://127.0.0.1:9",
        health_path="/health",
        provenance=provenance,
    )
    store.activate("hello-world", SHA)
    db.dispose()

    monkeypatch.setattr(deploy_cmd.out, "width", 160)  # a wide terminal; a narrow one folds the cells
    table = _run(cli_env, "services")

    assert table.exit_code == 0, table.output
    for shown in ("PR #7", "bob", "commit 0123456789ab", "spec fedcba987654", "image a1b2c3d4e5f6"):
        assert shown in table.output


def test_docker_base_image_passes_mirror_cache_engine_and_proxies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dump = tmp_path / "env.txt"
    script = tmp_path / "docker.sh"
    script.write_text(f"#!/bin/sh\nenv > {dump}\n")
    script.chmod(0o755)
    monkeypatch.setattr(deploy_cmd, "DOCKER_SCRIPT", script)
    passed = {
        "DEBIAN_MIRROR": "http://mirror.example/debian",
        "INTENTOPS_DOCKER_CACHE": str(tmp_path / "cache"),
        "DOCKER_HOST": "unix:///run/other.sock",
        "http_proxy": "http://proxy:3128",
        "HTTPS_PROXY": "http://proxy:3129",
        "no_proxy": "localhost",
    }

    result = CliRunner().invoke(build_app(), ["docker", "base-image"], env={**passed, "SOME_SECRET": "x"})

    assert result.exit_code == 0, result.output
    seen = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
    assert {key: seen.get(key) for key in passed} == passed
    assert "SOME_SECRET" not in seen and seen["INTENTOPS_BASE_IMAGE"] == "intentops-base:bookworm"
