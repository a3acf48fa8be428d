"""JSON Schemas set inside the bot's OpenAPI document, where `#/$defs/...` would point at the wrong root."""

from __future__ import annotations

from typing import Any

from pipeline.intents import intent_json_schema

_DEFS = "#/$defs/"
_DOCUMENT_KEYWORDS = ("$defs", "$id", "$schema")


def inline_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every `{"$ref": "#/$defs/X"}` replaced by X itself (sibling keywords kept), and
    without its document-level keywords. For schemas without recursive definitions (the intent's)."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def resolve(value: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(value, list):
            return [resolve(item, seen) for item in value]
        if not isinstance(value, dict):
            return value
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS):
            name = ref.removeprefix(_DEFS)
            if name in seen:
                raise ValueError(f"the schema's definition {name} is recursive; it cannot be inlined")
            siblings = {key: item for key, item in value.items() if key != "$ref"}
            return {**resolve(defs[name], (*seen, name)), **resolve(siblings, seen)}
        return {key: resolve(item, seen) for key, item in value.items() if key not in _DOCUMENT_KEYWORDS}

    resolved: dict[str, Any] = resolve(schema, ())
    return resolved


def intent_request_body() -> dict[str, Any]:
    """The OpenAPI `requestBody` of a route that takes an intent as JSON."""
    return {
        "required": True,
        "content": {"application/json": {"schema": inline_defs(intent_json_schema())}},
    }
