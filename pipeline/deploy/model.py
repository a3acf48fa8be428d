"""What deployers take and return: requests, outcomes as values, and the running instances they track."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pipeline.registry import Provenance

LOOPBACK = "127.0.0.1"
LABEL_SERVICE = "intentops.service"
LABEL_VERSION = "intentops.version"
"""Where every backend's instances answer the line (published, or relayed, on this host's loopback only)."""


class PrepareError(RuntimeError):
    """A version could not be prepared (venv, image build); `log_tail` holds the tool's last output lines."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail


class Backend(StrEnum):
    LOCAL = "local"
    DOCKER = "docker"
    SWARM = "swarm"  # Docker Swarm services (pipeline.deploy.swarm)


class DeployOutcome(StrEnum):
    DEPLOYED = "deployed"  # the new version serves the name
    UNCHANGED = "unchanged"  # that version was already running: nothing done
    FAILED = "failed"  # the new version did not come up; whatever served before still does


class UndeployOutcome(StrEnum):
    REMOVED = "removed"
    ABSENT = "absent"  # nothing was deployed under that name: nothing done
    INCOMPLETE = "incomplete"  # an instance on an unreachable backend is still there: undeploy again


class RecoveryAction(StrEnum):
    ADOPTED = "adopted"  # still running from before: kept as it is
    RESTARTED = "restarted"  # had died: started again, same version
    CLEANED = "cleaned"  # a half-switched candidate or predecessor: stopped
    FAILED = "failed"  # had died and would not start again


@dataclass(frozen=True)
class Recovery:
    action: RecoveryAction
    name: str
    version: str
    detail: str


@dataclass(frozen=True)
class DeployRequest:
    """Deploy the generated service in `service_dir` as `version` (the merge commit SHA)."""

    service_dir: Path
    version: str
    provenance: Provenance = field(default_factory=Provenance)


@dataclass(frozen=True)
class DeployResult:
    outcome: DeployOutcome
    name: str
    version: str
    message: str
    url: str = ""
    previous_version: str | None = None
    log_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is not DeployOutcome.FAILED


@dataclass(frozen=True)
class UndeployResult:
    outcome: UndeployOutcome
    name: str
    message: str

    @property
    def ok(self) -> bool:
        return self.outcome is not UndeployOutcome.INCOMPLETE


@dataclass(frozen=True)
class Artifact:
    """What a runtime prepared to start a version: a venv's python, or a built image."""

    reference: str  # path to the interpreter, or the image tag
    digest: str = ""  # the image id for Docker; empty for local processes


@dataclass(frozen=True)
class LaunchPlan:
    name: str
    version: str
    service_dir: Path
    entrypoint: str
    container_port: int
    health_path: str
    artifact: Artifact
    environment: dict[str, str]
    intent_path: str = ""

    def started(
        self,
        backend: Backend,
        *,
        handle: str,
        port: int,
        image: str = "",
        log_path: str = "",
        started_marker: str = "",
    ) -> Instance:
        """This plan's version, started as `handle` and answering on the loopback at `port`."""
        return Instance(
            name=self.name,
            version=self.version,
            backend=backend,
            handle=handle,
            url=f"http://{LOOPBACK}:{port}",
            port=port,
            health_path=self.health_path,
            service_dir=self.service_dir,
            image=image,
            log_path=log_path,
            started_marker=started_marker,
        )


@dataclass(frozen=True)
class Instance:
    """One started version. `handle` is a pid (local) or a container id (Docker)."""

    name: str
    version: str
    backend: Backend
    handle: str
    url: str
    port: int
    health_path: str
    service_dir: Path
    log_path: str = ""
    started_marker: str = ""  # the process start time, so a recycled pid is not mistaken for ours
    image: str = ""
    active: bool = False
    id: int | None = None

    @classmethod
    def discovered(cls, backend: Backend, *, labels: Mapping[str, str], handle: str, image: str) -> Instance:
        """What an engine shows of an instance found by its labels (no address: discovery only removes)."""
        return cls(
            name=labels.get(LABEL_SERVICE, ""),
            version=labels.get(LABEL_VERSION, ""),
            backend=backend,
            handle=handle,
            url="",
            port=0,
            health_path="",
            service_dir=Path(),
            image=image,
        )
