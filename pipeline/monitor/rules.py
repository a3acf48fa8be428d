"""Monitor rules (`monitors/*.yaml`): what the assembly-line monitor watches and the intent it proposes.

A rule names a window of days, a CEL condition over the line's metrics in that window (the same rule
language as policies) and the improvement intent to file when it holds. Files are read with positions, and
every problem names its file, line and column; a rule that does not load is never evaluated.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML

from pipeline.governance.rules import CompiledRule, RuleError, compile_rule
from pipeline.governance.yamldoc import Document, DocumentError, read_document
from pipeline.intents import Intent, InvalidIntent, load_intent
from pipeline.monitor.metrics import METRIC_NAMES
from pipeline.resources import resource_path

SHIPPED_RULES = resource_path("monitors")
"""The example rules shipped with IntentOps (a checkout's `monitors/`, or inside the installed package)."""
MAX_RULE_FILE_BYTES = 64 * 1024
NAME = r"^[a-z0-9][a-z0-9-]{0,47}$"
VERSION_FIELD = "{n}"
"""Where the next free version number goes in the proposed intent's `service_name` (`spec-builder-v{n}`)."""
NOT_A_LIST = "a monitor file holds `monitors:`, a list of rules"
NO_VERSION = "propose.intent.service_name must hold {n} (the next free version, e.g. spec-builder-v{n})"
BAD_INTENT = "propose.intent is not a valid intent: {problem}"
DUPLICATE = "rule {name!r} is also defined in {other}"
HINTS_NEED_STAGE = (
    "propose.hints_from_findings adds spec-builder hints: propose.intent must implement spec-builder@1"
)


class Proposal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    intent: dict[str, Any]
    """An intent as `intents/*.yaml` holds it; `{n}` in its service_name is the next free version."""
    hints_from_findings: bool = False
    """Add spec-builder `wording` hints for the vague words the window's SPECs were found with."""


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME)
    description: str = Field(min_length=1, max_length=500)
    window_days: int = Field(ge=1, le=90)
    when: str = Field(min_length=1, max_length=2000)
    propose: Proposal


class MonitorFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    monitors: list[RuleSpec]


@dataclass(frozen=True)
class MonitorRule:
    name: str
    description: str
    window_days: int
    when: CompiledRule
    proposal: Proposal
    source: str
    """`monitors/optimizer-rounds.yaml:3:5`: where the rule is written."""

    def intent_text(self, version: int, *, extra_hints: Mapping[str, Any] | None = None) -> str:
        """The proposed intent file, with version `version` and any hints added."""
        data = dict(self.proposal.intent)
        data["service_name"] = str(data["service_name"]).replace(VERSION_FIELD, str(version))
        if extra_hints:
            hints = dict(data.get("stage_hints") or {})
            for key, value in extra_hints.items():
                merged = dict(hints.get(key) or {})
                merged.update(value)
                hints[key] = merged
            data["stage_hints"] = hints
        header = f"# Proposed by the assembly-line monitor (rule {self.name}): {self.description}\n"
        return header + dump_yaml_text(data)

    def service_name(self, version: int) -> str:
        return str(self.proposal.intent["service_name"]).replace(VERSION_FIELD, str(version))

    def check_intent(self, version: int, *, extra_hints: Mapping[str, Any] | None = None) -> Intent:
        return load_intent(self.intent_text(version, extra_hints=extra_hints), source=self.name)


def dump_yaml_text(data: Mapping[str, Any]) -> str:
    """Plain block YAML of `data`, keys in their order, long lines kept whole."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(dict(data), out)
    return out.getvalue()


@dataclass(frozen=True)
class RuleProblem:
    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}:{self.column}: {self.message}"
            if self.line
            else f"{self.file}: {self.message}"
        )


@dataclass(frozen=True)
class LoadedRules:
    rules: tuple[MonitorRule, ...] = ()
    problems: tuple[RuleProblem, ...] = field(default_factory=tuple)


def load_rules(files: Iterable[tuple[str, bytes]]) -> LoadedRules:
    """Every rule of `files` ((name, content) pairs, in order) that loads, and the problems of the others."""
    rules: dict[str, MonitorRule] = {}
    problems: list[RuleProblem] = []
    for name, data in files:
        loaded, found = _load_file(name, data)
        problems.extend(found)
        for rule in loaded:
            if rule.name in rules:
                line, column = _line_column(rule.source)
                message = DUPLICATE.format(name=rule.name, other=rules[rule.name].source)
                problems.append(RuleProblem(name, line, column, message))
                continue
            rules[rule.name] = rule
    return LoadedRules(tuple(rules.values()), tuple(problems))


def load_rule_dir(directory: Path) -> LoadedRules:
    """The rules of `directory/*.yaml` (and .yml), by file name."""
    if not directory.is_dir():
        return LoadedRules(problems=(RuleProblem(str(directory), 0, 0, "no such folder of monitor rules"),))
    paths = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return load_rules((f"monitors/{p.name}", p.read_bytes()) for p in paths)


def _line_column(source: str) -> tuple[int, int]:
    parts = source.rsplit(":", 2)
    return (int(parts[1]), int(parts[2])) if len(parts) == 3 else (0, 0)


def _load_file(name: str, data: bytes) -> tuple[list[MonitorRule], list[RuleProblem]]:
    try:
        document = read_document(data, max_bytes=MAX_RULE_FILE_BYTES)
    except DocumentError as exc:
        return [], [RuleProblem(name, exc.line, exc.column, exc.message)]
    if not isinstance(document.value, dict) or not isinstance(document.value.get("monitors"), list):
        return [], [RuleProblem(name, *document.position(()), NOT_A_LIST)]
    rules: list[MonitorRule] = []
    problems: list[RuleProblem] = []
    for index, raw in enumerate(document.value["monitors"]):
        rule, problem = _load_rule(name, document, index, raw)
        if rule is not None:
            rules.append(rule)
        if problem is not None:
            problems.append(problem)
    extra = sorted(set(document.value) - {"monitors"})
    if extra:
        problems.append(RuleProblem(name, *document.key_position((extra[0],)), f"unknown field {extra[0]!r}"))
    return rules, problems


def _load_rule(
    name: str, document: Document, index: int, raw: Any
) -> tuple[MonitorRule | None, RuleProblem | None]:
    path: tuple[str | int, ...] = ("monitors", index)
    try:
        spec = RuleSpec.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = (*path, *error["loc"])
        position = (
            document.key_position(where) if error["type"] == "extra_forbidden" else document.position(where)
        )
        field_name = ".".join(str(p) for p in error["loc"]) or "rule"
        return None, RuleProblem(name, *position, f"{field_name}: {error['msg']}")
    line, column = document.position(path)
    try:
        compiled = compile_rule(spec.when, known_names=METRIC_NAMES)
    except RuleError as exc:
        return None, RuleProblem(name, *document.position((*path, "when")), f"when: {exc}")
    rule = MonitorRule(
        name=spec.name,
        description=spec.description,
        window_days=spec.window_days,
        when=compiled,
        proposal=spec.propose,
        source=f"{name}:{line}:{column}",
    )
    problem = _proposal_problem(rule)
    if problem:
        return None, RuleProblem(name, *document.position((*path, "propose", "intent")), problem)
    return rule, None


def _proposal_problem(rule: MonitorRule) -> str:
    if VERSION_FIELD not in str(rule.proposal.intent.get("service_name", "")):
        return NO_VERSION
    try:
        intent = rule.check_intent(2)
    except InvalidIntent as exc:
        return BAD_INTENT.format(problem=re.sub(r"\s+", " ", str(exc.problems[0]))[:300])
    if rule.proposal.hints_from_findings and (intent.implements or "").split("@")[0] != "spec-builder":
        return HINTS_NEED_STAGE
    return ""
