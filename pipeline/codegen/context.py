"""From a Spec to the plain values the service templates render: names, signatures, test scenarios."""

from __future__ import annotations

import keyword
import re
import textwrap
from typing import Any

from pydantic import BaseModel

from pipeline.codegen import plans, scenarios
from pipeline.intents import FieldType, HttpMethod
from pipeline.spec.model import (
    AcceptanceCriterion,
    Endpoint,
    Entity,
    QueryBehaviour,
    RedirectBehaviour,
    RelatedBehaviour,
    Spec,
)

PY_TYPES = {
    FieldType.STRING: "str",
    FieldType.URL: "str",
    FieldType.INTEGER: "int",
    FieldType.NUMBER: "float",
    FieldType.BOOLEAN: "bool",
    FieldType.DATETIME: "datetime",
}
REQUEST_TYPES = {
    FieldType.STRING: "Text",
    FieldType.URL: "HttpUrlText",
    FieldType.INTEGER: "Int64",
    FieldType.NUMBER: "Finite",
    FieldType.DATETIME: "IsoDatetime",
}
"""Request bodies are validated strictly, within what storage and JSON can hold (app/models.py); a
date-time is the one type JSON can only send as text."""
SAMPLE = {
    FieldType.STRING: "sample {name}",
    FieldType.URL: "https://example.org/{name}",
    FieldType.INTEGER: 7,
    FieldType.NUMBER: 1.5,
    FieldType.BOOLEAN: True,
    FieldType.DATETIME: "2026-01-02T03:04:05Z",
}
CHANGED = {
    FieldType.STRING: "changed {name}",
    FieldType.URL: "https://example.com/changed-{name}",
    FieldType.INTEGER: 8,
    FieldType.NUMBER: 2.5,
    FieldType.BOOLEAN: False,
    FieldType.DATETIME: "2027-02-03T04:05:06Z",
}
WRONG = {
    FieldType.STRING: 12345,
    FieldType.URL: 12345,
    FieldType.INTEGER: "not-a-number",
    FieldType.NUMBER: "not-a-number",
    FieldType.BOOLEAN: "not-a-boolean",
    FieldType.DATETIME: "not-a-date",
}
COERCIBLE = {
    FieldType.INTEGER: "3",
    FieldType.NUMBER: "1.5",
    FieldType.BOOLEAN: "yes",
    FieldType.DATETIME: 1767323045,
}
"""Wrong JSON types a lax parser would quietly convert; the SPEC promises 422 for each."""
MISSING_ID = "999999"
CRUD = frozenset({"create", "list", "get", "update", "delete"})
_PARAM = re.compile(r"\{([^}]*)\}")
_MODEL_NAMES = frozenset(dir(BaseModel))


class CodegenError(ValueError):
    """The spec cannot be turned into code (the message names the spec item)."""


def identifier(text: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "value"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"p_{name}"
    return name


def docstring(text: str) -> str:
    """Text that is safe inside a triple-quoted docstring."""
    return text.replace(chr(92), "/").replace('"""', "'''").strip().rstrip('"')


def class_name(resource: str) -> str:
    return "".join(part.capitalize() for part in resource.split("_"))


def route_path(path: str) -> str:
    """Starlette path parameters must be identifiers; the URL callers use does not change."""
    return _PARAM.sub(lambda m: "{" + identifier(m[1]) + "}", path)


def path_params(path: str) -> list[str]:
    return [identifier(p) for p in _PARAM.findall(path)]


def url_expr(path: str, first: str | None = None, literal: str = "sample") -> str:
    """A Python expression for `path`: the first parameter set to the expression `first` (if given),
    the others to `literal`."""
    params = _PARAM.findall(path)
    text = path
    for index, param in enumerate(params):
        text = text.replace("{" + param + "}", "{" + first + "}" if index == 0 and first else literal, 1)
    return ("f" if first and params else "") + repr(text)


def attribute(name: str) -> str:
    """A Python attribute for a wire field name: keywords and pydantic's own names get a trailing '_'."""
    if keyword.iskeyword(name) or name in _MODEL_NAMES or name.startswith("model_"):
        return f"{name}_"
    return name


def entity_context(entity: Entity) -> dict[str, Any]:
    fields = []
    for f in entity.fields:
        attr = attribute(f.name)
        alias = f"alias={f.name!r}" if attr != f.name else ""
        fields.append(
            {
                "name": f.name,
                "attr": attr,
                "py": PY_TYPES[f.type],
                "request_py": REQUEST_TYPES.get(f.type, PY_TYPES[f.type]),
                "required": f.required,
                "required_default": f" = Field({alias})" if alias else "",
                "optional_default": f"Field(default=None, {alias})" if alias else "None",
            }
        )
    required = tuple(f["attr"] for f in fields if f["required"])
    return {
        "name": entity.name,
        "cls": class_name(entity.name),
        "fields": fields,
        "required_tuple": repr(required) if len(required) != 1 else f"({required[0]!r},)",
    }


def endpoint_context(endpoint: Endpoint, spec: Spec) -> dict[str, Any]:
    names = _PARAM.findall(endpoint.path)
    params = path_params(endpoint.path)
    operation = endpoint.operation
    if operation in RESOURCE_OPERATIONS and (
        endpoint.resource is None or spec.entity(endpoint.resource) is None
    ):
        raise CodegenError(f"{endpoint.id}: '{operation}' needs a resource of the data model")
    if operation in ID_OPERATIONS and len(params) != 1 and not (operation == "get" and params):
        raise CodegenError(f"{endpoint.id}: '{operation}' needs an id parameter in its path")
    cls = class_name(endpoint.resource) if endpoint.resource else ""
    behaviour = endpoint.behaviour
    return {
        "id": endpoint.id,
        "func": identifier(f"{endpoint.id}_{operation}_{endpoint.resource or endpoint.path}"),
        "operation": operation,
        "method": endpoint.method.value,
        "method_lower": endpoint.method.value.lower(),
        "path": endpoint.path,
        "route": route_path(endpoint.path),
        "resource": endpoint.resource or "",
        "cls": cls,
        "status": endpoint.success_status,
        "signature": ", ".join(_signature(endpoint, params, cls)),
        "id_param": f"p_{params[0]}" if params else "",
        "params_dict": ", ".join(f"{name!r}: p_{param}" for name, param in zip(names, params, strict=True)),
        "has_body": _has_body(endpoint),
        "responses": _responses(endpoint),
        "plan": plans.plan_name(endpoint) if plans.plan_literal(endpoint) is not None else "",
        "single": isinstance(behaviour, QueryBehaviour) and behaviour.single,
        "counts": isinstance(behaviour, RedirectBehaviour) and bool(behaviour.increment),
        "lookup": getattr(behaviour, "lookup", "id"),
        "target": behaviour.to if isinstance(behaviour, RedirectBehaviour) else "",
        "parent": behaviour.parent if isinstance(behaviour, RelatedBehaviour) else "",
        "link": behaviour.field if isinstance(behaviour, RelatedBehaviour) else "",
        "doc": docstring(f"{endpoint.id}: {endpoint.summary}"),
    }


RESOURCE_OPERATIONS = CRUD | {"query", "aggregate", "action", "redirect", "related"}
ID_OPERATIONS = frozenset({"get", "update", "delete", "action", "redirect", "related"})
STORAGE_OPERATIONS = RESOURCE_OPERATIONS
BEHAVIOUR_MODULE_OPERATIONS = RESOURCE_OPERATIONS - {"list"}
"""Operations whose handler calls app/behaviours.py (a create checks its parents)."""


def _has_body(endpoint: Endpoint) -> bool:
    return endpoint.operation == "custom" and endpoint.method in {
        HttpMethod.POST,
        HttpMethod.PUT,
        HttpMethod.PATCH,
    }


def _signature(endpoint: Endpoint, params: list[str], cls: str) -> list[str]:
    operation = endpoint.operation
    # The route's parameters are identifiers (route_path); the plan reads them by the SPEC's names.
    signature = [f"p_{p}: Annotated[str, Path(alias={p!r})]" for p in params]
    if operation == "create":
        signature.append(f"body: models.{cls}Create")
    elif operation == "update":
        signature.append(f"body: models.{cls}Update")
    elif _has_body(endpoint):
        signature.append("body: Annotated[dict[str, Any] | None, Body()] = None")
    if operation in STORAGE_OPERATIONS:
        signature.append("storage: StorageDep")
    behaviour = endpoint.behaviour
    if isinstance(behaviour, QueryBehaviour) and not behaviour.single:
        signature.append(f"limit: Annotated[int, Query(ge=1, le={behaviour.limit})] = {behaviour.limit}")
        signature.append("offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0")
    return signature


def _responses(endpoint: Endpoint) -> str:
    """`, responses={...}`: the SPEC's error cases, so the OpenAPI documents every status it answers."""
    documented: dict[int, str] = {}
    for error in endpoint.errors:
        if error.status != 405 and error.status not in documented:
            documented[error.status] = error.when
    if endpoint.operation == "custom":
        documented.setdefault(501, "no model has written this endpoint's logic yet")
    if endpoint.operation == "redirect":
        documented.setdefault(409, "the stored URL is not an absolute http(s) URL")
    if endpoint.operation in {"create", "update"}:
        documented.setdefault(413, "the body is too large")
    if not documented:
        return ""
    items = ", ".join(
        f"{status}: {{'description': {_literal(when)}}}" for status, when in sorted(documented.items())
    )
    return f", responses={{{items}}}"


def _literal(text: str, width: int = 60) -> str:
    """A string literal that fits the generated code's lines: long text as implicit concatenation."""
    if len(text) <= width:
        return repr(text)
    parts = textwrap.wrap(text, width, drop_whitespace=False, break_long_words=False)
    return "(" + " ".join(repr(part) for part in parts) + ")"


def route_imports(endpoints: list[dict[str, Any]]) -> dict[str, Any]:
    ops = {e["operation"] for e in endpoints}
    fastapi = {"APIRouter", "Depends", "HTTPException", "Request"}
    if any(e["id_param"] for e in endpoints):
        fastapi.add("Path")
    if any(e["has_body"] for e in endpoints):
        fastapi.add("Body")
    if "delete" in ops:
        fastapi.add("Response")
    if any(e["operation"] == "query" and not e["single"] for e in endpoints):
        fastapi.add("Query")
    responses = sorted(
        {"JSONResponse" for e in endpoints if e["operation"] == "static"}
        | {"RedirectResponse" for e in endpoints if e["operation"] == "redirect"}
    )
    local = []
    if ops & BEHAVIOUR_MODULE_OPERATIONS:
        local.append("behaviours")
    if ops & (RESOURCE_OPERATIONS | {"redirect"}):
        local.append("models")
    return {
        "typing": ["Annotated", "Any"],
        "fastapi": sorted(fastapi),
        "responses": responses,
        "local": local,
    }


def service_endpoints(spec: Spec) -> list[Endpoint]:
    """The endpoints the router serves (health and metrics are part of the application itself), in the
    order their routes are registered (static segments before parameters)."""
    return plans.registration_order(
        [ep for ep in spec.endpoints if ep.operation not in {"health", "metrics"}]
    )


def route_plans(spec: Spec) -> list[tuple[str, str]]:
    """(constant name, Python literal) of every endpoint's plan, in the SPEC's order."""
    result = []
    for endpoint in spec.endpoints:
        literal = plans.plan_literal(endpoint)
        if literal is not None:
            result.append((plans.plan_name(endpoint), literal))
    return result


LINE_CHECKS = frozenset(
    {
        "query_ok",
        "query_page",
        "query_missing",
        "aggregate_ok",
        "action_ok",
        "action_missing",
        "redirect_ok",
        "redirect_missing",
        "static_ok",
        "related_ok",
        "related_missing",
        "relation_refused",
        "relation_delete",
        "create_bad_url",
        "seeded",
    }
)
"""Checks whose test body `scenarios` writes line by line (the template has a block for the others)."""


def scenario(ac: AcceptanceCriterion, spec: Spec) -> dict[str, Any]:
    endpoint = spec.endpoint(ac.endpoint)
    if endpoint is None:
        raise CodegenError(f"{ac.id}: names endpoint {ac.endpoint}, which the spec does not list")
    check = spec.check_of(ac)
    values: dict[str, Any] = {
        "check": check,
        "func": spec.test_name(ac),
        "doc": docstring(
            f"{ac.id} ({ac.requirement}, {ac.endpoint}). Given {ac.given}, when {ac.when}, then {ac.then}."
        ),
        "method": endpoint.method.value,
        "path": endpoint.path,
        "operation": endpoint.operation,
        "status": endpoint.success_status,
        "url": url_expr(endpoint.path, "created['id']"),
        "missing_url": url_expr(endpoint.path, None, MISSING_ID),
        "body": "",
        "lines": [],
    }
    if check in LINE_CHECKS:
        values["lines"] = _lines(ac, spec, endpoint, check)
        return values
    values.update(_resource_values(endpoint, spec, check))
    return values


def _lines(ac: AcceptanceCriterion, spec: Spec, endpoint: Endpoint, check: str) -> list[str]:
    earlier = [a for a in spec.acceptance_criteria if a.endpoint == ac.endpoint and spec.check_of(a) == check]
    index = next(i for i, a in enumerate(earlier) if a.id == ac.id)
    writers = {
        "query": lambda: scenarios.query_lines(spec, endpoint, check),
        "aggregate": lambda: scenarios.aggregate_lines(spec, endpoint),
        "action": lambda: scenarios.action_lines(spec, endpoint, check),
        "redirect": lambda: scenarios.redirect_lines(spec, endpoint, check),
        "static": lambda: scenarios.static_lines(endpoint),
        "related": lambda: scenarios.related_lines(spec, endpoint, check),
        "relation_refused": lambda: scenarios.relation_refused_lines(spec, endpoint, index),
        "relation_delete": lambda: scenarios.relation_delete_lines(spec, endpoint, index),
        "create_bad_url": lambda: scenarios.bad_url_lines(spec, endpoint, index),
        "seeded": lambda: scenarios.seeded_lines(spec, endpoint),
    }
    key = check if check in writers else endpoint.operation
    try:
        return writers[key]()
    except (scenarios.ScenarioError, KeyError, IndexError) as exc:
        raise CodegenError(f"{ac.id}: no test can be written for {check} on {endpoint.id}: {exc}") from None


def _resource_values(endpoint: Endpoint, spec: Spec, check: str) -> dict[str, Any]:
    entity = spec.entity(endpoint.resource) if endpoint.resource else None
    if entity is None:
        has_body = endpoint.method in {HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH}
        return {"body": "{}" if has_body else "", "url": url_expr(endpoint.path)}
    links = {r.field for r in entity.relations}
    own = [f for f in entity.fields if f.name not in links] or entity.fields
    first = entity.fields[0]
    optional = next((f for f in own if not f.required), own[0])
    required = next((f for f in entity.fields if f.required), first)
    create = _find(spec, entity.name, "create")
    listing = _find(spec, entity.name, "list")
    getter = _find(spec, entity.name, "get")
    if create is None and check not in {"get_missing", "update_missing", "delete_missing", "custom_missing"}:
        raise CodegenError(f"{endpoint.id}: its resource '{entity.name}' has no create endpoint to test with")
    return {
        "sample": f"{sample_function(entity.name)}(client)",
        "create_path": create.path if create else "",
        "list_path": listing.path if listing and "{" not in listing.path else "",
        "get_url": url_expr(getter.path, "created['id']") if getter else "",
        "field": required.name
        if check == "create_missing_required"
        else first.name
        if check == "create_wrong_type"
        else optional.name,
        "wrong": repr(WRONG[first.type]),
        "coerced": repr([(f.name, COERCIBLE[f.type]) for f in entity.fields if f.type in COERCIBLE]),
        "changed": repr(_value(CHANGED, optional.type, optional.name)),
        "body": "sample"
        if endpoint.operation == "create"
        else "{}"
        if endpoint.operation == "update"
        else "",
    }


def _value(table: dict[FieldType, object], kind: FieldType, name: str) -> object:
    value = table[kind]
    return value.format(name=name) if isinstance(value, str) else value


def _find(spec: Spec, resource: str, operation: str) -> Endpoint | None:
    return next((ep for ep in spec.endpoints if ep.resource == resource and ep.operation == operation), None)


def sample_function(resource: str) -> str:
    return f"sample_{resource}"


def samples(spec: Spec) -> list[dict[str, str]]:
    """Per entity, a test helper that returns a valid body (creating its parents first): name, the resource,
    and the body's Python expression."""
    result = []
    for entity in spec.data_model.entities:
        parents = {r.field: r.parent for r in entity.relations}
        items = []
        for f in entity.fields:
            if f.name in parents:
                create = _find(spec, parents[f.name], "create")
                path = create.path if create else f"/{parents[f.name]}s"
                call = f"post_row(client, {path!r}, {sample_function(parents[f.name])}(client))['id']"
                items.append(f"{f.name!r}: {call}")
            else:
                items.append(f"{f.name!r}: {_value(SAMPLE, f.type, f.name)!r}")
        result.append(
            {
                "name": sample_function(entity.name),
                "resource": entity.name,
                "body": "{" + ", ".join(items) + "}",
            }
        )
    return result
