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


class Replica(BaseModel):
    """One running copy of the serving version on an engine that runs several (a Swarm task)."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    slot: int = 0
    node: str = ""
    state: str = ""
    address: str = ""  # on the engine's own network (not what callers use: that is the entry's url)


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
    replicas: tuple[Replica, ...] = ()
    """The copies serving this version, as its deployer last saw them (empty: one process or container)."""


class RegistrationOutcome(StrEnum):
    CREATED = "created"  # a version the registry did not know
    UPDATED = "updated"  # a version it knew: its URL, health path and heartbeat are the ones just sent
    REFUSED = "refused"  # a version that was deregistered: only a deploy brings it back


class Registration(BaseModel):
    """What a registration did: the stored entry of that version, and whether it serves the name."""

    model_config = ConfigDict(frozen=True)

    outcome: RegistrationOutcome
    entry: RegistryEntry
    serving: RegistryEntry | None
    """The version that answers for the name now (this one, another, or None)."""

    @property
    def serves(self) -> bool:
        return self.serving is not None and self.serving.version == self.entry.version


class RegisterAnswer(RegistryEntry):
    """The answer to `POST /services/register` (201 created, 200 updated): the entry as stored, and what
    happened to it."""

    outcome: RegistrationOutcome
    serving: bool
    """This version answers for the name now (false: another one does, until a deployer switches)."""
    detail: str


class DeregisterAnswer(BaseModel):
    """The answer to `DELETE /services/{name}` (200): the entries deregistered, as they were before."""

    model_config = ConfigDict(frozen=True)

    name: str
    deregistered: list[RegistryEntry]
    detail: str


class RegisterRequest(BaseModel):
    """`POST /services/register`, sent by a generated service at start-up. Unknown fields are refused (422),
    not dropped: a misspelt field would otherwise be answered 200 and never stored."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=SERVICE_NAME_PATTERN)
    version: str = Field(min_length=1, max_length=200)
    url: str = Field(pattern=r"^https?://", max_length=2000)
    health_path: str = Field(default="/health", pattern=r"^/", max_length=500)


class HeartbeatRequest(BaseModel):
    """`POST /services/{name}/heartbeat`."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=200)
