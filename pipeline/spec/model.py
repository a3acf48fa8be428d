"""The structured SPEC: the input of code generation, rendered to SPEC.md for people."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from pipeline.intents import Aggregate, FieldType, HttpMethod, OnDelete, Op, Storage

SPEC_FORMAT_VERSION = "1"
NEEDS_CLARIFICATION = "[NEEDS CLARIFICATION]"
MAX_OPEN_QUESTIONS = 3
CRUD_OPERATIONS = frozenset({"create", "list", "get", "update", "delete"})
BEHAVIOUR_OPERATIONS = frozenset({"query", "aggregate", "action", "redirect", "static", "related"})
"""Operations whose endpoint carries a `behaviour` the templates implement (what its hint said)."""
OPERATIONS = CRUD_OPERATIONS | BEHAVIOUR_OPERATIONS | {"custom", "health", "metrics"}
"""What code generation implements ('custom': logic only a model writes); nothing else can be generated."""
MISSING_CHECKS = frozenset(
    {
        "get_missing",
        "update_missing",
        "delete_missing",
        "custom_missing",
        "query_missing",
        "action_missing",
        "redirect_missing",
        "related_missing",
    }
)
CHECKS_BY_OPERATION: dict[str, frozenset[str]] = {
    "create": frozenset(
        {
            "create_ok",
            "create_missing_required",
            "create_wrong_type",
            "create_too_large",
            "create_bad_url",
            "relation_refused",
        }
    ),
    "list": frozenset({"list_ok", "seeded"}),
    "get": frozenset({"get_ok", "get_missing", "persist"}),
    "update": frozenset({"update_ok", "update_missing"}),
    "delete": frozenset({"delete_ok", "delete_missing", "relation_delete"}),
    "query": frozenset({"query_ok", "query_page", "query_missing"}),
    "aggregate": frozenset({"aggregate_ok"}),
    "action": frozenset({"action_ok", "action_missing"}),
    "redirect": frozenset({"redirect_ok", "redirect_missing"}),
    "static": frozenset({"static_ok"}),
    "related": frozenset({"related_ok", "related_missing"}),
    "custom": frozenset({"custom_ok", "custom_missing"}),
    "health": frozenset({"health_ok", "registers", "registry_down"}),
    "metrics": frozenset({"metrics_ok"}),
}
"""The scenarios the test generator writes for each operation: a criterion's check must be one of its
endpoint's, or no test could verify its requirement."""
CHECKS = frozenset().union(*CHECKS_BY_OPERATION.values())
"""The scenarios the test generator writes; an empty check means the endpoint operation's default."""
DEFAULT_CHECK = {
    "create": "create_ok",
    "list": "list_ok",
    "get": "get_ok",
    "update": "update_ok",
    "delete": "delete_ok",
    "query": "query_ok",
    "aggregate": "aggregate_ok",
    "action": "action_ok",
    "redirect": "redirect_ok",
    "static": "static_ok",
    "related": "related_ok",
    "custom": "custom_ok",
    "health": "health_ok",
    "metrics": "metrics_ok",
}


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


Scalar = str | int | float | bool | None


class Condition(_Model):
    """`field op value`; the value is a literal, the time of the request (`now`, shifted by `value`:
    '-7d', '+2h', '' for none) or a path parameter (named by `value`)."""

    field: str
    op: Op = Op.EQ
    value: Scalar = None
    source: Literal["value", "now", "param"] = "value"


class SortKey(_Model):
    field: str
    descending: bool = False


class Assignment(_Model):
    """Set `field` to `value`, or (source `now`) to the time of the request."""

    field: str
    value: Scalar = None
    source: Literal["value", "now"] = "value"


class Increment(_Model):
    field: str
    by: int | float = 1


class QueryBehaviour(_Model):
    kind: Literal["query"] = "query"
    where: list[Condition] = Field(default_factory=list)
    order: list[SortKey] = Field(default_factory=list)
    limit: int = Field(default=100, ge=1, le=1000, description="The most rows one page holds.")
    single: bool = Field(default=False, description="The first matching row (404 when none), not a list.")


class AggregateBehaviour(_Model):
    kind: Literal["aggregate"] = "aggregate"
    function: Aggregate = Aggregate.COUNT
    field: str | None = None
    group_by: str | None = None
    where: list[Condition] = Field(default_factory=list)


class ActionBehaviour(_Model):
    kind: Literal["action"] = "action"
    lookup: str = "id"
    set: list[Assignment] = Field(default_factory=list)
    increment: list[Increment] = Field(default_factory=list)


class RedirectBehaviour(_Model):
    kind: Literal["redirect"] = "redirect"
    lookup: str = "id"
    to: str = Field(description="The field (of type url) holding the target.")
    status: Literal[301, 302, 303, 307, 308] = 302
    increment: list[Increment] = Field(default_factory=list)


class StaticBehaviour(_Model):
    kind: Literal["static"] = "static"
    body: JsonValue = Field(description="The JSON answered, as given.")


class RelatedBehaviour(_Model):
    """The children of one parent row: `GET /<parents>/{id}/<children>`."""

    kind: Literal["related"] = "related"
    parent: str
    field: str = Field(description="The child's field holding the parent's id.")


Behaviour = Annotated[
    QueryBehaviour
    | AggregateBehaviour
    | ActionBehaviour
    | RedirectBehaviour
    | StaticBehaviour
    | RelatedBehaviour,
    Field(discriminator="kind"),
]


class Endpoint(_Model):
    id: str = Field(description="EP-001, EP-002, ...")
    method: HttpMethod
    path: str
    summary: str
    resource: str | None = None
    operation: str = Field(
        default="custom",
        description="create, list, get, update, delete; query, aggregate, action, redirect, static, related "
        "(with the behaviour that says what); or custom for logic only a model writes.",
    )
    behaviour: Behaviour | None = None
    request: list[SchemaField] = Field(default_factory=list)
    response: str = Field(description="What a successful call returns.")
    success_status: int = Field(default=200, ge=200, le=399)
    errors: list[ErrorCase] = Field(default_factory=list)


class Relation(_Model):
    parent: str
    field: str
    on_delete: OnDelete = OnDelete.RESTRICT


class Entity(_Model):
    name: str
    fields: list[SchemaField]
    relations: list[Relation] = Field(default_factory=list)
    seed: list[dict[str, Scalar]] = Field(
        default_factory=list, description="Rows a new storage starts with (ids 1, 2, ... in order)."
    )

    def field(self, name: str) -> SchemaField | None:
        return next((f for f in self.fields if f.name == name), None)


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
    logic: Literal["templates", "model", "stage"] = Field(
        default="templates",
        description="Who writes what the templates cannot: 'templates' (offline: then every endpoint must "
        "have an operation the templates implement), 'model', or 'stage' (a stage service: the line's own "
        "stage, from its stage kit, answers its contract endpoint).",
    )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def content_hash(self) -> str:
        """A stable hash of the spec's content: the version of the code generated from it."""
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def entity(self, name: str) -> Entity | None:
        return next((e for e in self.data_model.entities if e.name == name), None)

    def endpoint(self, ident: str) -> Endpoint | None:
        return next((ep for ep in self.endpoints if ep.id == ident), None)

    def check_of(self, criterion: AcceptanceCriterion) -> str:
        """The scenario a criterion's test runs: its own check, or its endpoint's default one."""
        endpoint = self.endpoint(criterion.endpoint)
        return criterion.check or DEFAULT_CHECK.get(endpoint.operation if endpoint else "", "custom_ok")

    def test_name(self, criterion: AcceptanceCriterion) -> str:
        """The name of the generated test of a criterion (tests/test_acceptance.py)."""
        return acceptance_test_name(criterion.id, self.check_of(criterion))

    def traceability(self) -> list[Trace]:
        """Each requirement with the endpoints and the generated tests that verify it."""
        rows = []
        for fr in self.functional_requirements:
            criteria = [ac for ac in self.acceptance_criteria if ac.requirement == fr.id]
            endpoints = list(dict.fromkeys(ac.endpoint for ac in criteria))
            rows.append(Trace(fr.id, tuple(endpoints), tuple(self.test_name(ac) for ac in criteria)))
        return rows


@dataclass(frozen=True)
class Trace:
    """A requirement with the endpoints and generated tests that verify it."""

    requirement: str
    endpoints: tuple[str, ...]
    tests: tuple[str, ...]


def acceptance_test_name(criterion_id: str, check: str) -> str:
    """test_ac_001_create_ok: a Python name from a criterion id and its check."""
    return re.sub(r"[^a-z0-9_]+", "_", f"test_{criterion_id}_{check}".lower()).strip("_")


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec (the tool input a model must produce)."""
    return Spec.model_json_schema()
