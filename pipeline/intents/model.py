"""The intent model: what a committed `intents/<service>.yaml` may say, and its JSON Schema."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from pipeline.intents.datasources import DataSources, Reports, check_data_sources
from pipeline.intents.hint_checks import check_hints
from pipeline.intents.hints import EndpointHint, ResourceHint, raise_problems
from pipeline.intents.stagehints import Implements, StageHints

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

# Names a service may not take: they collide with the line's own routes, hosts or well-known system names.
RESERVED_SERVICE_NAMES = frozenset(
    {
        "admin",
        "api",
        "default",
        "health",
        "intentops",
        "intents",
        "kube-system",
        "localhost",
        "metrics",
        "none",
        "null",
        "root",
        "services",
        "webhook",
        "www",
    }
)

SCHEMA_ID = "https://intentops.dev/schemas/intent.schema.json"
MAX_REPLICAS = 10
ONE_SQLITE_WRITER = (
    "storage sqlite has one writer: it runs as one replica (ask for replicas: 1, or use storage: memory)"
)


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Higher runs first in the job queue."""
        return {"low": 0, "normal": 1, "high": 2, "critical": 3}[self.value]


class Storage(StrEnum):
    MEMORY = "memory"
    SQLITE = "sqlite"


def check_service_name(value: str) -> str:
    """Return `value` if it is a usable service name, else raise ValueError saying why."""
    if len(value) > 63:
        raise ValueError(f"must be at most 63 characters (it has {len(value)})")
    if any(ch in value for ch in "/\\.") or value in {"", ".", ".."}:
        raise ValueError("must not contain path characters ('/', '\\', '.')")
    if value != value.lower():
        raise ValueError("must be lowercase")
    if not DNS_LABEL.match(value):
        raise ValueError(
            "must be a DNS label: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    if value in RESERVED_SERVICE_NAMES:
        raise ValueError(f"'{value}' is reserved; choose another name")
    return value


ServiceName = Annotated[
    StrictStr, Field(description="DNS-label-safe name; also the file name and branch name.")
]
Text = Annotated[StrictStr, StringConstraints(strip_whitespace=True, max_length=4000)]


class _Strict(BaseModel):
    # Types are strict where YAML could mislead ('2' is not a number, 'yes' is not a boolean); enums accept
    # their text values.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Intent(_Strict):
    """One intent: a request to the line for a service."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"$id": SCHEMA_ID, "title": "IntentOps intent"},
    )

    service_name: ServiceName
    purpose: Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=3, max_length=4000)] = (
        Field(description="What the service is for, in a sentence or a paragraph.")
    )
    priority: Priority = Priority.NORMAL
    tier: StrictInt = Field(default=2, ge=0, le=3, description="0 = core of the line, 3 = experimental.")
    auto_build: StrictBool = Field(default=True, description="Build as soon as governance allows.")
    blueprint_context: Text = Field(default="", description="Which blueprint goal this serves, and how.")
    storage: Storage = Field(default=Storage.MEMORY, description="Where the service keeps its resources.")
    replicas: StrictInt = Field(
        default=1,
        ge=1,
        le=MAX_REPLICAS,
        description="How many copies run at once where the backend runs several (Docker Swarm, the "
        "Kubernetes manifests); the SPEC's deployment.replicas. SQLite storage: 1.",
    )
    resources: list[ResourceHint] = Field(default_factory=list)
    endpoints: list[EndpointHint] = Field(default_factory=list)
    dependencies: list[StrictStr] = Field(
        default_factory=list, description="Names of services this one calls."
    )
    # The line's own data this service reads, and what each endpoint reports from it
    # (pipeline.intents.datasources).
    data_sources: DataSources = Field(default_factory=list)
    reports: Reports = Field(default_factory=list)
    # A new version of one of the line's own stages (pipeline.intents.stagehints). Last: their validators
    # read the fields above.
    implements: Implements = None
    stage_hints: StageHints = None

    @field_validator("service_name")
    @classmethod
    def _service_name(cls, value: str) -> str:
        return check_service_name(value)

    @field_validator("dependencies")
    @classmethod
    def _dependencies(cls, value: list[str]) -> list[str]:
        for name in value:
            if not DNS_LABEL.match(name):
                raise ValueError(f"'{name}' is not a service name (a DNS label)")
        if len(set(value)) != len(value):
            raise ValueError("lists a service more than once")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Intent:
        problems = check_hints(self.resources, self.endpoints)
        if self.service_name in self.dependencies:
            problems.append((("dependencies",), "a service cannot depend on itself"))
        if self.storage is Storage.SQLITE and self.replicas > 1:
            problems.append((("replicas",), ONE_SQLITE_WRITER))
        others = {
            "resources": bool(self.resources),
            "endpoints": bool(self.endpoints),
            "implements": self.implements is not None,
        }
        problems.extend(check_data_sources(self.data_sources, self.reports, others=others))
        raise_problems("Intent", problems)
        return self

    def has_structured_hints(self) -> bool:
        return bool(self.resources or self.endpoints or self.reports)

    def reads_line_data(self) -> bool:
        """It declares a data source of the line's own (its code reads it; the deployer wires it)."""
        return bool(self.data_sources)

    def rule_variables(self) -> dict[str, Any]:
        """The intent's fields as plain JSON values, the way policy rules see them."""
        return self.model_dump(mode="json")


def intent_json_schema() -> dict[str, Any]:
    schema = Intent.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["properties"]["service_name"]["pattern"] = DNS_LABEL.pattern
    schema["properties"]["service_name"]["maxLength"] = 63
    return schema
