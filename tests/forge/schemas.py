"""Validators for GitHub's published shapes: the REST OpenAPI subset and the webhook payload schemas."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.conftest import SHARED

REST_SPEC = SHARED / "github" / "rest" / "github-rest-subset.json"
HOOK_SCHEMAS = SHARED / "github" / "webhooks" / "payload-schemas" / "api.github.com"
REST_URI = "urn:github-rest-subset"


def _openapi_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` becomes JSON Schema's null type (or an anyOf with null)."""
    if isinstance(node, list):
        return [_openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_jsonschema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if "type" in out and isinstance(out["type"], str):
            out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            return {"anyOf": [{"type": "null"}, out]}
    return out


@cache
def _rest_registry() -> tuple[dict[str, Any], Registry]:
    spec = _openapi_to_jsonschema(json.loads(REST_SPEC.read_text(encoding="utf-8")))
    registry: Registry = Registry().with_resource(
        REST_URI, Resource.from_contents(spec, default_specification=DRAFT7)
    )
    return spec, registry


def rest_response_schema(method: str, path: str, status: int) -> dict[str, Any] | None:
    """The JSON Schema of one documented response (path as in the spec, e.g. /repos/{owner}/{repo})."""
    spec, _registry = _rest_registry()
    operation = spec["paths"][path][method.lower()]
    response = operation["responses"][str(status)]
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[-1]
        response = spec["components"]["responses"][name]
    content = response.get("content", {}).get("application/json")
    return content["schema"] if content else None


def validate_rest(method: str, path: str, status: int, body: Any) -> list[str]:
    """Problems of `body` against the documented response; [] when it conforms."""
    schema = rest_response_schema(method, path, status)
    if schema is None and status >= 400:
        schema = {"$ref": "#/components/schemas/basic-error"}  # GitHub's error shape, when not documented
    if schema is None:
        return [] if body in (None, b"", "") else [f"{method} {path} {status}: no body documented"]
    _spec, registry = _rest_registry()
    wrapped = _rebase(schema)
    validator = Draft7Validator(wrapped, registry=registry)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]


def _rebase(node: Any) -> Any:
    """Point local `#/components/...` references at the registered spec."""
    if isinstance(node, list):
        return [_rebase(n) for n in node]
    if isinstance(node, dict):
        return {
            k: (REST_URI + v if k == "$ref" and v.startswith("#") else _rebase(v)) for k, v in node.items()
        }
    return node


@cache
def _hook_registry() -> Registry:
    registry = Registry()
    for path in HOOK_SCHEMAS.rglob("*.schema.json"):
        contents = json.loads(path.read_text(encoding="utf-8"))
        registry = registry.with_resource(contents["$id"], Resource.from_contents(contents, DRAFT7))
    return registry


def hook_schema_id(event: str, action: str | None) -> str:
    name = (
        "event" if action is None or not (HOOK_SCHEMAS / event / f"{action}.schema.json").exists() else action
    )
    return f"{event}${name}"


def validate_hook(event: str, payload: dict[str, Any]) -> list[str]:
    """Problems of a webhook payload against GitHub's schema for its event and action."""
    action = payload.get("action") if isinstance(payload.get("action"), str) else None
    registry = _hook_registry()
    schema = registry.contents(hook_schema_id(event, action))
    validator = Draft7Validator(schema, registry=registry)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(payload)]


def hook_schema_exists(event: str, action: str | None) -> bool:
    return (HOOK_SCHEMAS / event / f"{action or 'event'}.schema.json").exists()
