"""The Docker Swarm runtime: each version is a Swarm service of its own, with the intent's replicas, a
health check in the task spec, the tokens as Swarm secrets, and a loopback gateway the line calls it by.

Blue/green stays the line's (pipeline.deploy.deployer): the new version's service starts beside the old
one, the line checks it through its gateway, switches the registry, drains and removes the old service.
Swarm does the rest within a version: it starts the replicas, sends them traffic only once their own health
check passes (an unhealthy task leaves the service's DNS and is replaced), restarts failed tasks, and an
in-place update (an operator's `docker service update`) goes start-first, gated by that health check, and
rolls back by itself when it fails.

Nothing is published through Swarm's ingress (it listens on every interface, and needs IPVS): the service
is reachable on its installation's overlay network only, in DNS round-robin mode; a small gateway container
on that network, published on 127.0.0.1 only, relays each connection to one healthy task
(pipeline/deploy/swarm_gateway.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.types import (
    EndpointSpec,
    Healthcheck,
    Mount,
    Resources,
    RestartPolicy,
    RollbackConfig,
    SecretReference,
    ServiceMode,
    UpdateConfig,
)

from pipeline.codegen.generator import SERVICE_UID
from pipeline.deploy.bridge import bridge_gateway
from pipeline.deploy.docker import (
    CONTAINER_DATA_DIR,
    HOST_ALIAS,
    LABEL_INTENT,
    LABEL_OWNER,
    LABEL_SERVICE,
    LABEL_VERSION,
    SWARM_TASK_LABEL,
    DockerRuntime,
    ImageBuildError,
    container_registry_url,
)
from pipeline.deploy.kubernetes import KubeService, from_service_dir
from pipeline.deploy.local import LOOPBACK, free_port
from pipeline.deploy.model import Artifact, Backend, Instance, LaunchPlan
from pipeline.history.access import ENV_HISTORY_TOKEN, ENV_HISTORY_URL
from pipeline.manifest import (
    ENV_DATA_DIR,
    ENV_HOST,
    ENV_PORT,
    ENV_REGISTRY_TOKEN,
    ENV_REGISTRY_URL,
    ENV_STAGE_TOKEN,
    ServiceManifest,
)
from pipeline.registry.model import Replica
from pipeline.spec.model import Storage

LABEL_ROLE = "intentops.role"  # on gateways: which Swarm service they front
LABEL_SWARM_NAME = "intentops.swarm-service"
ROLE_GATEWAY = "swarm-gateway"
GATEWAY_PORT = 8080
GATEWAY_SCRIPT = Path(__file__).with_name("swarm_gateway.py")
NOBODY = "65534:65534"
SECRETS_DIR = "/run/secrets"
FILE_SUFFIX = "_FILE"
# Never plain environment values in a service spec (anyone who can inspect it would read them): these go in
# as Swarm secrets, mounted at /run/secrets/<name>, and the service is told the file (<VARIABLE>_FILE).
SECRET_VARIABLES = (ENV_REGISTRY_TOKEN, ENV_STAGE_TOKEN, ENV_HISTORY_TOKEN)
NAME_PREFIX_CHARS = 30
NAME_HASH_CHARS = 12
SECONDS = 1_000_000_000  # the engine counts durations in nanoseconds
RUNNING = "running"
GAVE_UP = ("failed", "rejected")  # task states Swarm replaces
DEAD_AFTER_FAILED_TASKS = 4  # this many failed or rejected tasks, none running: the version will not come up
TASK_ERROR = "swarm: task {slot}: {error}"
SECRET_REMOVAL_SECONDS = 10.0
POLL_SECONDS = 0.2
STOP_MARGIN_SECONDS = 5.0
PUSH_FAILED = "could not push {reference} for the swarm's nodes: {error}"
NOT_A_SWARM = (
    "this Docker engine is not a Swarm manager (state: {state}); run `docker swarm init "
    "--advertise-addr 127.0.0.1` or `scripts/docker.sh swarm`"
)


class SwarmUnavailable(DockerException):
    """The engine answers but is not a manager of an active swarm."""


@dataclass(frozen=True)
class SwarmOptions:
    """How versions run on the swarm (the same for every service)."""

    health_interval: float = 2.0  # the task spec's health check: also how soon a new task can serve
    health_retries: int = 3
    update_monitor: float = 10.0  # an in-place update watches each new task this long before going on
    stop_grace: float = 10.0
    gateway_memory: str = "64m"
    # A registry every node pulls from, e.g. registry.example.com/team: each image is pushed there as
    # <prefix>/<name>:<sha> before its service starts. Empty: the local `<name>:<sha>` (one node only).
    image_prefix: str = ""


def swarm_name(owner: str, name: str, version: str, port: int) -> str:
    """The Swarm service's name: readable, unique per installation, version and start, at most 43 chars (a
    secret's name adds at most 15 to it, within Swarm's 64)."""
    digest = hashlib.sha256(f"{owner}\0{name}\0{version}\0{port}".encode()).hexdigest()[:NAME_HASH_CHARS]
    return f"{name[:NAME_PREFIX_CHARS].rstrip('-')}-{digest}"


def secret_file(variable: str) -> str:
    return variable.lower()


def ensure_swarm(client: docker.DockerClient) -> None:
    """Raise SwarmUnavailable unless this engine manages an active swarm."""
    info = client.info().get("Swarm") or {}
    state = str(info.get("LocalNodeState", "inactive"))
    if state != "active" or not info.get("ControlAvailable"):
        raise SwarmUnavailable(NOT_A_SWARM.format(state=state))


class SwarmRuntime:
    """Starts, checks and removes one Swarm service (and its gateway and secrets) per version."""

    backend = Backend.SWARM

    def __init__(
        self,
        images: DockerRuntime,
        *,
        gateway_image: str,
        options: SwarmOptions | None = None,
        host_address: str | None = None,
    ) -> None:
        self._images = images  # builds and prunes `<name>:<sha>` exactly as the Docker backend does
        self._client = images.client
        self._owner = images.owner
        self._gateway_image = gateway_image
        self._options = options or SwarmOptions()
        # Where tasks reach the host (the registry): the Docker bridge's gateway, which bridge.py listens on.
        self._host_address = host_address if host_address is not None else bridge_gateway()

    @property
    def client(self) -> docker.DockerClient:
        return self._client

    @property
    def owner(self) -> str:
        return self._owner

    @property
    def network_name(self) -> str:
        return f"intentops-{self._owner}"

    def prepare(self, service_dir: Path, manifest: ServiceManifest, version: str) -> Artifact:
        artifact = self._images.prepare(service_dir, manifest, version)
        prefix = self._options.image_prefix.strip("/")
        if not prefix:
            return artifact
        repository = f"{prefix}/{manifest.name}"
        reference = f"{repository}:{version}"
        try:
            self._client.images.get(artifact.reference).tag(repository, tag=version)
            for line in self._client.api.push(repository, tag=version, stream=True, decode=True):
                if "error" in line:
                    raise ImageBuildError(PUSH_FAILED.format(reference=reference, error=line["error"]))
        except DockerException as exc:
            raise ImageBuildError(PUSH_FAILED.format(reference=reference, error=exc)) from None
        return Artifact(reference=reference, digest=artifact.digest)

    def allocate_port(self) -> int:
        return free_port()

    def start(self, plan: LaunchPlan, port: int) -> Instance:
        name = swarm_name(self._owner, plan.name, plan.version, port)
        shape = from_service_dir(plan.service_dir, tag=plan.version)  # replicas, CPU, memory, storage
        network = self._network()
        labels = self._labels(plan, name)
        try:
            environment, secrets = self._secrets(self._environment(plan), name, labels)
            service = self._create_service(plan, shape, name, network, labels, environment, secrets)
        except DockerException:  # nothing of this start is left behind
            self._remove_secrets(name)
            raise
        try:
            self._start_gateway(plan, name, network, labels, port)
        except DockerException:
            self._remove(name, service.id)
            raise
        return plan.started(self.backend, handle=str(service.id), port=port, image=plan.artifact.reference)

    def _labels(self, plan: LaunchPlan, name: str) -> dict[str, str]:
        return {
            LABEL_SERVICE: plan.name,
            LABEL_VERSION: plan.version,
            LABEL_INTENT: plan.intent_path,
            LABEL_OWNER: self._owner,
            LABEL_SWARM_NAME: name,
        }

    def _environment(self, plan: LaunchPlan) -> dict[str, str]:
        environment = {
            **plan.environment,
            ENV_HOST: "0.0.0.0",
            ENV_PORT: str(plan.container_port),
            ENV_DATA_DIR: CONTAINER_DATA_DIR,
        }
        for loopback in (ENV_REGISTRY_URL, ENV_HISTORY_URL):  # the line's own address, seen from a task
            if environment.get(loopback):
                environment[loopback] = container_registry_url(environment[loopback])
        return environment

    def _secrets(
        self, environment: dict[str, str], name: str, labels: dict[str, str]
    ) -> tuple[dict[str, str], list[SecretReference]]:
        """Move the tokens out of the environment into Swarm secrets of this service (removed with it)."""
        remaining = dict(environment)
        references: list[SecretReference] = []
        for variable in SECRET_VARIABLES:
            value = remaining.pop(variable, "")
            if not value:
                continue
            secret_name = f"{name}-{variable.lower().replace('_', '-')}"
            secret = self._client.secrets.create(name=secret_name, data=value.encode(), labels=labels)
            filename = secret_file(variable)
            references.append(
                SecretReference(
                    str(secret.id), secret_name, filename=filename, uid=str(SERVICE_UID), gid="0", mode=0o440
                )
            )
            remaining[variable + FILE_SUFFIX] = f"{SECRETS_DIR}/{filename}"
        return remaining, references

    def _create_service(
        self,
        plan: LaunchPlan,
        shape: KubeService,
        name: str,
        network: str,
        labels: dict[str, str],
        environment: dict[str, str],
        secrets: list[SecretReference],
    ) -> Any:
        # SQLite has one writer: one task, whatever the intent asks (the intent refuses more up front).
        replicas = 1 if shape.storage == Storage.SQLITE.value else shape.replicas
        options = self._options
        return self._client.services.create(
            plan.artifact.reference,
            name=name,
            labels=labels,
            container_labels=labels,
            env=[f"{key}={value}" for key, value in environment.items()],
            mode=ServiceMode("replicated", replicas=replicas),
            networks=[network],
            endpoint_spec=EndpointSpec(mode="dnsrr"),  # no VIP, no ingress: nothing published
            healthcheck=self._healthcheck(plan),
            hosts={HOST_ALIAS: self._host_address} if self._host_address else None,
            secrets=secrets,
            mounts=[
                Mount(CONTAINER_DATA_DIR, self._images.volume_name(plan.name), type="volume"),
                Mount("/tmp", None, type="tmpfs", tmpfs_size=16 * 1024 * 1024),
            ],
            read_only=True,
            resources=Resources(cpu_limit=int(shape.cpu * SECONDS), mem_limit=shape.memory_mb * 1024 * 1024),
            restart_policy=RestartPolicy(condition="any", delay=SECONDS),
            update_config=UpdateConfig(
                parallelism=1,
                order="start-first",
                failure_action="rollback",
                monitor=int(options.update_monitor * SECONDS),
            ),
            rollback_config=RollbackConfig(parallelism=1, order="start-first", failure_action="pause"),
            stop_grace_period=int(options.stop_grace * SECONDS),
        )

    def _healthcheck(self, plan: LaunchPlan) -> Healthcheck:
        url = f"http://127.0.0.1:{plan.container_port}{plan.health_path}"
        probe = f"import urllib.request; urllib.request.urlopen({url!r}, timeout=2)"
        interval = int(self._options.health_interval * SECONDS)
        return Healthcheck(
            test=["CMD", "python3", "-c", probe],
            interval=interval,
            timeout=2 * SECONDS,
            retries=self._options.health_retries,
            start_period=0,
        )

    def _start_gateway(
        self, plan: LaunchPlan, name: str, network: str, labels: dict[str, str], port: int
    ) -> Any:
        script = GATEWAY_SCRIPT.read_text(encoding="utf-8")
        return self._client.containers.run(
            self._gateway_image,
            ["python3", "-c", script, name, str(plan.container_port), str(GATEWAY_PORT)],
            detach=True,
            name=f"{name}-gateway",
            labels=_gateway_labels(labels),
            network=network,
            ports={f"{GATEWAY_PORT}/tcp": (LOOPBACK, port)},
            user=NOBODY,
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=self._options.gateway_memory,
            restart_policy={"Name": "unless-stopped"},
        )

    def _network(self) -> str:
        """This installation's attachable overlay network, created once."""
        name = self.network_name
        if not self._client.networks.list(names=[name]):
            try:
                self._client.networks.create(
                    name, driver="overlay", attachable=True, labels={LABEL_OWNER: self._owner}
                )
            except APIError as exc:  # another process created it meanwhile
                if not self._client.networks.list(names=[name]):
                    raise exc from None
        return name

    def _service(self, handle: str) -> Any | None:
        try:
            return self._client.services.get(handle)
        except NotFound:
            return None

    def _gateway(self, name: str) -> Any | None:
        try:
            return self._client.containers.get(f"{name}-gateway")
        except NotFound:
            return None

    def is_alive(self, instance: Instance) -> bool:
        """Its service and gateway exist, and its tasks have not all kept failing (a crash at start, an image
        a node cannot find): Swarm would go on replacing them, but none will serve."""
        service = self._service(instance.handle)
        if service is None:
            return False
        gateway = self._gateway(str(service.name))
        if gateway is None or str(gateway.status) != RUNNING:
            return False
        states = [str(task.get("Status", {}).get("State", "")) for task in service.tasks()]
        gave_up = sum(state in GAVE_UP for state in states)
        return RUNNING in states or gave_up < DEAD_AFTER_FAILED_TASKS

    def stop(self, instance: Instance) -> None:
        service = self._service(instance.handle)
        name = str(service.name) if service is not None else self._name_of(instance)
        self._remove(name, instance.handle)

    def _name_of(self, instance: Instance) -> str:
        port = instance.port
        return swarm_name(self._owner, instance.name, instance.version, port)

    def _remove(self, name: str, handle: str) -> None:
        """Remove the gateway, the service and its secrets; whatever is already gone is skipped."""
        gateway = self._gateway(name)
        if gateway is not None:
            gateway.remove(force=True)
        service = self._service(handle)
        if service is not None:
            with contextlib.suppress(NotFound):
                service.remove()
        self._remove_secrets(name)
        self._wait_stopped(handle)

    def _wait_stopped(self, handle: str) -> None:
        """Swarm stops a removed service's tasks in the background: wait for them here (on this node), so
        stopped means stopped, as with the other backends."""
        filters = {"label": f"{SWARM_TASK_LABEL}={handle}"}
        deadline = time.monotonic() + self._options.stop_grace + STOP_MARGIN_SECONDS
        while self._client.containers.list(filters=filters) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)

    def _remove_secrets(self, name: str) -> None:
        mine = [f"{LABEL_OWNER}={self._owner}", f"{LABEL_SWARM_NAME}={name}"]
        deadline = time.monotonic() + SECRET_REMOVAL_SECONDS
        for secret in self._client.secrets.list(filters={"label": mine}):
            while True:
                try:
                    secret.remove()
                    break
                except NotFound:
                    break
                except APIError:  # still referenced while the service goes away: wait for it
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(POLL_SECONDS)

    def discover(self) -> list[Instance]:
        services = self._client.services.list(
            filters={"label": [LABEL_SERVICE, f"{LABEL_OWNER}={self._owner}"]}
        )
        return [self._as_instance(service) for service in services]

    def _as_instance(self, service: Any) -> Instance:
        labels = service.attrs.get("Spec", {}).get("Labels") or {}
        image = (
            service.attrs.get("Spec", {}).get("TaskTemplate", {}).get("ContainerSpec", {}).get("Image", "")
        )
        return Instance.discovered(
            Backend.SWARM, labels=labels, handle=str(service.id), image=str(image).split("@")[0]
        )

    def log_tail(self, instance: Instance, lines: int) -> str:
        service = self._service(instance.handle)
        if service is None:
            return ""
        try:
            text = b"".join(_bytes(service.logs(stdout=True, stderr=True, tail=lines)))
        except DockerException:
            text = b""
        # Swarm streams no logs of tasks still `starting` (a health check never passed): read the containers
        # of this node then, the newest first.
        if not text.strip():
            text = self._local_logs(instance.handle, lines)
        return (text.decode("utf-8", errors="replace") + self._task_errors(service)).strip("\n")

    @staticmethod
    def _task_errors(service: Any) -> str:
        """What Swarm said about tasks that failed or were rejected (e.g. `No such image` on a node)."""
        errors = []
        for task in service.tasks():
            status = task.get("Status", {})
            if status.get("State") in GAVE_UP and status.get("Err"):
                errors.append(TASK_ERROR.format(slot=task.get("Slot", "?"), error=status["Err"]))
        return "".join(f"\n{line}" for line in dict.fromkeys(errors))

    def _local_logs(self, handle: str, lines: int) -> bytes:
        filters = {"label": f"{SWARM_TASK_LABEL}={handle}"}
        containers = self._client.containers.list(all=True, filters=filters)
        containers.sort(key=lambda c: str(c.attrs.get("Created", "")), reverse=True)
        for container in containers:
            try:
                raw = bytes(container.logs(tail=lines))
            except DockerException:
                continue
            if raw.strip():
                return raw
        return b""

    def replicas(self, instance: Instance, *, wait: float = 0.0) -> list[Replica]:
        """The service's tasks that should run, with their node, state and overlay address; waits up to
        `wait` seconds for all of them to be running."""
        deadline = time.monotonic() + wait
        while True:
            service = self._service(instance.handle)
            if service is None:
                return []
            wanted = int(service.attrs["Spec"].get("Mode", {}).get("Replicated", {}).get("Replicas", 1))
            tasks = [self._replica(task) for task in service.tasks(filters={"desired-state": RUNNING})]
            running = [task for task in tasks if task.state == RUNNING]
            if len(running) >= wanted or time.monotonic() >= deadline:
                return sorted(tasks, key=lambda r: r.slot)
            time.sleep(POLL_SECONDS)

    def _replica(self, task: dict[str, Any]) -> Replica:
        network = self.network_name
        addresses = [
            address.split("/")[0]
            for attachment in task.get("NetworksAttachments") or []
            if attachment.get("Network", {}).get("Spec", {}).get("Name") == network
            for address in attachment.get("Addresses") or []
        ]
        return Replica(
            task_id=str(task["ID"]),
            slot=int(task.get("Slot") or 0),
            node=self._node_name(str(task.get("NodeID", ""))),
            state=str(task.get("Status", {}).get("State", "")),
            address=addresses[0] if addresses else "",
        )

    def _node_name(self, node_id: str) -> str:
        try:
            node = self._client.nodes.get(node_id)
        except (NotFound, APIError):
            return node_id
        return str(node.attrs.get("Description", {}).get("Hostname") or node_id)


def _gateway_labels(labels: dict[str, str]) -> dict[str, str]:
    """Without `intentops.service`, which marks the Docker backend's containers: its discovery, reconcile
    and cost sampling must not take a gateway for one of theirs."""
    return {**{k: v for k, v in labels.items() if k != LABEL_SERVICE}, LABEL_ROLE: ROLE_GATEWAY}


def _bytes(chunks: Any) -> Iterator[bytes]:
    if isinstance(chunks, bytes | bytearray):
        yield bytes(chunks)
        return
    for chunk in chunks:
        yield bytes(chunk)
