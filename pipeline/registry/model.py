"""The registry's vocabulary: entry statuses, provenance and the JSON bodies of its HTTP contract."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# What a service name may be (the intent's DNS-label rule), checked again at the registry's edge.
SERVICE_NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


class ServiceStatus(StrEnum):
    STARTING = "starting"  # a deployer announced it; the service has not registered or passed a check yet
    HEALTHY = "healthy"  # registered, heartbeats arriving within the TTL
    UNHEALTHY = "unhealthy"  # no heartbeat within the TTL
    GONE = "gone"  # undeployed or deregistered


class Provenance(BaseModel):
    """Where a running version came from: what the deployer knows, never sent by the service itself."""

    model_config = ConfigDict(frozen=True)

    intent_path: str = ""
    spec_hash: str = ""
    commit_sha: str = ""
    pr_number: int | None = None
    approvers: tuple[str, ...] = ()
    image_digest: str = ""


class RegistryEntry(BaseModel):
    """One service as the registry reports it: the version that currently serves its name."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    url: str
    health_path: str
    status: ServiceStatus
    registered_at: datetime
    last_heartbeat: datetime | None
    provenance: Provenance


class RegisterRequest(BaseModel):
    """`POST /services/register`, sent by a generated service at start-up."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(pattern=SERVICE_NAME_PATTERN)
    version: str = Field(min_length=1, max_length=200)
    url: str = Field(pattern=r"^https?://", max_length=2000)
    health_path: str = Field(default="/health", pattern=r"^/", max_length=500)


class HeartbeatRequest(BaseModel):
    """`POST /services/{name}/heartbeat`."""

    model_config = ConfigDict(extra="ignore")

    version: str = Field(min_length=1, max_length=200)
