"""From a Spec to the plain values the service templates render: names, signatures, test scenarios."""

from __future__ import annotations

import keyword
import re
from typing import Any

from pydantic import BaseModel

from pipeline.intents import FieldType, HttpMethod
from pipeline.spec.model import AcceptanceCriterion, Endpoint, Entity, Spec

PY_TYPES = {
    FieldType.STRING: "str",
    FieldType.INTEGER: "int",
    FieldType.NUMBER: "float",
    FieldType.BOOLEAN: "bool",
    FieldType.DATETIME: "datetime",
}
REQUEST_TYPES = {FieldType.DATETIME: "IsoDatetime"}
"""Request bodies are validated strictly; a date-time is the one type JSON can only send as text."""
SAMPLE = {
    FieldType.STRING: "sample {name}",
    FieldType.INTEGER: 7,
    FieldType.NUMBER: 1.5,
    FieldType.BOOLEAN: True,
    FieldType.DATETIME: "2026-01-02T03:04:05Z",
}
CHANGED = {
    FieldType.STRING: "changed {name}",
    FieldType.INTEGER: 8,
    FieldType.NUMBER: 2.5,
    FieldType.BOOLEAN: False,
    FieldType.DATETIME: "2027-02-03T04:05:06Z",
}
WRONG = {
    FieldType.STRING: 12345,
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
DEFAULT_CHECK = {
    "create": "create_ok",
    "list": "list_ok",
    "get": "get_ok",
    "update": "update_ok",
    "delete": "delete_ok",
    "health": "health_ok",
    "metrics": "metrics_ok",
}
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


def model_imports(spec: Spec, *, uses_alias: bool) -> list[str]:
    """The import lines app/models.py needs, and no others ("" separates the groups)."""
    if not spec.data_model.entities:
        return []
    datetimes = any(f.type is FieldType.DATETIME for e in spec.data_model.entities for f in e.fields)
    names = ["BaseModel", "ConfigDict", "model_validator"]
    names += ["Field"] if uses_alias else []
    names += ["BeforeValidator", "Strict"] if datetimes else []
    pydantic = f"from pydantic import {', '.join(sorted(names))}"
    if not datetimes:
        return [pydantic]
    return ["from datetime import datetime", "from typing import Annotated", "", pydantic]


def endpoint_context(endpoint: Endpoint, spec: Spec) -> dict[str, Any]:
    params = path_params(endpoint.path)
    operation = endpoint.operation
    if operation in CRUD and (endpoint.resource is None or spec.entity(endpoint.resource) is None):
        raise CodegenError(f"{endpoint.id}: '{operation}' needs a resource of the data model")
    if operation in {"get", "update", "delete"} and not params:
        raise CodegenError(f"{endpoint.id}: '{operation}' needs an id parameter in its path")
    cls = class_name(endpoint.resource) if endpoint.resource else ""
    has_body = operation == "custom" and endpoint.method in {
        HttpMethod.POST,
        HttpMethod.PUT,
        HttpMethod.PATCH,
    }
    signature = [f"p_{p}: Annotated[str, Path(alias={p!r})]" for p in params]
    if operation == "create":
        signature.append(f"body: models.{cls}Create")
    elif operation == "update":
        signature.append(f"body: models.{cls}Update")
    elif has_body:
        signature.append("body: Annotated[dict[str, Any] | None, Body()] = None")
    if operation in CRUD:
        signature.append("storage: StorageDep")
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
        "signature": ", ".join(signature),
        "id_param": f"p_{params[0]}" if params else "",
        "params_dict": ", ".join(f"{p!r}: p_{p}" for p in params),
        "has_body": has_body,
        "summary_literal": repr(endpoint.summary),
        "doc": docstring(f"{endpoint.id}: {endpoint.summary}"),
    }


def route_imports(endpoints: list[dict[str, Any]]) -> dict[str, Any]:
    ops = {e["operation"] for e in endpoints}
    fastapi = {"APIRouter", "Depends", "HTTPException", "Request"}
    if any(e["id_param"] for e in endpoints):
        fastapi.add("Path")
    if any(e["has_body"] for e in endpoints):
        fastapi.add("Body")
    if "delete" in ops:
        fastapi.add("Response")
    return {
        "typing": ["Annotated", "Any"],
        "fastapi": sorted(fastapi),
        "models": bool(ops & CRUD),
        "service_name": "custom" in ops,
    }


def service_endpoints(spec: Spec) -> list[Endpoint]:
    """The endpoints the router serves (health and metrics are part of the application itself)."""
    return [ep for ep in spec.endpoints if ep.operation not in {"health", "metrics"}]


def scenario(ac: AcceptanceCriterion, spec: Spec) -> dict[str, Any]:
    endpoint = next((ep for ep in spec.endpoints if ep.id == ac.endpoint), None)
    if endpoint is None:
        raise CodegenError(f"{ac.id}: names endpoint {ac.endpoint}, which the spec does not list")
    check = ac.check or DEFAULT_CHECK.get(endpoint.operation, "custom_ok")
    values: dict[str, Any] = {
        "check": check,
        "func": identifier(f"test_{ac.id}_{check}"),
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
    }
    values.update(_resource_values(endpoint, spec, check))
    return values


def _resource_values(endpoint: Endpoint, spec: Spec, check: str) -> dict[str, Any]:
    entity = spec.entity(endpoint.resource) if endpoint.resource else None
    if entity is None:
        has_body = endpoint.method in {HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH}
        return {"body": "{}" if has_body else "", "url": url_expr(endpoint.path)}
    sample = sample_constant(entity.name)
    first = entity.fields[0]
    optional = next((f for f in entity.fields if not f.required), first)
    required = next((f for f in entity.fields if f.required), first)
    create = _find(spec, entity.name, "create")
    listing = _find(spec, entity.name, "list")
    getter = _find(spec, entity.name, "get")
    if create is None and check not in {"get_missing", "update_missing", "delete_missing", "custom_missing"}:
        raise CodegenError(f"{endpoint.id}: its resource '{entity.name}' has no create endpoint to test with")
    return {
        "sample": sample,
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
        "body": sample if endpoint.operation == "create" else "{}" if endpoint.operation == "update" else "",
    }


def _value(table: dict[FieldType, object], kind: FieldType, name: str) -> object:
    value = table[kind]
    return value.format(name=name) if isinstance(value, str) else value


def _find(spec: Spec, resource: str, operation: str) -> Endpoint | None:
    return next((ep for ep in spec.endpoints if ep.resource == resource and ep.operation == operation), None)


def sample_constant(resource: str) -> str:
    return f"SAMPLE_{resource.upper()}"


def samples(spec: Spec) -> dict[str, str]:
    """Constant name -> Python literal of a valid body, per entity (SAMPLE_GREETING = {...})."""
    result = {}
    for entity in spec.data_model.entities:
        value = {f.name: _value(SAMPLE, f.type, f.name) for f in entity.fields}
        result[sample_constant(entity.name)] = repr(value)
    return result
