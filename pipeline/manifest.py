"""The contract between code generation and deployment: a generated service's folder and manifest.

A generated service lives in `services/<name>/`:

    service.yaml        this manifest
    app/main.py         the FastAPI application object `app` (entrypoint `app.main:app`)
    tests/              its tests (pytest), generated from the SPEC's acceptance criteria
    requirements.txt    pinned, installable offline from the wheelhouse
    Dockerfile          installs from the wheelhouse; no network during the build
    SPEC.md, spec.json  the SPEC and its structured form
    README.md

At run time the service reads these environment variables (deployers set them):
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from ruamel.yaml import YAML

MANIFEST_FILE = "service.yaml"

# Environment variables a generated service understands.
ENV_PORT = "PORT"  # port to listen on (127.0.0.1 for local processes, 0.0.0.0 inside a container)
ENV_HOST = "HOST"
ENV_REGISTRY_URL = "REGISTRY_URL"  # if set, register on start-up and send heartbeats
ENV_REGISTRY_TOKEN = "REGISTRY_TOKEN"  # bearer token for the registry
ENV_SERVICE_URL = "SERVICE_URL"  # the URL callers should use (what is registered)
ENV_SERVICE_VERSION = "SERVICE_VERSION"  # e.g. the merge commit SHA
ENV_DATA_DIR = "DATA_DIR"  # where SQLite storage lives
ENV_HEARTBEAT_SECONDS = "HEARTBEAT_SECONDS"
ENV_STAGE_TOKEN = "STAGE_TOKEN"  # a stage service only: the bearer token the line sends it

STAGE_FILE = "app/stage.json"
"""Present in a stage service (`pipeline.factory.stageservice`): its stage, contract version and hints."""


class ServiceManifest(BaseModel):
    """`service.yaml`: what a deployer needs to know to run a generated service."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str = Field(description="Version of the generated code (the spec hash until a commit is known).")
    port: int = Field(default=8080, ge=1, le=65535, description="Port inside a container.")
    health_path: str = "/health"
    entrypoint: str = "app.main:app"
    spec_hash: str = ""
    intent_path: str = ""
    storage: str = "memory"

    @classmethod
    def load(cls, service_dir: Path) -> ServiceManifest:
        data = YAML(typ="safe", pure=True).load((service_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        return cls.model_validate(data)

    def dump(self, service_dir: Path) -> Path:
        path = service_dir / MANIFEST_FILE
        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False
        with path.open("w", encoding="utf-8") as handle:
            yaml.dump(self.model_dump(mode="json"), handle)
        return path
