"""`line/stages.yaml` in the intents repository: which implementation serves each stage of the line.

Git stays the source of truth for the line itself: adopting a stage service is a change of this file
(a self-modification, two approvals), and reverting that commit is a rollback. A stage the file does not
name, or names `builtin`, runs built in.

    # line/stages.yaml
    stages:
      spec-builder:
        service: spec-builder-v2   # a stage service the line built and registered, or `builtin`
        contract: "1"              # the stage contract it serves
        version: 3f2a9c...         # optional: the deployed version that was evaluated and adopted
        shadow: 7                  # optional: the shadow report that proved it (intentops shadow)

Errors name the file, line and column, like every file the line reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.factory.contracts import CONTRACT_VERSION, Stage
from pipeline.governance.yamldoc import Document, DocumentError, read_document
from pipeline.intents.model import DNS_LABEL

STAGES_FILE = "line/stages.yaml"
BUILTIN = "builtin"
MAX_BYTES = 64 * 1024
HEADER = (
    "# Which implementation serves each stage of the line: `builtin`, or a stage service the line built,\n"
    "# proved in a shadow evaluation and adopted through a pull request two people approved. Reverting a\n"
    "# change of this file is a rollback.\n"
)


class StageFileError(ValueError):
    """`line/stages.yaml` cannot be used; `problems` are `file:line:column: message` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = Field(min_length=1, max_length=63)
    contract: str = CONTRACT_VERSION
    version: str = Field(default="", max_length=64)
    shadow: int | None = Field(default=None, ge=1)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: dict[str, _Entry] = Field(default_factory=dict)


@dataclass(frozen=True)
class StageRoute:
    """One stage's implementation as the file names it."""

    stage: Stage
    service: str
    """A stage service's name in the registry, or `builtin`."""
    contract: str = CONTRACT_VERSION
    version: str = ""
    shadow: int | None = None

    @property
    def builtin(self) -> bool:
        return self.service == BUILTIN


@dataclass(frozen=True)
class StageFile:
    routes: dict[Stage, StageRoute] = field(default_factory=dict)

    def route(self, stage: Stage) -> StageRoute:
        return self.routes.get(stage) or StageRoute(stage, BUILTIN)

    def with_route(self, route: StageRoute) -> StageFile:
        return StageFile({**self.routes, route.stage: route})

    def without(self, stage: Stage) -> StageFile:
        """The file with `stage` routed to the built-in again."""
        return StageFile({s: route for s, route in self.routes.items() if s is not stage})

    def to_yaml(self) -> str:
        """The file's text: a header, then one block per routed stage, in the line's stage order."""
        lines = [HEADER.rstrip("\n"), "stages:"]
        for stage in Stage:
            route = self.routes.get(stage)
            if route is None:
                continue
            lines.append(f"  {stage.value}:")
            lines.append(f"    service: {route.service}")
            lines.append(f'    contract: "{route.contract}"')
            if route.version:
                lines.append(f"    version: {route.version}")
            if route.shadow is not None:
                lines.append(f"    shadow: {route.shadow}")
        if len(lines) == 2:
            lines[-1] = "stages: {}"
        return "\n".join(lines) + "\n"


def parse_stage_file(data: bytes | None, *, source: str = STAGES_FILE) -> StageFile:
    """The routes in `data` (None: no file, every stage built in). Raises StageFileError."""
    if data is None:
        return StageFile()
    try:
        document = read_document(data, max_bytes=MAX_BYTES)
    except DocumentError as exc:
        raise StageFileError([f"{source}:{exc.line}:{exc.column}: {exc.message}"]) from None
    if document.value is None:
        return StageFile()
    try:
        parsed = _File.model_validate(document.value)
    except ValidationError as exc:
        raise StageFileError([_problem(source, document, error) for error in exc.errors()]) from None
    routes: dict[Stage, StageRoute] = {}
    problems: list[str] = []
    for name, entry in parsed.stages.items():
        where = _where(source, document, ("stages", name))
        problem = _entry_problem(name, entry)
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        stage = Stage(name)
        routes[stage] = StageRoute(stage, entry.service, entry.contract, entry.version, entry.shadow)
    if problems:
        raise StageFileError(problems)
    return StageFile(routes)


def _entry_problem(name: str, entry: _Entry) -> str:
    known = ", ".join(s.value for s in Stage)
    if name not in {s.value for s in Stage}:
        return f"unknown stage {name!r} (one of: {known})"
    if entry.contract != CONTRACT_VERSION:
        return f"{name}: contract {entry.contract!r} is not one this line speaks ({CONTRACT_VERSION!r})"
    if entry.service != BUILTIN and not DNS_LABEL.match(entry.service):
        return f"{name}: service {entry.service!r} is not a service name (a DNS label) nor 'builtin'"
    return ""


def _where(source: str, document: Document, path: tuple[str | int, ...]) -> str:
    line, column = document.key_position(path)
    return f"{source}:{line}:{column}" if line else source


def _problem(source: str, document: Document, error: Mapping[str, Any]) -> str:
    path = tuple(error["loc"])
    return f"{_where(source, document, path)}: {'.'.join(str(p) for p in path)}: {error['msg']}"
