"""A deployer wired from settings: services heartbeat often enough for the registry's TTL, and a service
name that is not a DNS label is refused before it reaches the file system."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.deploy import (
    Backend,
    Deployer,
    DeploymentRecords,
    DeployOutcome,
    DeployRequest,
    Instance,
    UndeployOutcome,
)
from pipeline.deploy.locks import InvalidServiceName, service_lock
from pipeline.deploy.wiring import DeploySetup, build_deployer, heartbeat_for_ttl
from pipeline.registry import RegistryStore, ServiceStatus
from pipeline.state import Database
from tests.deploy.conftest import CACHE, REGISTRY_TOKEN, MakeService

TTL_SECONDS = 2.0


@pytest.mark.parametrize(
    ("ttl", "heartbeat"), [(30.0, 10.0), (5.0, 5 / 3), (2.0, 2 / 3), (0.9, 0.5), (600.0, 10.0)]
)
def test_the_heartbeat_is_a_third_of_the_ttl_within_bounds(ttl: float, heartbeat: float) -> None:
    assert heartbeat_for_ttl(ttl) == pytest.approx(heartbeat)


@pytest.fixture
def wired(
    tmp_path: Path,
    wheelhouse: Path,
    venvs: object,
    database: Database,
    registry: RegistryStore,
    registry_url: str,
) -> Iterator[Deployer]:
    data = tmp_path / "installation"
    (data / "deploy").mkdir(parents=True)
    (data / "wheelhouse").symlink_to(wheelhouse)
    (data / "deploy" / "venvs").symlink_to(CACHE / "venvs")  # the venv the session already built
    setup = DeploySetup(
        data_dir=data, registry_url=registry_url, registry_token=REGISTRY_TOKEN, registry_ttl=TTL_SECONDS
    )
    deployer = build_deployer(Backend.LOCAL, setup, database, registry)
    yield deployer
    for instance in deployer.records.all():
        deployer.runtime.stop(instance)


def test_a_service_stays_healthy_under_a_short_ttl(
    wired: Deployer, database: Database, make_service: MakeService
) -> None:
    short = RegistryStore(database, ttl=timedelta(seconds=TTL_SECONDS))  # as a bot with that setting reads it
    result = wired.deploy(DeployRequest(make_service("v1"), uuid.uuid4().hex))
    assert result.outcome is DeployOutcome.DEPLOYED, result.message

    seen = []
    deadline = time.monotonic() + 2.5 * TTL_SECONDS
    while time.monotonic() < deadline:
        seen.append(short.get("hello-fixture").status)  # type: ignore[union-attr]
        time.sleep(0.2)

    assert seen[-1] is ServiceStatus.HEALTHY
    assert ServiceStatus.UNHEALTHY not in seen


@pytest.mark.parametrize("name", ["../../etc", "../a/b/c", "Hello", "a" * 64, "-x", ""])
def test_names_that_are_not_dns_labels_are_refused(wired: Deployer, tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidServiceName, match="not a service name"):
        wired.undeploy(name)
    with pytest.raises(InvalidServiceName), service_lock(tmp_path / "locks", name):
        pass

    assert not list(tmp_path.rglob("*.lock"))


def test_undeploy_says_what_it_could_not_stop_when_docker_is_gone(
    wired: Deployer,
    database: Database,
    registry: RegistryStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A container recorded by the Docker backend, and no engine answering any more: nothing is forgotten."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    registry.register(name="boxed", version="v1", url="http://127.0.0.1:9")
    recorded = DeploymentRecords(database, Backend.DOCKER)
    recorded.add(
        Instance("boxed", "v1", Backend.DOCKER, "c0ffee", "http://127.0.0.1:9", 9, "/health", tmp_path)
    )

    result = wired.undeploy("boxed")

    assert result.outcome is UndeployOutcome.INCOMPLETE and not result.ok
    assert "v1 on docker was not stopped" in result.message
    assert [i.handle for i in recorded.for_name("boxed")] == ["c0ffee"]  # undeploying again retries it
    assert registry.get("boxed").status is not ServiceStatus.GONE  # type: ignore[union-attr]
