"""The Docker backend on a real engine: image per merge SHA, labels, limits, loopback-only port, blue/green
with a probe, rollback, undeploy, pruning."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from docker import DockerClient
from docker.errors import NotFound

from pipeline.deploy import (
    Backend,
    Deployer,
    DeploymentRecords,
    DeployOutcome,
    DeployRequest,
    RecoveryAction,
    UndeployOutcome,
)
from pipeline.deploy.docker import LABEL_SERVICE
from pipeline.deploy.reconcile import DriftKind, reconcile
from pipeline.registry import Provenance, RegistryStore, ServiceStatus
from pipeline.state import Database, default_sqlite_url
from tests.deploy.conftest import MakeService
from tests.deploy.probe import Probe

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("docker")]


def _sha() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex[:8]


@pytest.fixture
def service_name(docker_engine: DockerClient) -> Iterator[str]:
    """A name of its own per test, so images of other runs never stand in for this one's."""
    name = f"dk-{uuid.uuid4().hex[:10]}"
    yield name
    for container in docker_engine.containers.list(all=True, filters={"label": f"{LABEL_SERVICE}={name}"}):
        container.remove(force=True)
    for image in docker_engine.images.list(filters={"label": f"{LABEL_SERVICE}={name}"}):
        docker_engine.images.remove(image.id, force=True)
    for volume in docker_engine.volumes.list(
        filters={"name": f"-{name}-data"}
    ):  # intentops-<owner>-<name>-data
        with contextlib.suppress(NotFound):
            volume.remove(force=True)


def test_docker_blue_green_rollback_and_undeploy(
    docker_deployer: Deployer,
    docker_engine: DockerClient,
    registry: RegistryStore,
    make_service: MakeService,
    service_name: str,
) -> None:
    v1, v2, v3 = _sha(), _sha(), _sha()
    provenance = Provenance(intent_path=f"intents/{service_name}.yaml", commit_sha=v1, pr_number=12)

    first = docker_deployer.deploy(DeployRequest(make_service("v1", name=service_name), v1, provenance))

    assert first.outcome is DeployOutcome.DEPLOYED, f"{first.message}\n{first.log_tail}"
    container = docker_engine.containers.list(filters={"label": f"{LABEL_SERVICE}={service_name}"})[0]
    assert container.labels["intentops.version"] == v1
    assert container.labels["intentops.intent"] == f"intents/{service_name}.yaml"
    assert container.image.tags == [f"{service_name}:{v1}"]
    host = container.attrs["HostConfig"]
    assert host["Memory"] == 256 * 1024 * 1024 and host["NanoCpus"] == 1_000_000_000
    assert host["RestartPolicy"]["Name"] == "unless-stopped"
    assert {b["HostIp"] for b in host["PortBindings"]["8080/tcp"]} == {"127.0.0.1"}
    entry = registry.get(service_name)
    assert entry is not None and entry.provenance.image_digest == container.image.id
    assert entry.provenance.pr_number == 12
    assert httpx.get(f"{first.url}/hello").json() == {"message": "hello", "version": v1}

    with Probe(registry, service_name) as probe:
        good = docker_deployer.deploy(
            DeployRequest(make_service("v2", name=service_name, greeting="hola"), v2)
        )
        docker_deployer.config = dataclasses.replace(docker_deployer.config, health_timeout=6)
        failed = docker_deployer.deploy(
            DeployRequest(make_service("v3", name=service_name, healthy=False), v3)
        )

    assert good.outcome is DeployOutcome.DEPLOYED, good.message
    assert failed.outcome is DeployOutcome.FAILED and "503" in failed.log_tail
    assert probe.failures == []
    assert probe.versions[v1] > 0 and probe.versions[v2] > 0 and probe.versions[v3] == 0
    assert registry.get(service_name).version == v2  # type: ignore[union-attr]
    running = docker_engine.containers.list(filters={"label": f"{LABEL_SERVICE}={service_name}"})
    assert [c.labels["intentops.version"] for c in running] == [v2]
    # keep_images=2: the oldest of three builds is pruned.
    tags = {
        t
        for i in docker_engine.images.list(filters={"label": f"{LABEL_SERVICE}={service_name}"})
        for t in i.tags
    }
    assert tags == {f"{service_name}:{v2}", f"{service_name}:{v3}"}

    removed = docker_deployer.undeploy(service_name)

    assert removed.outcome is UndeployOutcome.REMOVED
    assert docker_deployer.undeploy(service_name).outcome is UndeployOutcome.ABSENT
    assert docker_engine.containers.list(all=True, filters={"label": f"{LABEL_SERVICE}={service_name}"}) == []
    assert registry.get(service_name).status is ServiceStatus.GONE  # type: ignore[union-attr]


def test_a_restarted_bot_adopts_live_containers_and_restarts_removed_ones(
    database: Database,
    docker_deployer: Deployer,
    docker_engine: DockerClient,
    registry: RegistryStore,
    make_service: MakeService,
    service_name: str,
) -> None:
    version = _sha()
    assert docker_deployer.deploy(DeployRequest(make_service("v1", name=service_name), version)).ok
    records = DeploymentRecords(database, Backend.DOCKER)
    restarted_bot = Deployer(docker_deployer.runtime, records, registry, docker_deployer.config)

    adopted = restarted_bot.recover()
    docker_engine.containers.get(restarted_bot.records.for_name(service_name)[0].handle).remove(force=True)
    recovered = restarted_bot.recover()

    assert [(a.action, a.version) for a in adopted] == [(RecoveryAction.ADOPTED, version)]
    assert [(a.action, a.version) for a in recovered] == [(RecoveryAction.RESTARTED, version)]
    entry = registry.get(service_name)
    assert entry is not None and httpx.get(f"{entry.url}/hello").json()["version"] == version


def test_a_broken_build_fails_the_deploy_with_the_build_log(
    docker_deployer: Deployer, docker_engine: DockerClient, make_service: MakeService, service_name: str
) -> None:
    service = make_service("broken", name=service_name)
    dockerfile = service / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace("COPY app /srv/app", "RUN echo compile-step-broke && false")
    )

    result = docker_deployer.deploy(DeployRequest(service, _sha()))

    assert result.outcome is DeployOutcome.FAILED
    assert "could not be prepared" in result.message and "docker build" in result.message
    assert "compile-step-broke" in result.log_tail
    assert docker_engine.containers.list(all=True, filters={"label": f"{LABEL_SERVICE}={service_name}"}) == []
    assert docker_deployer.records.all() == []


def test_reconcile_removes_containers_no_record_knows(
    docker_deployer: Deployer,
    docker_engine: DockerClient,
    make_service: MakeService,
    service_name: str,
    tmp_path: Path,
) -> None:
    version = _sha()
    assert docker_deployer.deploy(DeployRequest(make_service("v1", name=service_name), version)).ok
    lost = Database(default_sqlite_url(tmp_path / "lost-state"))  # the state database was lost
    lost.create_all()
    amnesiac = Deployer(
        docker_deployer.runtime,
        DeploymentRecords(lost, Backend.DOCKER),
        RegistryStore(lost),
        docker_deployer.config,
    )

    report = reconcile([], amnesiac)

    strays = [d for d in report.drift if d.kind is DriftKind.STRAY and d.name == service_name]
    assert [d.running for d in strays] == [version]
    assert docker_engine.containers.list(all=True, filters={"label": f"{LABEL_SERVICE}={service_name}"}) == []
    lost.dispose()
