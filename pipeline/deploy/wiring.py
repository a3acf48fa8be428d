"""Assemble a Deployer for a backend from plain settings values (the CLI and the bot's merge handler)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from pipeline.deploy.deployer import Deployer, DeployerConfig
from pipeline.deploy.docker import DockerRuntime, docker_client
from pipeline.deploy.gitops import ManifestExportingDeployer, ManifestFolder
from pipeline.deploy.kubernetes import ManifestOptions
from pipeline.deploy.local import LocalProcessRuntime
from pipeline.deploy.model import Backend
from pipeline.deploy.records import DeploymentRecords
from pipeline.deploy.runtime import Runtime
from pipeline.deploy.samples import ContainerSamples
from pipeline.deploy.swarm import SwarmOptions, SwarmRuntime, ensure_swarm
from pipeline.deploy.venvs import WheelhouseVenvs
from pipeline.registry import RegistryStore
from pipeline.state import Database

BEATS_PER_TTL = 3
MIN_HEARTBEAT_SECONDS = 0.5
MAX_HEARTBEAT_SECONDS = 10.0


@dataclass(frozen=True)
class DeploySetup:
    data_dir: Path  # deploy state lives in data_dir/deploy; the wheelhouse in data_dir/wheelhouse
    registry_url: str
    registry_token: str
    health_timeout: float = 30.0
    registry_ttl: float = 30.0  # INTENTOPS_REGISTRY_TTL_SECONDS: services heartbeat well within it
    base_image: str = "intentops-base:bookworm"
    keep_images: int = 3
    stage_token: str = ""  # INTENTOPS_STAGE_TOKEN: handed to stage services, which answer only it
    history_url: str = ""  # the bot's address: services declaring the line's history read its API there
    k8s_manifests: Path | None = None  # INTENTOPS_K8S_MANIFESTS: each healthy deploy's manifests go there
    k8s: ManifestOptions = ManifestOptions()
    swarm: SwarmOptions = SwarmOptions()

    @property
    def owner(self) -> str:
        """One installation = one data directory; its containers carry this in their owner label."""
        return hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:16]

    @property
    def wheelhouse(self) -> Path:
        return self.data_dir / "wheelhouse"

    @property
    def deploy_dir(self) -> Path:
        return self.data_dir / "deploy"


def heartbeat_for_ttl(ttl: float) -> float:
    """Three heartbeats per TTL, so one lost beat does not turn a healthy service unhealthy; bounded."""
    return min(MAX_HEARTBEAT_SECONDS, max(MIN_HEARTBEAT_SECONDS, ttl / BEATS_PER_TTL))


def build_runtime(backend: Backend, setup: DeploySetup, db: Database | None = None) -> Runtime:
    """The runtime for a backend. Docker and Swarm raise docker.errors.DockerException when no engine answers
    (Swarm also when the engine manages no swarm); with `db`, a container's last CPU and memory figures are
    kept there when it stops."""
    if backend is Backend.SWARM:
        client = docker_client()
        ensure_swarm(client)
        images = DockerRuntime(
            client,
            base_image=setup.base_image,
            wheelhouse=setup.wheelhouse,
            keep_images=setup.keep_images,
            owner=setup.owner,
        )
        return SwarmRuntime(images, gateway_image=setup.base_image, options=setup.swarm)
    if backend is Backend.DOCKER:
        return DockerRuntime(
            docker_client(),
            base_image=setup.base_image,
            wheelhouse=setup.wheelhouse,
            keep_images=setup.keep_images,
            owner=setup.owner,
            on_stop=ContainerSamples(db).record_final if db is not None else None,
        )
    venvs = WheelhouseVenvs(setup.wheelhouse, setup.deploy_dir / "venvs")
    return LocalProcessRuntime(venvs, setup.deploy_dir / "logs")


def build_deployer(backend: Backend, setup: DeploySetup, db: Database, registry: RegistryStore) -> Deployer:
    config = DeployerConfig(
        data_dir=setup.deploy_dir / "data",
        registry_url=setup.registry_url,
        registry_token=setup.registry_token,
        health_timeout=setup.health_timeout,
        heartbeat_seconds=heartbeat_for_ttl(setup.registry_ttl),
        stage_token=setup.stage_token,
        history_url=setup.history_url,
    )
    # The other backends are built on demand, to stop or check what they run under the same names.
    peers = {other: partial(build_runtime, other, setup, db) for other in Backend if other is not backend}
    runtime, records = build_runtime(backend, setup, db), DeploymentRecords(db, backend)
    if setup.k8s_manifests is not None:
        manifests = ManifestFolder(setup.k8s_manifests, setup.k8s)
        return ManifestExportingDeployer(runtime, records, registry, config, manifests=manifests, peers=peers)
    return Deployer(runtime, records, registry, config, peers=peers)
