"""The Docker runtime (docker SDK): build `<name>:<sha>` from the generated Dockerfile on a local base
image with no network, run it with labels, limits and a restart policy, published on 127.0.0.1 only."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import docker
from docker.errors import APIError, BuildError, DockerException, ImageNotFound, NotFound

from pipeline.deploy.local import LOOPBACK, free_port
from pipeline.deploy.model import (
    LABEL_SERVICE,
    LABEL_VERSION,
    Artifact,
    Backend,
    Instance,
    LaunchPlan,
    PrepareError,
)
from pipeline.history.access import ENV_HISTORY_URL
from pipeline.manifest import ENV_DATA_DIR, ENV_HOST, ENV_PORT, ENV_REGISTRY_URL, ServiceManifest

LABEL_INTENT = "intentops.intent"
# Which installation started a container: reconciliation only ever removes its own.
LABEL_OWNER = "intentops.owner"
SWARM_TASK_LABEL = "com.docker.swarm.service.id"  # the engine's label on a Swarm task's container
# Containers reach the host (the registry) through this name, mapped to the bridge gateway.
HOST_ALIAS = "host.docker.internal"
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}
CONTEXT_IGNORE = shutil.ignore_patterns(".venv", "__pycache__", "*.pyc", ".pytest_cache", "wheelhouse")
STOP_TIMEOUT_SECONDS = 10
CONTAINER_DATA_DIR = "/data"
BUILD_LOG_LINES = 20


class ImageBuildError(PrepareError):
    """The image did not build (or could not start building); `log_tail` has the build log's end."""


@dataclass(frozen=True)
class DockerLimits:
    memory: str = "256m"
    nano_cpus: int = 1_000_000_000  # one CPU
    restart_policy: str = "unless-stopped"


def docker_client() -> docker.DockerClient:
    """The engine from the environment (DOCKER_HOST or the local socket); raises DockerException."""
    client = docker.from_env(timeout=120)
    client.ping()
    return client


def container_registry_url(url: str) -> str:
    """A registry URL on the host's loopback is unreachable from a container: use the host alias."""
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK_NAMES:
        return url
    netloc = HOST_ALIAS + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class DockerRuntime:
    """Builds, runs, checks and removes service containers; keeps the newest `keep_images` per service."""

    backend = Backend.DOCKER

    def __init__(
        self,
        client: docker.DockerClient,
        *,
        base_image: str,
        wheelhouse: Path,
        keep_images: int = 3,
        owner: str = "intentops",
        limits: DockerLimits | None = None,
        on_stop: Callable[[Any], object] | None = None,
    ) -> None:
        self._client = client
        self._base_image = base_image
        self._wheelhouse = wheelhouse
        self._keep_images = keep_images
        self._owner = owner
        self._limits = limits or DockerLimits()
        # Called with the container just before it stops (undeployed or replaced): its last CPU and memory
        # figures are read then (pipeline.deploy.samples), since the engine forgets them with it.
        self._on_stop = on_stop

    @property
    def client(self) -> docker.DockerClient:
        return self._client

    @property
    def owner(self) -> str:
        return self._owner

    def images_of(self, name: str) -> list[Any]:
        """This installation's images of a service, newest first (never another installation's)."""
        mine = [f"{LABEL_SERVICE}={name}", f"{LABEL_OWNER}={self._owner}"]
        images = list(self._client.images.list(filters={"label": mine}))
        images.sort(key=lambda image: str(image.attrs.get("Created", "")), reverse=True)
        return images

    def prepare(self, service_dir: Path, manifest: ServiceManifest, version: str) -> Artifact:
        tag = f"{manifest.name}:{version}"
        try:
            image = self._client.images.get(tag)  # built before: the same SHA is the same code
        except ImageNotFound:
            image = self._build(service_dir, manifest, version, tag)
            self._prune(manifest.name)
        return Artifact(reference=tag, digest=str(image.id))

    def _build(self, service_dir: Path, manifest: ServiceManifest, version: str, tag: str) -> Any:
        try:
            self._client.images.get(self._base_image)
        except ImageNotFound:
            raise ImageBuildError(
                f"base image {self._base_image} is missing; build it with `intentops docker base-image`"
            ) from None
        if not self._wheelhouse.is_dir():
            raise ImageBuildError(f"wheelhouse {self._wheelhouse} does not exist; prepare it at set-up time")
        labels = {
            LABEL_SERVICE: manifest.name,
            LABEL_VERSION: version,
            LABEL_INTENT: manifest.intent_path,
            LABEL_OWNER: self._owner,
        }
        with tempfile.TemporaryDirectory(prefix="intentops-build-") as scratch:
            context = Path(scratch) / "context"
            shutil.copytree(service_dir, context, ignore=CONTEXT_IGNORE)
            shutil.copytree(self._wheelhouse, context / "wheelhouse", copy_function=_link_or_copy)
            try:
                image, _logs = self._client.images.build(
                    path=str(context),
                    tag=tag,
                    labels=labels,
                    buildargs={"BASE_IMAGE": self._base_image},
                    network_mode="none",
                    pull=False,
                    rm=True,
                    forcerm=True,
                )
            except BuildError as exc:
                lines = [str(chunk.get("stream", chunk.get("error", ""))).rstrip() for chunk in exc.build_log]
                tail = "\n".join(line for line in lines if line)[-3000:]
                raise ImageBuildError(f"docker build of {tag} failed: {exc.msg}", tail) from None
        return image

    def _prune(self, name: str) -> None:
        """Remove all but the newest images of a service built by this installation; one still used by a
        container is kept. Another installation's images on the same engine are never touched."""
        for image in self.images_of(name)[self._keep_images :]:
            try:
                self._client.images.remove(image.id, force=False)
            except APIError:  # in use by a running container (the serving version): keep it
                continue

    def volume_name(self, name: str) -> str:
        return f"intentops-{self._owner}-{name}-data"

    def allocate_port(self) -> int:
        return free_port()

    def start(self, plan: LaunchPlan, port: int) -> Instance:
        environment = {
            **plan.environment,
            ENV_HOST: "0.0.0.0",
            ENV_PORT: str(plan.container_port),
            ENV_DATA_DIR: CONTAINER_DATA_DIR,
        }
        for loopback in (ENV_REGISTRY_URL, ENV_HISTORY_URL):  # the line's own address, seen from inside
            if environment.get(loopback):
                environment[loopback] = container_registry_url(environment[loopback])
        container = self._client.containers.run(
            plan.artifact.reference,
            detach=True,
            name=f"intentops-{plan.name}-{plan.version[:12]}-{port}",
            labels={
                LABEL_SERVICE: plan.name,
                LABEL_VERSION: plan.version,
                LABEL_INTENT: plan.intent_path,
                LABEL_OWNER: self._owner,
            },
            environment=environment,
            ports={f"{plan.container_port}/tcp": (LOOPBACK, port)},
            mem_limit=self._limits.memory,
            nano_cpus=self._limits.nano_cpus,
            restart_policy={"Name": self._limits.restart_policy},
            extra_hosts={HOST_ALIAS: "host-gateway"},
            # One named volume per service and installation: its data outlives versions, as DATA_DIR does
            # for local processes, and two installations on one engine never share it.
            volumes={self.volume_name(plan.name): {"bind": CONTAINER_DATA_DIR, "mode": "rw"}},
            # The volume is the only place it writes (the image runs as an unprivileged user).
            read_only=True,
            tmpfs={"/tmp": "size=16m,mode=1777"},
            security_opt=["no-new-privileges"],
        )
        return plan.started(self.backend, handle=str(container.id), port=port, image=plan.artifact.reference)

    def is_alive(self, instance: Instance) -> bool:
        try:
            container = self._client.containers.get(instance.handle)
        except NotFound:
            return False
        return str(container.status) == "running"

    def stop(self, instance: Instance) -> None:
        try:
            container = self._client.containers.get(instance.handle)
            if self._on_stop is not None:
                self._on_stop(container)
            container.stop(timeout=STOP_TIMEOUT_SECONDS)
            container.remove(force=True)
        except NotFound:
            return

    def discover(self) -> list[Instance]:
        mine = [LABEL_SERVICE, f"{LABEL_OWNER}={self._owner}"]
        containers = self._client.containers.list(all=True, filters={"label": mine})
        # A Swarm task runs our image, so it carries its labels too: it is the Swarm backend's, not ours.
        ours = [c for c in containers if SWARM_TASK_LABEL not in c.labels]
        return [self._as_instance(container) for container in ours]

    @staticmethod
    def _as_instance(container: Any) -> Instance:
        image = ",".join(container.image.tags) if container.image else ""
        return Instance.discovered(
            Backend.DOCKER, labels=container.labels, handle=str(container.id), image=image
        )

    def log_tail(self, instance: Instance, lines: int) -> str:
        try:
            raw = self._client.containers.get(instance.handle).logs(tail=lines)
        except (NotFound, DockerException):
            return ""
        return bytes(raw).decode("utf-8", errors="replace")


def _link_or_copy(source: str, target: str) -> str:
    # Hard links make a large wheelhouse cost nothing per build; across file systems, copy.
    try:
        Path(target).hardlink_to(source)
    except OSError:
        shutil.copy2(source, target)
    return target
