"""The Runtime protocol: what the blue/green deployer needs from a backend (local processes, Docker)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from pipeline.deploy.model import Artifact, Backend, Instance, LaunchPlan
from pipeline.manifest import ServiceManifest
from pipeline.registry.model import Replica


class Runtime(Protocol):
    backend: Backend

    def prepare(self, service_dir: Path, manifest: ServiceManifest, version: str) -> Artifact:
        """Everything needed before start (a venv, an image); raises on a broken service."""
        ...

    def allocate_port(self) -> int:
        """A free port on 127.0.0.1 for the new instance."""
        ...

    def start(self, plan: LaunchPlan, port: int) -> Instance:
        """Start the version in the background, listening (or published) on 127.0.0.1:port."""
        ...

    def is_alive(self, instance: Instance) -> bool: ...

    def stop(self, instance: Instance) -> None:
        """Stop and remove; a no-op for what is already gone."""
        ...

    def log_tail(self, instance: Instance, lines: int) -> str: ...

    def discover(self) -> list[Instance]:
        """Every instance this runtime can see, recorded or not (Docker finds them by label)."""
        ...


@runtime_checkable
class ReplicatedRuntime(Protocol):
    """A runtime that runs several copies of a version (Swarm): the registry records each one."""

    def replicas(self, instance: Instance, *, wait: float = 0.0) -> list[Replica]:
        """The copies of `instance` that should run, waiting up to `wait` s for all of them to be running."""
        ...
