"""The structured SPEC: the input of code generation, rendered to SPEC.md for people."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pipeline.intents import FieldType, HttpMethod, Storage

SPEC_FORMAT_VERSION = "1"
NEEDS_CLARIFICATION = "[NEEDS CLARIFICATION]"
MAX_OPEN_QUESTIONS = 3
CRUD_OPERATIONS = frozenset({"create", "list", "get", "update", "delete"})
OPERATIONS = CRUD_OPERATIONS | {"custom", "health", "metrics"}
"""What code generation implements; anything else cannot be generated."""
MISSING_CHECKS = frozenset({"get_missing", "update_missing", "delete_missing", "custom_missing"})
CHECKS = MISSING_CHECKS | {
    "create_ok",
    "create_missing_required",
    "create_wrong_type",
    "create_too_large",
    "list_ok",
    "get_ok",
    "update_ok",
    "delete_ok",
    "custom_ok",
    "persist",
    "health_ok",
    "metrics_ok",
    "registers",
    "registry_down",
}
"""The scenarios the test generator writes; an empty check means the endpoint operation's default."""


class NfrCategory(StrEnum):
    LATENCY = "latency"
    AVAILABILITY = "availability"
    LIMITS = "limits"
    THROUGHPUT = "throughput"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Overview(_Model):
    goal: str
    scope: list[str] = Field(default_factory=list)
    out_of_scope: list[str] = Field(default_factory=list)


class BlueprintTrace(_Model):
    requirement: str = Field(description="An FR id, e.g. FR-001.")
    goal: str = Field(description="The blueprint goal it serves.")


class FunctionalRequirement(_Model):
    id: str = Field(description="FR-001, FR-002, ...")
    statement: str = Field(description="A MUST statement.")


class ErrorCase(_Model):
    status: int = Field(ge=400, le=599)
    when: str


class SchemaField(_Model):
    name: str
    type: FieldType
    required: bool = False


class Endpoint(_Model):
    id: str = Field(description="EP-001, EP-002, ...")
    method: HttpMethod
    path: str
    summary: str
    resource: str | None = None
    operation: str = Field(
        default="custom", description="create, list, get, update, delete, or custom for logic beyond CRUD."
    )
    request: list[SchemaField] = Field(default_factory=list)
    response: str = Field(description="What a successful call returns.")
    success_status: int = Field(default=200, ge=200, le=299)
    errors: list[ErrorCase] = Field(default_factory=list)


class Entity(_Model):
    name: str
    fields: list[SchemaField]


class DataModel(_Model):
    storage: Storage = Storage.MEMORY
    entities: list[Entity] = Field(default_factory=list)


class AcceptanceCriterion(_Model):
    id: str = Field(description="AC-001, AC-002, ...")
    requirement: str = Field(description="The FR it verifies.")
    endpoint: str = Field(description="The endpoint id it exercises.")
    given: str
    when: str
    then: str
    check: str = Field(default="", description="Machine-readable scenario name used by the test generator.")


class NonFunctional(_Model):
    id: str = Field(description="NFR-001, ...")
    category: NfrCategory
    statement: str
    target: float | None = Field(default=None, description="The number the statement commits to.")
    unit: str = ""


class Deployment(_Model):
    port: int = Field(default=8080, ge=1, le=65535)
    health_path: str = "/health"
    cpu: float = Field(default=0.5, gt=0)
    memory_mb: int = Field(default=256, gt=0)
    replicas: int = Field(default=1, ge=1)


class Spec(_Model):
    """Everything a SPEC says, section by section."""

    format_version: str = SPEC_FORMAT_VERSION
    service_name: str
    title: str
    intent_path: str = ""
    overview: Overview
    blueprint_trace: list[BlueprintTrace] = Field(default_factory=list)
    functional_requirements: list[FunctionalRequirement] = Field(default_factory=list)
    endpoints: list[Endpoint] = Field(default_factory=list)
    data_model: DataModel = Field(default_factory=DataModel)
    acceptance_criteria: list[AcceptanceCriterion] = Field(default_factory=list)
    non_functional: list[NonFunctional] = Field(default_factory=list)
    security: list[str] = Field(default_factory=list)
    observability: list[str] = Field(default_factory=list)
    deployment: Deployment = Field(default_factory=Deployment)
    dependencies: list[str] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def content_hash(self) -> str:
        """A stable hash of the spec's content: the version of the code generated from it."""
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def entity(self, name: str) -> Entity | None:
        return next((e for e in self.data_model.entities if e.name == name), None)


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec (the tool input a model must produce)."""
    return Spec.model_json_schema()
