"""Kubernetes manifests for a merged service, the GitOps way: Argo CD or Flux applies what the line writes.

For each service the line renders a Deployment, a Service, a PersistentVolumeClaim for its data (the
Docker backend keeps `/data` on a named volume; here it is a claim) and a kustomization listing them
(`pipeline.deploy.gitops` writes them to a folder). Nothing here talks to a cluster.

The pod runs the image the line built (`<name>:<merge sha>`, behind an optional registry prefix) as the
generated Dockerfile's unprivileged user, with a read-only root filesystem, no privilege escalation and
every capability dropped; readiness and liveness probes ask the service's health path; CPU and memory come
from the SPEC's deployment section. The registry's URL and token, the stage token and the history reader
token are references to Secrets the cluster's operator creates: no secret value is ever in a manifest.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from pipeline.codegen.generator import SERVICE_UID
from pipeline.history.access import ENV_HISTORY_TOKEN, ENV_HISTORY_URL, declared_sources
from pipeline.intents import Intent
from pipeline.intents.model import check_service_name
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
    STAGE_FILE,
    ServiceManifest,
)
from pipeline.spec.model import Deployment, Storage
from pipeline.spec.render import SPEC_JSON

DEPLOYMENT_FILE = "deployment.yaml"
SERVICE_FILE = "service.yaml"
CLAIM_FILE = "persistentvolumeclaim.yaml"
KUSTOMIZATION_FILE = "kustomization.yaml"
RESOURCE_FILES = (DEPLOYMENT_FILE, SERVICE_FILE, CLAIM_FILE)
MANIFEST_FILES = (*RESOURCE_FILES, KUSTOMIZATION_FILE)

# The Secrets the cluster's operator creates (kubectl create secret generic ...); the manifests name them.
REGISTRY_SECRET = "intentops-registry"
REGISTRY_URL_KEY = "url"
REGISTRY_TOKEN_KEY = "token"
STAGE_SECRET = "intentops-stage"
STAGE_TOKEN_KEY = "token"
HISTORY_SECRET = "intentops-history"
HISTORY_URL_KEY = "url"
HISTORY_TOKEN_KEY = "token"

LABEL_NAME = "app.kubernetes.io/name"
LABEL_VERSION = "app.kubernetes.io/version"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "intentops"
ANNOTATION_INTENT = "intentops.dev/intent"
ANNOTATION_COMMIT = "intentops.dev/commit"

DATA_MOUNT = "/data"
TMP_MOUNT = "/tmp"
TMP_SIZE = "16Mi"
SERVICE_PORT = 80
HEARTBEAT_SECONDS = 10
LABEL_VALUE_MAX = 63


@dataclass(frozen=True)
class ManifestOptions:
    """How the manifests are written for a cluster (settings, the same for every service)."""

    namespace: str = ""  # set in the kustomization; empty: the namespace Argo CD or Flux applies into
    image_prefix: str = ""  # e.g. registry.example.com/team: the image is <prefix>/<name>:<tag>
    storage_size: str = "1Gi"


@dataclass(frozen=True)
class KubeService:
    """What the manifests say about one service, from its generated folder or, not yet built, its intent."""

    name: str
    tag: str
    port: int = 8080
    health_path: str = "/health"
    cpu: float = 0.5
    memory_mb: int = 256
    replicas: int = 1
    storage: str = Storage.MEMORY.value
    stage: bool = False  # a stage service: answers the line's stage token
    reads_history: bool = False  # declares the line's history: gets the read API's address and token
    intent_path: str = ""


def from_service_dir(service_dir: Path, *, tag: str = "") -> KubeService:
    """The service generated in `service_dir` (service.yaml, spec.json); `tag` defaults to its version."""
    manifest = ServiceManifest.load(service_dir)
    deployment = _spec_deployment(service_dir)
    return KubeService(
        name=check_service_name(manifest.name),
        tag=tag or manifest.version,
        port=manifest.port,
        health_path=manifest.health_path,
        cpu=deployment.cpu,
        memory_mb=deployment.memory_mb,
        replicas=deployment.replicas,
        storage=manifest.storage,
        stage=(service_dir / STAGE_FILE).is_file(),
        reads_history="line-history" in declared_sources(service_dir),
        intent_path=manifest.intent_path,
    )


def _spec_deployment(service_dir: Path) -> Deployment:
    path = service_dir / SPEC_JSON
    if not path.is_file():
        return Deployment()
    data = json.loads(path.read_text(encoding="utf-8")).get("deployment") or {}
    return Deployment.model_validate(data)


def from_intent(intent: Intent, *, tag: str, intent_path: str = "") -> KubeService:
    """An intent not built yet: the SPEC's default deployment numbers, its storage, stage and sources."""
    defaults = Deployment()
    return KubeService(
        name=intent.service_name,
        tag=tag,
        port=defaults.port,
        health_path=defaults.health_path,
        cpu=defaults.cpu,
        memory_mb=defaults.memory_mb,
        replicas=intent.replicas,
        storage=intent.storage.value,
        stage=intent.implements is not None,
        reads_history="line-history" in [str(source) for source in intent.data_sources],
        intent_path=intent_path,
    )


def image_of(service: KubeService, options: ManifestOptions) -> str:
    prefix = options.image_prefix.strip("/")
    return f"{prefix}/{service.name}:{service.tag}" if prefix else f"{service.name}:{service.tag}"


def manifest_documents(service: KubeService, options: ManifestOptions) -> dict[str, dict[str, Any]]:
    """Each file's Kubernetes object, by file name (the kustomization last)."""
    documents = {
        DEPLOYMENT_FILE: _deployment(service, options),
        SERVICE_FILE: _service(service),
        CLAIM_FILE: _claim(service, options),
    }
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
    }
    if options.namespace:
        kustomization["namespace"] = options.namespace
    kustomization["resources"] = list(RESOURCE_FILES)
    documents[KUSTOMIZATION_FILE] = kustomization
    return documents


def render_manifests(service: KubeService, options: ManifestOptions) -> dict[str, str]:
    """Each file's YAML text, by file name."""
    return {name: _dump(document) for name, document in manifest_documents(service, options).items()}


def _labels(service: KubeService) -> dict[str, str]:
    return {
        LABEL_NAME: service.name,
        LABEL_VERSION: _label_value(service.tag),
        LABEL_MANAGED_BY: MANAGED_BY,
    }


def _label_value(value: str) -> str:
    """A label value: at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in value)[:LABEL_VALUE_MAX]
    return cleaned.strip("-_.")


def _metadata(service: KubeService, name: str) -> dict[str, Any]:
    annotations = {ANNOTATION_COMMIT: service.tag}
    if service.intent_path:
        annotations[ANNOTATION_INTENT] = service.intent_path
    return {"name": name, "labels": _labels(service), "annotations": annotations}


def _deployment(service: KubeService, options: ManifestOptions) -> dict[str, Any]:
    sqlite = service.storage == Storage.SQLITE.value
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(service, service.name),
        "spec": {
            # SQLite has one writer: the old pod stops before the new one opens the same data.
            "replicas": 1 if sqlite else service.replicas,
            "strategy": {"type": "Recreate"} if sqlite else {"type": "RollingUpdate"},
            "selector": {"matchLabels": {LABEL_NAME: service.name}},
            "template": {
                "metadata": {"labels": _labels(service)},
                "spec": _pod(service, options),
            },
        },
    }


def _pod(service: KubeService, options: ManifestOptions) -> dict[str, Any]:
    return {
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": SERVICE_UID,
            "runAsGroup": SERVICE_UID,
            "fsGroup": SERVICE_UID,  # the claim is writable by the service's user
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(service, options)],
        "volumes": [
            {"name": "data", "persistentVolumeClaim": {"claimName": _claim_name(service)}},
            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": TMP_SIZE}},
        ],
    }


def _container(service: KubeService, options: ManifestOptions) -> dict[str, Any]:
    return {
        "name": service.name,
        "image": image_of(service, options),
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": service.port, "protocol": "TCP"}],
        "env": _environment(service, options),
        "readinessProbe": {
            **_probe(service),
            "periodSeconds": 5,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            **_probe(service),
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "timeoutSeconds": 3,
            "failureThreshold": 3,
        },
        "resources": _resources(service),
        "securityContext": {
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "data", "mountPath": DATA_MOUNT},
            {"name": "tmp", "mountPath": TMP_MOUNT},
        ],
    }


def _probe(service: KubeService) -> dict[str, Any]:
    return {"httpGet": {"path": service.health_path, "port": "http"}}


def _resources(service: KubeService) -> dict[str, Any]:
    cpu = f"{max(1, round(service.cpu * 1000))}m"
    memory = f"{service.memory_mb}Mi"
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}


def _environment(service: KubeService, options: ManifestOptions) -> list[dict[str, Any]]:
    address = f"{service.name}.{options.namespace}.svc" if options.namespace else service.name
    environment: list[dict[str, Any]] = [
        {"name": ENV_HOST, "value": "0.0.0.0"},
        {"name": ENV_PORT, "value": str(service.port)},
        {"name": ENV_DATA_DIR, "value": DATA_MOUNT},
        {"name": ENV_SERVICE_URL, "value": f"http://{address}:{SERVICE_PORT}"},
        {"name": ENV_SERVICE_VERSION, "value": service.tag},
        {"name": ENV_HEARTBEAT_SECONDS, "value": str(HEARTBEAT_SECONDS)},
        _secret_env(ENV_REGISTRY_URL, REGISTRY_SECRET, REGISTRY_URL_KEY),
        _secret_env(ENV_REGISTRY_TOKEN, REGISTRY_SECRET, REGISTRY_TOKEN_KEY),
    ]
    if service.stage:
        environment.append(_secret_env(ENV_STAGE_TOKEN, STAGE_SECRET, STAGE_TOKEN_KEY))
    if service.reads_history:
        environment.append(_secret_env(ENV_HISTORY_URL, HISTORY_SECRET, HISTORY_URL_KEY))
        environment.append(_secret_env(ENV_HISTORY_TOKEN, HISTORY_SECRET, HISTORY_TOKEN_KEY))
    return environment


def _secret_env(variable: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _service(service: KubeService) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(service, service.name),
        "spec": {
            "type": "ClusterIP",
            "selector": {LABEL_NAME: service.name},
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _claim_name(service: KubeService) -> str:
    return f"{service.name}-data"


def _claim(service: KubeService, options: ManifestOptions) -> dict[str, Any]:
    # The claim keeps no version label: it outlives versions, as the Docker backend's volume does.
    metadata = _metadata(service, _claim_name(service))
    metadata["labels"] = {LABEL_NAME: service.name, LABEL_MANAGED_BY: MANAGED_BY}
    metadata["annotations"] = {k: v for k, v in metadata["annotations"].items() if k != ANNOTATION_COMMIT}
    if not metadata["annotations"]:
        del metadata["annotations"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata,
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": options.storage_size}},
        },
    }


def _dump(document: dict[str, Any]) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.representer.ignore_aliases = lambda *_: True  # plain YAML for every reader: no &anchors
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()
