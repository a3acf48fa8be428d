"""Both backends on one installation know each other: a deploy on one replaces what the other runs under the
same name, and undeploy stops a service on whatever backend runs it. Real processes, real Docker."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from docker import DockerClient
from docker.errors import NotFound

from pipeline.deploy import Backend, Deployer, DeployOutcome, DeployRequest, UndeployOutcome
from pipeline.deploy.docker import LABEL_SERVICE, DockerRuntime
from pipeline.deploy.wiring import DeploySetup, build_deployer
from pipeline.manifest import ServiceManifest
from pipeline.registry import RegistryStore, ServiceStatus
from pipeline.state import Database
from tests.deploy.conftest import BASE_IMAGE, CACHE, REGISTRY_TOKEN, MakeService

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("docker")]


@pytest.fixture
def setup(tmp_path: Path, wheelhouse: Path, venvs: object, registry_url: str) -> DeploySetup:
    """One installation, wired as the CLI and the bot wire it."""
    data = tmp_path / "installation"
    (data / "deploy").mkdir(parents=True)
    (data / "wheelhouse").symlink_to(wheelhouse)
    (data / "deploy" / "venvs").symlink_to(CACHE / "venvs")  # the venv the session already built
    return DeploySetup(
        data_dir=data,
        registry_url=registry_url,
        registry_token=REGISTRY_TOKEN,
        health_timeout=30,
        registry_ttl=3,
        base_image=BASE_IMAGE,
    )


@pytest.fixture
def name(docker_engine: DockerClient, setup: DeploySetup) -> Iterator[str]:
    name = f"bk-{uuid.uuid4().hex[:10]}"
    yield name
    mine = [f"{LABEL_SERVICE}={name}", f"intentops.owner={setup.owner}"]
    for container in docker_engine.containers.list(all=True, filters={"label": mine}):
        container.remove(force=True)
    for image in docker_engine.images.list(filters={"label": mine}):
        docker_engine.images.remove(image.id, force=True)
    with contextlib.suppress(NotFound):
        docker_engine.volumes.get(f"intentops-{setup.owner}-{name}-data").remove(force=True)


@pytest.fixture
def deployers(
    setup: DeploySetup, database: Database, registry: RegistryStore, docker_engine: DockerClient
) -> Iterator[dict[Backend, Deployer]]:
    built = {backend: build_deployer(backend, setup, database, registry) for backend in Backend}
    yield built
    for deployer in built.values():  # never leave a process or container behind
        for instance in deployer.records.all():
            deployer.runtime.stop(instance)


def _pid_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")


def _containers(engine: DockerClient, name: str) -> list[str]:
    found = engine.containers.list(all=True, filters={"label": f"{LABEL_SERVICE}={name}"})
    return [c.labels["intentops.version"] for c in found]


def test_a_docker_deploy_replaces_the_local_process_and_a_local_undeploy_stops_the_container(
    deployers: dict[Backend, Deployer],
    docker_engine: DockerClient,
    registry: RegistryStore,
    make_service: MakeService,
    name: str,
) -> None:
    local, docker = deployers[Backend.LOCAL], deployers[Backend.DOCKER]
    v1, v2 = uuid.uuid4().hex, uuid.uuid4().hex
    first = local.deploy(DeployRequest(make_service("v1", name=name), v1))
    assert first.outcome is DeployOutcome.DEPLOYED, first.message
    [process] = local.records.for_name(name)

    switched = docker.deploy(DeployRequest(make_service("v2", name=name, greeting="hola"), v2))

    assert switched.outcome is DeployOutcome.DEPLOYED, f"{switched.message}\n{switched.log_tail}"
    assert switched.previous_version == v1 and "(local)" in switched.message
    assert not _pid_alive(process.handle)
    assert local.records.for_name(name) == [] and _containers(docker_engine, name) == [v2]
    assert [i.backend for i in local.running()] == [Backend.DOCKER]
    assert httpx.get(f"{switched.url}/hello").json()["message"] == "hola"

    removed = local.undeploy(name)  # the local backend is the default: it still finds the container

    assert removed.outcome is UndeployOutcome.REMOVED and "docker" in removed.message
    assert _containers(docker_engine, name) == []
    assert docker.records.for_name(name) == []
    assert registry.get(name).status is ServiceStatus.GONE  # type: ignore[union-attr]


def test_a_local_deploy_replaces_the_container_of_the_same_version(
    deployers: dict[Backend, Deployer],
    docker_engine: DockerClient,
    registry: RegistryStore,
    make_service: MakeService,
    name: str,
) -> None:
    local, docker = deployers[Backend.LOCAL], deployers[Backend.DOCKER]
    version = uuid.uuid4().hex
    service = make_service("v1", name=name)
    assert docker.deploy(DeployRequest(service, version)).ok

    moved = local.deploy(DeployRequest(service, version))

    assert moved.outcome is DeployOutcome.DEPLOYED, moved.message
    assert _containers(docker_engine, name) == []
    assert [i.backend for i in local.running()] == [Backend.LOCAL]
    entry = registry.get(name)
    assert entry is not None and entry.url == moved.url and entry.status is not ServiceStatus.GONE
    assert httpx.get(f"{moved.url}/hello").json()["version"] == version


def test_docker_images_and_volumes_belong_to_one_installation(
    docker_engine: DockerClient, wheelhouse: Path, make_service: MakeService, name: str
) -> None:
    mine = DockerRuntime(docker_engine, base_image=BASE_IMAGE, wheelhouse=wheelhouse, owner="a1")
    # Keeping no image: its prune removes every image it may remove, and must not reach the first one's.
    other = DockerRuntime(
        docker_engine, base_image=BASE_IMAGE, wheelhouse=wheelhouse, keep_images=0, owner="b2"
    )
    service = make_service("v1", name=name)
    manifest = ServiceManifest.load(service)
    try:
        kept = mine.prepare(service, manifest, uuid.uuid4().hex)
        other.prepare(service, manifest, uuid.uuid4().hex)

        assert docker_engine.images.get(kept.reference).labels["intentops.owner"] == "a1"
        assert [i.id for i in mine.images_of(name)] == [kept.digest] and other.images_of(name) == []
        assert mine.volume_name(name) != other.volume_name(name)
    finally:
        for image in mine.images_of(name) + other.images_of(name):
            docker_engine.images.remove(image.id, force=True)
