"""Kubernetes manifests written beside each deploy: a folder Argo CD or Flux watches gets
`<service>/deployment.yaml`, `service.yaml`, `persistentvolumeclaim.yaml` and `kustomization.yaml` for each
service the line deployed, and loses them when the service is undeployed. In a checkout of a deploy
repository, each change is also committed, and pushed to the branch's upstream."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path

from pydantic import ValidationError

from pipeline.deploy.deployer import Deployer, DeployerConfig
from pipeline.deploy.kubernetes import KubeService, ManifestOptions, from_service_dir, render_manifests
from pipeline.deploy.locks import service_lock
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
from pipeline.manifest import ServiceManifest
from pipeline.registry import RegistryStore

log = logging.getLogger(__name__)

MARKER = ".intentops"
"""In each service folder the line writes (it holds the version): only those are replaced or removed."""
NOT_OURS = "{path} exists and was not written by IntentOps: left as it is"
WRITTEN = "; Kubernetes manifests written to {path}"
NOT_WRITTEN = "; Kubernetes manifests not published: {error}"
REMOVED = "; Kubernetes manifests removed from {path}"
NOT_REMOVED = "; Kubernetes manifests not removed: {error}"
PUBLISH_LOCK = "intentops-manifests"
PUSH_ATTEMPTS = 3
GIT_TIMEOUT_SECONDS = 120
GIT_NAME = "IntentOps"
GIT_EMAIL = "intentops@users.noreply.intentops"
GIT_FAILED = "git {command} failed: {error}"
GIT_TIMED_OUT = "git {command} did not finish within {seconds} s"
COMMIT_WRITTEN = "{name}: deploy {tag}"
COMMIT_REMOVED = "{name}: undeploy"


class ManifestFolderError(RuntimeError):
    """The manifests could not be written or removed (a folder not the line's, a file system error)."""


class ManifestFolder:
    """Writes each service's manifests to `<root>/<service>/` and removes them on undeploy.

    A service's folder is replaced as a whole (written beside it, then renamed into place), so a reader
    never sees half of one version and half of another. Only folders the line wrote (with its marker file)
    are replaced or removed: anything else under `root` is left as it is."""

    def __init__(self, root: Path, options: ManifestOptions | None = None, *, publish: bool = True) -> None:
        self.root = root
        self.options = options or ManifestOptions()
        self.publish = publish  # False: only write files, even in a checkout (`intentops k8s render --out`)

    def _publisher(self) -> GitPublisher | None:
        return GitPublisher.find(self.root) if self.publish else None

    def folder(self, name: str) -> Path:
        """Where the manifests of `name` go; ValueError for a name that is not a service name."""
        return self.root / check_service_name(name)

    def write(self, service: KubeService) -> Path:
        """Write the manifests of `service` (committed and pushed in a checkout); returns its folder.
        ManifestFolderError when it cannot."""
        target = self.folder(service.name)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ManifestFolderError(f"{self.root}: {exc.strerror or exc}") from exc
        publisher = self._publisher()
        with publisher.locked() if publisher else nullcontext():
            self._write_files(service, target)
            if publisher is not None:
                publisher.publish(target, COMMIT_WRITTEN.format(name=service.name, tag=service.tag))
        return target

    def _write_files(self, service: KubeService, target: Path) -> None:
        if target.exists() and not (target / MARKER).is_file():
            raise ManifestFolderError(NOT_OURS.format(path=target))
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{service.name}-", dir=self.root))
            for name, text in render_manifests(service, self.options).items():
                (staging / name).write_text(text, encoding="utf-8")
            (staging / MARKER).write_text(f"{service.tag}\n", encoding="utf-8")
            staging.chmod(0o755)
            self._swap(staging, target)
        except OSError as exc:
            raise ManifestFolderError(f"{target}: {exc.strerror or exc}") from exc

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
        """Remove the manifests of `name` (committed and pushed in a checkout); False when there were none
        (or the folder is not the line's)."""
        target = self.folder(name)
        if not (target / MARKER).is_file():
            return False
        publisher = self._publisher()
        with publisher.locked() if publisher else nullcontext():
            try:
                shutil.rmtree(target)
            except OSError as exc:
                raise ManifestFolderError(f"{target}: {exc.strerror or exc}") from exc
            if publisher is not None:
                publisher.publish(target, COMMIT_REMOVED.format(name=name))
        return True

    def version(self, name: str) -> str | None:
        """The version whose manifests are written for `name`, or None."""
        marker = self.folder(name) / MARKER
        return marker.read_text(encoding="utf-8").strip() if marker.is_file() else None


class GitPublisher:
    """The manifests folder is inside a git checkout (of a deploy repository): each change is committed
    there, and pushed when the branch has an upstream. A push that loses a race (another host pushed
    first) is rebased onto the upstream and pushed again, a few times; what still fails is an error."""

    def __init__(self, worktree: Path, git_dir: Path) -> None:
        self.worktree = worktree
        self.git_dir = git_dir

    @classmethod
    def find(cls, folder: Path) -> GitPublisher | None:
        """The checkout `folder` is in, or None (not in one, or no git)."""
        if not folder.is_dir() or shutil.which("git") is None:
            return None
        found = _git(folder, "rev-parse", "--show-toplevel", "--absolute-git-dir", check=False)
        if found.returncode != 0:
            return None
        top, git_dir = found.stdout.splitlines()[:2]
        return cls(Path(top), Path(git_dir))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One change at a time in this checkout, across the workers of this host."""
        with service_lock(self.git_dir, PUBLISH_LOCK):
            yield

    def publish(self, folder: Path, message: str) -> bool:
        """Commit what changed under `folder` (and push it); False when nothing changed."""
        relative = str(folder.resolve().relative_to(self.worktree.resolve()))
        self._run("add", "--all", "--", relative)
        if _git(self.worktree, "diff", "--cached", "--quiet", "--", relative, check=False).returncode == 0:
            return False
        self._run(*self._identity(), "commit", "--quiet", "--no-verify", "-m", message, "--", relative)
        if _git(self.worktree, "rev-parse", "--abbrev-ref", "@{upstream}", check=False).returncode == 0:
            self._push()
        return True

    def _identity(self) -> list[str]:
        if _git(self.worktree, "config", "user.email", check=False).returncode == 0:
            return []
        return ["-c", f"user.name={GIT_NAME}", "-c", f"user.email={GIT_EMAIL}"]

    def _push(self) -> None:
        for _ in range(PUSH_ATTEMPTS - 1):
            if _git(self.worktree, "push", "--quiet", check=False).returncode == 0:
                return
            self._run(*self._identity(), "pull", "--rebase", "--quiet")
        self._run("push", "--quiet")

    def _run(self, *args: str) -> None:
        result = _git(self.worktree, *args, check=False)
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines() or ["(no output)"]
            raise ManifestFolderError(GIT_FAILED.format(command=" ".join(args[-6:]), error=lines[-1]))


def _git(cwd: Path, *args: str, check: bool) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # never wait for a password on a terminal
    try:
        return subprocess.run(
            ["git", "-C", str(cwd), *args],
            capture_output=True,
            text=True,
            check=check,
            env=environment,
            timeout=GIT_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise ManifestFolderError(
            GIT_TIMED_OUT.format(command=args[0], seconds=GIT_TIMEOUT_SECONDS)
        ) from None


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

    # Both run under the service's deploy lock (Deployer.deploy, undeploy): two deploys of one service
    # write their manifests in the order they deployed, so the newest version's are the ones left.
    def _deploy(self, request: DeployRequest, manifest: ServiceManifest) -> DeployResult:
        result = super()._deploy(request, manifest)
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

    def _undeploy(self, name: str) -> UndeployResult:
        result = super()._undeploy(name)
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
