"""Kubernetes manifests written beside each deploy: a folder Argo CD or Flux watches gets
`<service>/deployment.yaml`, `service.yaml`, `persistentvolumeclaim.yaml` and `kustomization.yaml` for each
service the line deployed, and loses them when the service is undeployed."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import ValidationError

from pipeline.deploy.deployer import Deployer, DeployerConfig
from pipeline.deploy.kubernetes import KubeService, ManifestOptions, from_service_dir, render_manifests
from pipeline.deploy.model import (
    Backend,
    DeployOutcome,
    DeployRequest,
    DeployResult,
    UndeployOutcome,
    UndeployResult,
)
from pipeline.deploy.records import DeploymentRecords
from pipeline.deploy.runtime import Runtime
from pipeline.intents.model import check_service_name
from pipeline.registry import RegistryStore

log = logging.getLogger(__name__)

MARKER = ".intentops"
"""In each service folder the line writes (it holds the version): only those are replaced or removed."""
NOT_OURS = "{path} exists and was not written by IntentOps: left as it is"
WRITTEN = "; Kubernetes manifests written to {path}"
NOT_WRITTEN = "; Kubernetes manifests not written: {error}"
REMOVED = "; Kubernetes manifests removed from {path}"
NOT_REMOVED = "; Kubernetes manifests not removed: {error}"


class ManifestFolderError(RuntimeError):
    """The manifests could not be written or removed (a folder not the line's, a file system error)."""


class ManifestFolder:
    """Writes each service's manifests to `<root>/<service>/` and removes them on undeploy.

    A service's folder is replaced as a whole (written beside it, then renamed into place), so a reader
    never sees half of one version and half of another. Only folders the line wrote (with its marker file)
    are replaced or removed: anything else under `root` is left as it is."""

    def __init__(self, root: Path, options: ManifestOptions | None = None) -> None:
        self.root = root
        self.options = options or ManifestOptions()

    def folder(self, name: str) -> Path:
        """Where the manifests of `name` go; ValueError for a name that is not a service name."""
        return self.root / check_service_name(name)

    def write(self, service: KubeService) -> Path:
        """Write the manifests of `service`; returns its folder. ManifestFolderError when it cannot."""
        target = self.folder(service.name)
        if target.exists() and not (target / MARKER).is_file():
            raise ManifestFolderError(NOT_OURS.format(path=target))
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{service.name}-", dir=self.root))
            for name, text in render_manifests(service, self.options).items():
                (staging / name).write_text(text, encoding="utf-8")
            (staging / MARKER).write_text(f"{service.tag}\n", encoding="utf-8")
            staging.chmod(0o755)
            self._swap(staging, target)
        except OSError as exc:
            raise ManifestFolderError(f"{target}: {exc.strerror or exc}") from exc
        return target

    def write_from(self, service_dir: Path, *, tag: str) -> Path:
        """Write the manifests of the service generated in `service_dir`, its image tagged `tag`."""
        return self.write(from_service_dir(service_dir, tag=tag))

    def _swap(self, staging: Path, target: Path) -> None:
        if not target.exists():
            os.replace(staging, target)
            return
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=self.root))
        os.replace(target, retired / target.name)
        os.replace(staging, target)
        shutil.rmtree(retired)

    def remove(self, name: str) -> bool:
        """Remove the manifests of `name`; False when there were none (or the folder is not the line's)."""
        target = self.folder(name)
        if not (target / MARKER).is_file():
            return False
        try:
            shutil.rmtree(target)
        except OSError as exc:
            raise ManifestFolderError(f"{target}: {exc.strerror or exc}") from exc
        return True

    def version(self, name: str) -> str | None:
        """The version whose manifests are written for `name`, or None."""
        marker = self.folder(name) / MARKER
        return marker.read_text(encoding="utf-8").strip() if marker.is_file() else None


class ManifestExportingDeployer(Deployer):
    """A Deployer that also writes each healthy deploy's Kubernetes manifests, and removes them on undeploy.

    Manifests follow only a version that came up healthy here (a failed deploy leaves the last good ones).
    Writing them cannot undo a deploy: a failure to write is said in the result's message."""

    def __init__(
        self,
        runtime: Runtime,
        records: DeploymentRecords,
        registry: RegistryStore,
        config: DeployerConfig,
        *,
        manifests: ManifestFolder,
        peers: Mapping[Backend, Callable[[], Runtime]] | None = None,
    ) -> None:
        super().__init__(runtime, records, registry, config, peers=peers)
        self.manifests = manifests

    def deploy(self, request: DeployRequest) -> DeployResult:
        result = super().deploy(request)
        if result.outcome is DeployOutcome.FAILED:
            return result
        return _with_note(result, self._export(request))

    def _export(self, request: DeployRequest) -> str:
        try:
            path = self.manifests.write_from(request.service_dir, tag=request.version)
        except (ManifestFolderError, OSError, ValidationError, ValueError) as exc:
            log.warning("Kubernetes manifests of %s not written: %s", request.service_dir.name, exc)
            return NOT_WRITTEN.format(error=exc)
        return WRITTEN.format(path=path)

    def undeploy(self, name: str) -> UndeployResult:
        result = super().undeploy(name)
        if result.outcome is UndeployOutcome.INCOMPLETE:
            return result
        try:
            removed = self.manifests.remove(name)
        except ManifestFolderError as exc:
            return UndeployResult(result.outcome, name, result.message + NOT_REMOVED.format(error=exc))
        if not removed:
            return result
        # The manifests were something to undeploy, even with nothing running here.
        message = result.message + REMOVED.format(path=self.manifests.folder(name))
        return UndeployResult(UndeployOutcome.REMOVED, name, message)


def _with_note(result: DeployResult, note: str) -> DeployResult:
    return DeployResult(
        result.outcome,
        result.name,
        result.version,
        result.message + note,
        result.url,
        previous_version=result.previous_version,
        log_tail=result.log_tail,
    )
