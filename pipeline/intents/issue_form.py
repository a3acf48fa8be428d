"""Turning an issue opened from the intent issue form into an intent file.

GitHub renders a submitted form as Markdown: a `### <label>` heading per field followed by its value
(`_No response_` when left empty; `- [X] ...` for a ticked checkbox; fenced code for `render: yaml`).
Labels are read from the shipped template itself, so the form and the parser cannot drift apart.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from pipeline.intents.loader import load_intent
from pipeline.intents.model import Intent
from pipeline.intents.problems import IntentProblem, InvalidIntent
from pipeline.resources import resource_path

TEMPLATE = resource_path("templates/github/ISSUE_TEMPLATE/intent.yml")
NO_RESPONSE = "_No response_"
HEADING = re.compile(r"^###\s+(.+?)\s*$", re.MULTILINE)
FENCE = re.compile(r"^```[a-zA-Z]*\n(.*?)\n?```\s*$", re.DOTALL)


@dataclass(frozen=True)
class FormIntent:
    path: str
    text: str
    intent: Intent


@cache
def form_fields(template: Path = TEMPLATE) -> dict[str, str]:
    """Label -> field id, for the template's inputs."""
    form = YAML(typ="safe", pure=True).load(template.read_text(encoding="utf-8"))
    return {item["attributes"]["label"]: item["id"] for item in form["body"] if "id" in item}


def _sections(body: str) -> dict[str, str]:
    labels = form_fields()
    matches = list(HEADING.finditer(body))
    values: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(body)
        field = labels.get(match.group(1))
        if field:
            value = body[match.end() : end].strip()
            values[field] = "" if value == NO_RESPONSE else value
    return values


def _document(values: dict[str, str]) -> str:
    data: dict[str, Any] = {
        "service_name": values.get("service_name", ""),
        "purpose": values.get("purpose", ""),
    }
    if values.get("priority"):
        data["priority"] = values["priority"]
    if values.get("tier", "").isdigit():
        data["tier"] = int(values["tier"])
    if values.get("blueprint_context"):
        data["blueprint_context"] = values["blueprint_context"]
    data["auto_build"] = "- [x]" in values.get("auto_build", "").lower()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    hints = values.get("hints", "")
    fenced = FENCE.match(hints)
    hints = fenced.group(1) if fenced else hints
    return buffer.getvalue() + (hints.strip() + "\n" if hints.strip() else "")


def intent_from_issue(body: str, *, issue_number: int) -> FormIntent:
    """The intent file an issue form asks for. Raises InvalidIntent (positions refer to the file that
    would be committed, which the bot quotes back in its comment)."""
    values = _sections(body or "")
    source = f"issue #{issue_number}"
    if not values.get("service_name"):
        raise InvalidIntent([IntentProblem(source, 0, 0, "the issue has no 'Service name'", "service_name")])
    text = _document(values)
    path = f"intents/{values['service_name']}.yaml"
    intent = load_intent(
        text, source=path if re.fullmatch(r"[a-z0-9-]{1,63}", values["service_name"]) else source
    )
    return FormIntent(path=path, text=text, intent=intent)
