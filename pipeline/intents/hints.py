"""The intent's structured hints: what offline generation builds without a model.

A resource (`resources:`) gets create, list, read, change and delete endpoints, may belong to another
(`belongs_to`: a nested list and referential checks) and may start with rows (`seed`). An endpoint
(`endpoints:`) says what it does with one of five kinds: `query`, `aggregate`, `action`, `redirect` or
`respond`. An endpoint with none of them and no resource is free text that only a model can implement.

Each class here checks what it can see alone; `pipeline.intents.hint_checks` checks what needs the whole
intent (a query names a declared resource, a condition's value fits its field's type, ...). Problems carry
their place in the file (`resources.1.seed.0.title`), so the loader reports them at their line and column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PARAM = re.compile(r"\{([A-Za-z][A-Za-z0-9_-]*)\}")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+|\{[A-Za-z][A-Za-z0-9_-]*\}")
NOW = re.compile(r"^now(?:(?P<sign>[+-])(?P<amount>\d{1,6})(?P<unit>[smhdw]))?$")
"""`now`, or `now` shifted: `now-7d`, `now+2h` (s, m, h, d, w)."""

# Field names a resource may not use: the generated code owns them.
RESERVED_FIELD_NAMES = frozenset({"id", "created_at", "updated_at"})
RESERVED_PATHS = frozenset(
    {"/health", "/metrics", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"}
)
"""Paths the generated application serves itself."""
MAX_LIMIT = 1000
DEFAULT_QUERY_LIMIT = 100
MAX_SEED_ROWS = 200
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
HINT_KINDS = ("query", "aggregate", "action", "redirect", "respond")
READ_KINDS = frozenset({"query", "aggregate", "redirect", "respond"})


def _one_scalar(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """One plain error for a value that is no scalar (not one per type it is not), and no NaN or infinity
    (JSON has neither)."""
    try:
        result = handler(value)
    except ValidationError:
        raise ValueError(
            f"expected a value (text, a number, true/false or null), got {_kind(value)}"
        ) from None
    if isinstance(result, float) and not math.isfinite(result):
        raise ValueError(f"expected a finite number, got {result}")
    return result


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else "a mapping" if isinstance(value, dict) else repr(value)


Scalar = Annotated[StrictStr | StrictInt | StrictFloat | StrictBool | None, WrapValidator(_one_scalar)]


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    URL = "url"
    """Text that must be an absolute http(s) URL (what a redirect may send a client to)."""


class HttpMethod(StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"


class Op(StrEnum):
    """How a condition compares a field with its value."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    CONTAINS = "contains"


class Aggregate(StrEnum):
    COUNT = "count"
    SUM = "sum"
    MIN = "min"
    MAX = "max"


class OnDelete(StrEnum):
    RESTRICT = "restrict"
    """Deleting a parent that still has children answers 409."""
    CASCADE = "cascade"
    """Deleting a parent deletes its children."""


ORDERED_TYPES = frozenset({FieldType.INTEGER, FieldType.NUMBER, FieldType.DATETIME, FieldType.STRING})
NUMERIC_TYPES = frozenset({FieldType.INTEGER, FieldType.NUMBER})
PARAM_TYPES = frozenset({FieldType.STRING, FieldType.INTEGER, FieldType.NUMBER, FieldType.BOOLEAN})
"""Field types a path parameter can stand for (a URL or a date-time does not fit in one path segment)."""
TEXT_TYPES = frozenset({FieldType.STRING, FieldType.URL})

Problem = tuple[tuple[str | int, ...], str]
"""Where in the intent (a pydantic location) and what is wrong."""


def plural(name: str) -> str:
    """The collection name of a resource: 'task' -> 'tasks', 'entry' -> 'entries'."""
    if re.search(r"[^aeiou]y$", name):
        return name[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", name):
        return name + "es"
    return name + "s"


def path_params(path: str) -> list[str]:
    return PARAM.findall(path)


def raise_problems(title: str, problems: list[Problem]) -> None:
    """Raise every problem at once as a ValidationError located at its field (nested models prefix it)."""
    if not problems:
        return
    details = [
        InitErrorDetails(
            type=PydanticCustomError("hint", "{message}", {"message": message}), loc=loc, input=None
        )
        for loc, message in problems
    ]
    raise ValidationError.from_exception_data(title, details)


class _Strict(BaseModel):
    # Types are strict where YAML could mislead ('2' is not a number, 'yes' is not a boolean); enums accept
    # their text values.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _identifier(value: str, what: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(
            f"{what} must be a lowercase identifier (letters, digits, '_'; starting with a letter)"
        )
    return value


# -- resources ---------------------------------------------------------------------------------------------


class RelationHint(_Strict):
    """This resource belongs to `resource`: it gets a `<resource>_id` field, checked against it."""

    resource: StrictStr = Field(description="The parent resource, e.g. 'notebook'.")
    on_delete: OnDelete = Field(
        default=OnDelete.RESTRICT,
        description="restrict: deleting a parent with children answers 409; cascade: deletes them too.",
    )

    @property
    def field(self) -> str:
        return f"{self.resource}_id"


class ResourceHint(_Strict):
    """A REST resource the service manages, with typed fields (CRUD endpoints are generated for it)."""

    name: StrictStr = Field(description="Singular identifier, e.g. 'greeting'.")
    fields: dict[StrictStr, FieldType] = Field(min_length=1, description="Field name to type.")
    required: list[StrictStr] = Field(default_factory=list, description="Fields a create request must give.")
    belongs_to: list[RelationHint] = Field(
        default_factory=list,
        description="Parent resources ('notebook', or {resource: notebook, on_delete: cascade}): a "
        "<parent>_id field, a nested list GET /<parents>/{id}/<children>, and referential checks.",
    )
    seed: list[dict[StrictStr, Scalar]] = Field(
        default_factory=list,
        max_length=MAX_SEED_ROWS,
        description="Rows the service starts with (ids 1, 2, ... in this order) when its storage is new.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _identifier(value, "the name")

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, FieldType]) -> dict[str, FieldType]:
        for key in value:
            if not IDENTIFIER.match(key):
                raise ValueError(f"field name '{key}' must be a lowercase identifier")
            if key in RESERVED_FIELD_NAMES:
                raise ValueError(f"field name '{key}' is reserved (the service adds it itself)")
        return value

    @field_validator("belongs_to", mode="before", json_schema_input_type=str | list[str | RelationHint])
    @classmethod
    def _relations(cls, value: Any) -> Any:
        """`belongs_to: notebook` is short for `belongs_to: [{resource: notebook}]`."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            return value
        return [{"resource": item} if isinstance(item, str) else item for item in items]

    @model_validator(mode="after")
    def _own_checks(self) -> ResourceHint:
        problems: list[Problem] = []
        unknown = [name for name in self.required if name not in self.fields]
        if unknown:
            problems.append((("required",), f"names fields that do not exist: {', '.join(unknown)}"))
        parents = [relation.resource for relation in self.belongs_to]
        for index, relation in enumerate(self.belongs_to):
            where: tuple[str | int, ...] = ("belongs_to", index, "resource")
            if relation.resource == self.name:
                problems.append((where, "a resource cannot belong to itself"))
            elif relation.field in self.fields:
                problems.append(
                    (where, f"the relation adds the field '{relation.field}'; remove it from fields")
                )
            elif parents.index(relation.resource) != index:
                problems.append((where, f"'{relation.resource}' is named twice"))
        raise_problems("ResourceHint", problems)
        return self

    def all_fields(self) -> dict[str, FieldType]:
        """The fields the service stores: the declared ones and one `<parent>_id` per relation."""
        return {**self.fields, **{relation.field: FieldType.INTEGER for relation in self.belongs_to}}

    def all_required(self) -> list[str]:
        return [*self.required, *(relation.field for relation in self.belongs_to)]


# -- what an endpoint does ---------------------------------------------------------------------------------


class Comparison(_Strict):
    """`{lt: now}`, `{ne: true}`, `{gte: 3, lt: 10}`: each operator compared with its value."""

    eq: Scalar = None
    ne: Scalar = None
    lt: Scalar = None
    lte: Scalar = None
    gt: Scalar = None
    gte: Scalar = None
    contains: StrictStr | None = None

    @model_validator(mode="after")
    def _some(self) -> Comparison:
        if not self.model_fields_set:
            raise ValueError("give at least one of eq, ne, lt, lte, gt, gte, contains")
        return self

    def pairs(self) -> list[tuple[Op, Any]]:
        return [(Op(name), getattr(self, name)) for name in Op if name.value in self.model_fields_set]


def _condition(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """A mapping is a comparison, anything else the value to equal: each checked as what it is."""
    if isinstance(value, dict | Comparison):
        return Comparison.model_validate(value)
    return _SCALAR.validate_python(value)


Condition = Annotated[
    Scalar | Comparison,
    WrapValidator(_condition),
    Field(
        description="A value the field must equal, or {op: value} with op one of eq, ne, lt, lte, gt, "
        "gte, contains. Values: of the field's type; 'now' (or 'now-7d', 'now+2h') for a date-time; "
        "'{param}' for a path parameter."
    ),
]
_SCALAR: TypeAdapter[Any] = TypeAdapter(Scalar)
Where = Annotated[dict[StrictStr, Condition], Field(description="Field -> condition; all must hold.")]


def conditions(where: Mapping[str, Any]) -> Iterator[tuple[str, Op, Any]]:
    """(field, operator, value) for every condition of a `where` mapping."""
    for name, condition in where.items():
        if isinstance(condition, Comparison):
            for op, value in condition.pairs():
                yield name, op, value
        else:
            yield name, Op.EQ, condition


class QueryHint(_Strict):
    """The rows of a resource that meet every condition, sorted, a page at a time (or the first one)."""

    resource: StrictStr
    where: Where = Field(default_factory=dict)
    order: list[StrictStr] = Field(
        default_factory=list, description="Fields to sort by; '-due' sorts descending. Ties: by id."
    )
    limit: StrictInt = Field(
        default=DEFAULT_QUERY_LIMIT, ge=1, le=MAX_LIMIT, description="The most rows one page holds."
    )
    single: StrictBool = Field(default=False, description="Answer the first row (404 when none), not a list.")

    @field_validator("order", mode="before", json_schema_input_type=str | list[str])
    @classmethod
    def _one_order(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class AggregateHint(_Strict):
    """A count, sum, minimum or maximum over the rows that meet the conditions, optionally per group."""

    resource: StrictStr
    function: Aggregate = Aggregate.COUNT
    field: StrictStr | None = Field(default=None, description="The field summed or compared (not for count).")
    group_by: StrictStr | None = Field(default=None, description="One result per value of this field.")
    where: Where = Field(default_factory=dict)

    @model_validator(mode="after")
    def _field_given(self) -> AggregateHint:
        if self.function is not Aggregate.COUNT and self.field is None:
            raise_problems("AggregateHint", [(("field",), f"{self.function.value} needs a field")])
        if self.function is Aggregate.COUNT and self.field is not None:
            raise_problems("AggregateHint", [(("field",), "count counts rows; it takes no field")])
        return self


class ActionHint(_Strict):
    """Change one row found by the path's parameter: set fields, add to counters."""

    resource: StrictStr
    lookup: StrictStr = Field(default="id", description="The field the path parameter matches.")
    set: dict[StrictStr, Scalar] = Field(
        default_factory=dict, description="Field -> new value (a literal, null, or 'now' for a date-time)."
    )
    increment: dict[StrictStr, StrictInt | StrictFloat] = Field(
        default_factory=dict, description="Numeric field -> amount added on each call."
    )

    @model_validator(mode="after")
    def _changes_something(self) -> ActionHint:
        if not self.set and not self.increment:
            raise ValueError("an action must set or increment at least one field")
        both = sorted(set(self.set) & set(self.increment))
        if both:
            raise_problems("ActionHint", [(("increment", both[0]), "is also set; give it one change")])
        return self


class RedirectHint(_Strict):
    """Redirect to the URL stored in a row found by the path's parameter."""

    resource: StrictStr
    lookup: StrictStr = Field(default="id", description="The field the path parameter matches.")
    to: StrictStr = Field(description="The field (of type url) holding where to send the client.")
    status: Literal[301, 302, 303, 307, 308] = Field(default=302, description="The redirect's status code.")
    increment: dict[StrictStr, StrictInt] = Field(
        default_factory=dict, description="Integer field -> amount added on each redirect (count a hit)."
    )


class EndpointHint(_Strict):
    """An endpoint beyond the generated CRUD ones, and what it does."""

    method: HttpMethod
    path: StrictStr = Field(description="Starts with '/'; '{param}' segments allowed.")
    summary: Annotated[StrictStr, StringConstraints(strip_whitespace=True, max_length=4000)] = ""
    resource: StrictStr | None = Field(
        default=None,
        description="Without a kind: the resource it lists (GET), reads (GET /{id}), creates (POST) or "
        "deletes (DELETE /{id}).",
    )
    query: QueryHint | None = None
    aggregate: AggregateHint | None = None
    action: ActionHint | None = None
    redirect: RedirectHint | None = None
    respond: JsonValue = Field(
        default=None, description="A fixed JSON answer (a greeting, a list of languages)."
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if ".." in value:
            raise ValueError("must not contain '..'")
        segments = value.split("/")
        if not value.startswith("/") or not all(_SEGMENT.fullmatch(s) for s in segments[1:] if value != "/"):
            raise ValueError(
                "must start with '/' and hold only letters, digits, '-', '_' and whole '{param}' segments"
            )
        params = path_params(value)
        if len(set(params)) != len(params):
            raise ValueError("names a path parameter twice")
        return value

    @field_validator("respond")
    @classmethod
    def _finite(cls, value: JsonValue) -> JsonValue:
        if _has_non_finite(value):
            raise ValueError("JSON has no NaN or infinity; give a finite number")
        return value

    @model_validator(mode="after")
    def _kind(self) -> EndpointHint:
        kinds = self.kinds()
        if len(kinds) > 1:
            raise_problems(
                "EndpointHint",
                [((kinds[1],), f"give one of {', '.join(HINT_KINDS)}, not {' and '.join(kinds)}")],
            )
        if "respond" in self.model_fields_set and self.respond is None:
            raise_problems(
                "EndpointHint", [(("respond",), "give the JSON to answer with (null is no answer)")]
            )
        if kinds:
            raise_problems("EndpointHint", _method_and_params(self, kinds[0]))
        return self

    def kinds(self) -> list[str]:
        return [
            kind for kind in HINT_KINDS if kind in self.model_fields_set and getattr(self, kind) is not None
        ]

    @property
    def kind(self) -> str | None:
        """query, aggregate, action, redirect, respond; None for free text (or a legacy resource hint)."""
        kinds = self.kinds()
        return kinds[0] if kinds else None

    @property
    def behaviour(self) -> QueryHint | AggregateHint | ActionHint | RedirectHint | None:
        return self.query or self.aggregate or self.action or self.redirect


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_has_non_finite(item) for item in value)
    if isinstance(value, dict):
        return any(_has_non_finite(item) for item in value.values())
    return False


def _method_and_params(hint: EndpointHint, kind: str) -> list[Problem]:
    params = path_params(hint.path)
    if kind in READ_KINDS and hint.method is not HttpMethod.GET:
        return [(("method",), f"a {kind} endpoint answers GET (it changes nothing), not {hint.method.value}")]
    if kind == "action" and hint.method not in {HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH}:
        return [(("method",), f"an action changes a row: POST, PUT or PATCH, not {hint.method.value}")]
    if kind in {"action", "redirect"} and len(params) != 1:
        return [
            (
                ("path",),
                f"a {kind} finds its row by one path parameter (like /links/{{code}}); "
                f"this path has {len(params)}",
            )
        ]
    if kind == "respond" and params:
        return [(("path",), "a fixed answer takes no path parameters")]
    return []
