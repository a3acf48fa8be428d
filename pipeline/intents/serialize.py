"""Writing intents back to YAML (for the API, the CLI and the issue form) and hashing their content."""

from __future__ import annotations

import hashlib
import io

from ruamel.yaml import YAML

from pipeline.intents.model import Intent

FIELD_ORDER = (
    "service_name",
    "purpose",
    "priority",
    "tier",
    "auto_build",
    "blueprint_context",
    "storage",
    "resources",
    "endpoints",
    "dependencies",
)


def content_hash(data: bytes) -> str:
    """The identity of an intent's content: the SHA-256 of the file's bytes as committed."""
    return hashlib.sha256(data).hexdigest()


def intent_path(service_name: str) -> str:
    return f"intents/{service_name}.yaml"


def intent_to_yaml(intent: Intent, *, comment: str = "") -> str:
    """The intent as a YAML file: the fields that were given, in a stable order, plus an optional comment."""
    data = intent.model_dump(mode="json", exclude_unset=True)
    ordered = {name: data[name] for name in FIELD_ORDER if name in data}
    yaml = YAML(typ="rt")  # the round-trip dumper keeps our field order; the safe one sorts keys
    yaml.default_flow_style = False
    yaml.width = 4096
    buffer = io.StringIO()
    if comment:
        buffer.write("".join(f"# {line}\n" for line in comment.splitlines()))
    yaml.dump(ordered, buffer)
    return buffer.getvalue()
