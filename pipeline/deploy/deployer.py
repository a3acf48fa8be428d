"""Blue/green deploys over any Runtime: start the new version beside the old, wait for health, switch the
registry, drain and stop the old. A new version that fails is stopped and the old one keeps serving."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from pipeline.deploy.health import wait_healthy
from pipeline.deploy.locks import check_service_name, service_lock
from pipeline.deploy.model import (
    Artifact,
    Backend,
    DeployOutcome,
    DeployRequest,
    DeployResult,
    Instance,
    LaunchPlan,
    PrepareError,
    Recovery,
    RecoveryAction,
    UndeployOutcome,
    UndeployResult,
)
from pipeline.deploy.records import DeploymentRecords
from pipeline.deploy.runtime import ReplicatedRuntime, Runtime
from pipeline.history.access import history_environment
from pipeline.manifest import (
    ENV_DATA_DIR,
    ENV_HEARTBEAT_SECONDS,
    ENV_HOST,
    ENV_PORT,
    ENV_REGISTRY_TOKEN,
    ENV_REGISTRY_URL,
    ENV_SERVICE_URL,
    ENV_SERVICE_VERSION,
    ENV_STAGE_TOKEN,
    MANIFEST_FILE,
    STAGE_FILE,
    ServiceManifest,
)
from pipeline.registry import Provenance, RegistryStore, ServiceStatus
from pipeline.registry.model import SERVICE_NAME_PATTERN

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 30
LOCKS_DIR = ".locks"  # beside the services' data folders; no DNS label starts with a dot
ALREADY_RUNNING = "{name} {version} is already running at {url}: nothing to do"
DEPLOYED = "{name} {version} is serving at {url}"
REPLACED = "{name} {version} is serving at {url} (replaced {previous})"
NOT_HEALTHY = "{name} {version} failed its health check: {detail}; {kept}"
KEPT_PREVIOUS = "{previous} keeps serving"
KEPT_NOTHING = "nothing was serving before"
CANNOT_START = "{name} {version} could not be started: {error}"
CANNOT_PREPARE = "{name} {version} could not be prepared: {error}"
BAD_MANIFEST = "{path}: not a deployable service: {error}"
NOT_A_LABEL = "name {name!r} is not a DNS label (lowercase letters, digits, '-')"
UNDEPLOYED = "{name} stopped and deregistered ({versions})"
HUNG = "%s %s runs at %s but does not answer its health check: restarting it"
NOTHING_TO_UNDEPLOY = "{name} is not deployed: nothing to do"
LEFT_RUNNING = "{version} on {backend} was not stopped ({error})"
NO_PEER = "the {backend} backend is not available here"
NO_PEER_DETAIL = "the {backend} backend is not available: {error}"


class BackendUnavailable(RuntimeError):
    """Another backend's instance must be stopped or checked, and that backend cannot be reached."""


@dataclass(frozen=True)
class DeployerConfig:
    """How deployed services are wired: where they register, and how long the switch may take."""

    data_dir: Path  # each service gets DATA_DIR=data_dir/<name>, shared across its versions
    registry_url: str = ""
    registry_token: str = ""
    heartbeat_seconds: float = 10.0
    health_timeout: float = 30.0
    adopt_timeout: float = 5.0  # after a restart, a live instance must answer its health check within this
    drain_seconds: float = 0.5  # requests routed to the old version just before the switch still finish
    stage_token: str = ""  # given to stage services only (STAGE_TOKEN): what the line's stage client sends
    history_url: str = ""  # the read API's base (HISTORY_URL), for services declaring data_sources


class Deployer:
    """One deploy flow for every backend; the Runtime does the starting and stopping."""

    def __init__(
        self,
        runtime: Runtime,
        records: DeploymentRecords,
        registry: RegistryStore,
        config: DeployerConfig,
        *,
        peers: Mapping[Backend, Callable[[], Runtime]] | None = None,
    ) -> None:
        self.runtime = runtime
        self.records = records
        self.registry = registry
        self.config = config
        # The other backends, built only when one of their instances must be checked or stopped.
        self._peer_factories = dict(peers or {})
        self._peers: dict[Backend, Runtime] = {runtime.backend: runtime}

    def runtime_for(self, backend: Backend) -> Runtime:
        """The runtime that started instances of `backend`; raises when it cannot be reached (no engine)."""
        if backend not in self._peers:
            factory = self._peer_factories.get(backend)
            if factory is None:
                raise BackendUnavailable(NO_PEER.format(backend=backend))
            try:
                self._peers[backend] = factory()
            except Exception as exc:  # e.g. no Docker engine answers: the caller reports it
                detail = NO_PEER_DETAIL.format(backend=backend, error=_one_line(exc))
                raise BackendUnavailable(detail) from exc
        return self._peers[backend]

    @property
    def _locks(self) -> Path:
        return self.config.data_dir / LOCKS_DIR

    def deploy(self, request: DeployRequest) -> DeployResult:
        """Deploy one version blue/green. Deploys of the same name queue behind each other."""
        manifest = self._manifest(request)
        if isinstance(manifest, DeployResult):
            return manifest
        with service_lock(self._locks, manifest.name):
            return self._deploy(request, manifest)

    def _manifest(self, request: DeployRequest) -> ServiceManifest | DeployResult:
        path = request.service_dir / MANIFEST_FILE
        try:
            manifest = ServiceManifest.load(request.service_dir)
        except (OSError, ValidationError, ValueError) as exc:
            message = BAD_MANIFEST.format(path=path, error=_one_line(exc))
            return DeployResult(DeployOutcome.FAILED, request.service_dir.name, request.version, message)
        if not re.fullmatch(SERVICE_NAME_PATTERN, manifest.name):
            message = BAD_MANIFEST.format(path=path, error=NOT_A_LABEL.format(name=manifest.name))
            return DeployResult(DeployOutcome.FAILED, manifest.name, request.version, message)
        return manifest

    def _deploy(self, request: DeployRequest, manifest: ServiceManifest) -> DeployResult:
        current = self.records.active(manifest.name)
        if current is not None and current.version == request.version and self.runtime.is_alive(current):
            message = ALREADY_RUNNING.format(name=manifest.name, version=request.version, url=current.url)
            return DeployResult(DeployOutcome.UNCHANGED, manifest.name, request.version, message, current.url)
        try:
            artifact = self.runtime.prepare(request.service_dir.resolve(), manifest, request.version)
        except Exception as exc:  # any build failure is this deploy's failure, returned as a value
            message = CANNOT_PREPARE.format(name=manifest.name, version=request.version, error=_one_line(exc))
            logs = exc.log_tail if isinstance(exc, PrepareError) else ""
            return DeployResult(DeployOutcome.FAILED, manifest.name, request.version, message, log_tail=logs)
        return self._switch(request, manifest, artifact, current)

    def _switch(
        self, request: DeployRequest, manifest: ServiceManifest, artifact: Artifact, current: Instance | None
    ) -> DeployResult:
        provenance = request.provenance.model_copy(update={"image_digest": artifact.digest})
        try:
            candidate = self._launch(
                request.service_dir.resolve(), manifest, request.version, artifact, provenance
            )
        except Exception as exc:  # the engine refused to start it: nothing runs, nothing changed
            self.registry.retire(manifest.name, request.version)
            message = CANNOT_START.format(name=manifest.name, version=request.version, error=_one_line(exc))
            return DeployResult(DeployOutcome.FAILED, manifest.name, request.version, message)
        health = wait_healthy(
            candidate.url + candidate.health_path,
            timeout=self.config.health_timeout,
            is_alive=lambda: self.runtime.is_alive(candidate),
        )
        if not health.ok:
            return self._roll_back(candidate, current, health.detail)
        replaced = current or self._serving_elsewhere(manifest.name)
        self.records.activate(candidate)
        self.registry.activate(manifest.name, request.version)
        self._record_replicas(candidate, wait=self.config.health_timeout)
        if current is not None:
            self._drain(current, keep_registry=current.version == request.version)
        for other in self.records.elsewhere(manifest.name):  # the same service on another backend
            self._drain(other, keep_registry=other.version == request.version)
        previous = self._describe(replaced) if replaced is not None else None
        log.info("%s %s is serving at %s", manifest.name, request.version, candidate.url)
        template = REPLACED if previous else DEPLOYED
        message = template.format(
            name=manifest.name, version=request.version, url=candidate.url, previous=previous
        )
        return DeployResult(
            DeployOutcome.DEPLOYED,
            manifest.name,
            request.version,
            message,
            candidate.url,
            previous_version=_version(replaced),
            log_tail=self.runtime.log_tail(candidate, LOG_TAIL_LINES),  # its start-up, for the history
        )

    def _record_replicas(self, instance: Instance, *, wait: float) -> None:
        """A runtime that runs several copies of a version says which: the registry records them."""
        if isinstance(self.runtime, ReplicatedRuntime):
            replicas = self.runtime.replicas(instance, wait=wait)
            self.registry.record_replicas(instance.name, instance.version, replicas)

    def _serving_elsewhere(self, name: str) -> Instance | None:
        return next((i for i in self.records.elsewhere(name) if i.active), None)

    def _describe(self, instance: Instance) -> str:
        """`name version`, with the backend when it is not this deployer's."""
        where = f" ({instance.backend})" if instance.backend is not self.runtime.backend else ""
        return f"{instance.name} {instance.version}{where}"

    def _roll_back(self, candidate: Instance, current: Instance | None, detail: str) -> DeployResult:
        """The candidate never turned healthy: stop it and keep whatever served before."""
        logs = self.runtime.log_tail(candidate, LOG_TAIL_LINES)
        self._discard(candidate)
        kept_serving = current or self._serving_elsewhere(candidate.name)
        kept = KEPT_PREVIOUS.format(previous=self._describe(kept_serving)) if kept_serving else KEPT_NOTHING
        message = NOT_HEALTHY.format(name=candidate.name, version=candidate.version, detail=detail, kept=kept)
        log.warning("%s", message)
        return DeployResult(
            DeployOutcome.FAILED,
            candidate.name,
            candidate.version,
            message,
            previous_version=_version(kept_serving),
            log_tail=logs,
        )

    def _launch(
        self,
        service_dir: Path,
        manifest: ServiceManifest,
        version: str,
        artifact: Artifact,
        provenance: Provenance,
    ) -> Instance:
        port = self.runtime.allocate_port()
        url = f"http://127.0.0.1:{port}"
        plan = LaunchPlan(
            name=manifest.name,
            version=version,
            service_dir=service_dir,
            entrypoint=manifest.entrypoint,
            container_port=manifest.port,
            health_path=manifest.health_path,
            artifact=artifact,
            environment=self._environment(
                manifest, version, url, port, stage=(service_dir / STAGE_FILE).is_file()
            )
            | history_environment(
                service_dir, history_url=self.config.history_url, stage_token=self.config.stage_token
            ),
            intent_path=provenance.intent_path or manifest.intent_path,
        )
        if not provenance.spec_hash and manifest.spec_hash:
            provenance = provenance.model_copy(update={"spec_hash": manifest.spec_hash})
        if not provenance.intent_path and manifest.intent_path:
            provenance = provenance.model_copy(update={"intent_path": manifest.intent_path})
        self.registry.announce(
            name=manifest.name,
            version=version,
            url=url,
            health_path=manifest.health_path,
            provenance=provenance,
        )
        return self.records.add(self.runtime.start(plan, port))

    def _environment(
        self, manifest: ServiceManifest, version: str, url: str, port: int, *, stage: bool = False
    ) -> dict[str, str]:
        data_dir = self.config.data_dir / manifest.name
        data_dir.mkdir(parents=True, exist_ok=True)
        environment = {
            ENV_PORT: str(port),
            ENV_HOST: "127.0.0.1",
            ENV_SERVICE_URL: url,
            ENV_SERVICE_VERSION: version,
            ENV_DATA_DIR: str(data_dir.resolve()),
            ENV_HEARTBEAT_SECONDS: f"{self.config.heartbeat_seconds:g}",
        }
        if self.config.registry_url:
            environment[ENV_REGISTRY_URL] = self.config.registry_url
            environment[ENV_REGISTRY_TOKEN] = self.config.registry_token
        if stage and self.config.stage_token:
            environment[ENV_STAGE_TOKEN] = self.config.stage_token
        return environment

    def _discard(self, candidate: Instance) -> None:
        self.runtime.stop(candidate)
        self.records.remove(candidate)
        self.registry.retire(candidate.name, candidate.version)

    def _drain(self, old: Instance, *, keep_registry: bool) -> None:
        time.sleep(self.config.drain_seconds)
        try:
            self.runtime_for(old.backend).stop(old)
        except BackendUnavailable as exc:  # its record stays: a later undeploy or deploy stops it
            log.warning("%s %s on %s was not stopped: %s", old.name, old.version, old.backend, exc)
            return
        self.records.remove(old)
        if not keep_registry:
            self.registry.retire(old.name, old.version)

    def undeploy(self, name: str) -> UndeployResult:
        """Stop every instance of `name`, on any backend, and deregister it. InvalidServiceName for a name
        that is not a DNS label."""
        check_service_name(name)
        with service_lock(self._locks, name):
            return self._undeploy(name)

    def _undeploy(self, name: str) -> UndeployResult:
        instances = self.records.for_name(name) + self.records.elsewhere(name)  # on whatever backend
        entry = self.registry.get(name)
        if not instances and (entry is None or entry.status is ServiceStatus.GONE):
            return UndeployResult(UndeployOutcome.ABSENT, name, NOTHING_TO_UNDEPLOY.format(name=name))
        stopped, left = [], []
        for instance in instances:
            try:
                self.runtime_for(instance.backend).stop(instance)
            except BackendUnavailable as exc:  # keep its record: undeploying again retries it
                kept = LEFT_RUNNING.format(version=instance.version, backend=instance.backend, error=exc)
                left.append(kept)
                continue
            self.records.remove(instance)
            stopped.append(f"{instance.version} ({instance.backend})")
        if left:
            return UndeployResult(UndeployOutcome.INCOMPLETE, name, f"{name}: " + "; ".join(left))
        self.registry.deregister(name)
        versions = ", ".join(sorted(set(stopped))) or "registry entry only"
        return UndeployResult(UndeployOutcome.REMOVED, name, UNDEPLOYED.format(name=name, versions=versions))

    def running(self) -> list[Instance]:
        """The actual set: active instances that are alive, on this backend and on the others."""
        here = [i for i in self.records.all() if i.active and self.runtime.is_alive(i)]
        return here + [i for i in self.records.active_elsewhere() if self._alive_elsewhere(i)]

    def _alive_elsewhere(self, instance: Instance) -> bool:
        try:
            return self.runtime_for(instance.backend).is_alive(instance)
        except BackendUnavailable:
            return True  # cannot be checked: counted as running, so it is not started twice

    def strays(self) -> list[Instance]:
        """Instances the runtime sees that no record knows (e.g. after the state database was lost)."""
        known = {i.handle for i in self.records.all()}
        return [i for i in self.runtime.discover() if i.handle not in known]

    def recover(self) -> list[Recovery]:
        """After a bot restart: adopt live instances, restart dead ones, clean up half-done switches.

        Each service is looked at under its deploy lock, with its records read again inside it, so a deploy
        still running in another worker process is waited for, never mistaken for a half-done one. Dead
        instances are restarted after the lock is released: a restart is a deploy, which takes it itself."""
        actions: list[Recovery] = []
        dead: list[Instance] = []
        for name in sorted({instance.name for instance in self.records.all()}):
            with service_lock(self._locks, name):
                for instance in (i for i in self.records.all() if i.name == name):
                    if not instance.active:
                        # A candidate or predecessor left behind by a switch that was interrupted.
                        self._discard(instance)
                        actions.append(Recovery(RecoveryAction.CLEANED, instance.name, instance.version, ""))
                    elif self._answers(instance):
                        self._claim_registry(instance)
                        self._record_replicas(instance, wait=self.config.adopt_timeout)
                        actions.append(
                            Recovery(RecoveryAction.ADOPTED, instance.name, instance.version, instance.url)
                        )
                    else:
                        if self.runtime.is_alive(instance):  # running but hung: stopped, then started again
                            log.warning(HUNG, instance.name, instance.version, instance.url)
                            self.runtime.stop(instance)
                        dead.append(instance)
        return actions + [self._restart(instance) for instance in dead]

    def _answers(self, instance: Instance) -> bool:
        """Alive is not enough to adopt: a process that is dying, or hung, would be kept serving nothing."""
        if not self.runtime.is_alive(instance):
            return False
        health = wait_healthy(
            instance.url + instance.health_path,
            timeout=self.config.adopt_timeout,
            is_alive=lambda: self.runtime.is_alive(instance),
        )
        return health.ok

    def _claim_registry(self, instance: Instance) -> None:
        """A switch cut short can leave the registry naming another version: the live instance wins."""
        entry = self.registry.get(instance.name)
        if entry is not None and entry.version == instance.version and entry.status is not ServiceStatus.GONE:
            return
        self.registry.announce(
            name=instance.name,
            version=instance.version,
            url=instance.url,
            health_path=instance.health_path,
            provenance=self._provenance(instance),
        )
        self.registry.activate(instance.name, instance.version)

    def _provenance(self, instance: Instance) -> Provenance:
        versions = self.registry.versions(instance.name)
        return next((e.provenance for e in versions if e.version == instance.version), Provenance())

    def _restart(self, instance: Instance) -> Recovery:
        provenance = self._provenance(instance)
        result = self.deploy(DeployRequest(instance.service_dir, instance.version, provenance))
        action = RecoveryAction.RESTARTED if result.ok else RecoveryAction.FAILED
        return Recovery(action, instance.name, instance.version, result.url or result.message)


def _version(instance: Instance | None) -> str | None:
    return instance.version if instance is not None else None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if "\n" not in text else text.splitlines()[0] + " ..."
