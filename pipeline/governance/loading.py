"""Loading policy files (YAML, or the seed's JSON form unchanged) into a checked, compiled `PolicySet`.

A set loads all or nothing: one bad file and the whole update is refused with every problem named by
file and line, so a half-written policy never silently drops the others. `PolicyStore` keeps the last
set that loaded in force when an update is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from annotated_types import Ge, Le
from pydantic import ValidationError

from pipeline.governance.policy import LoadedPolicy, Location, Policy, PolicyProblem
from pipeline.governance.rules import DEFAULT_LIMITS, RuleError, RuleLimits, compile_rule
from pipeline.governance.variables import known_variables
from pipeline.governance.yamldoc import Document, DocumentError, PathKey, read_document

DEFAULT_MAX_POLICY_BYTES = 256 * 1024
POLICY_SUFFIXES = (".yaml", ".yml", ".json")
UNREADABLE = "the file could not be read ({detail}); please report this"
SHAPE = "a policy file holds a list of policies, or a mapping with one key 'policies' holding that list"


class PolicyLoadError(ValueError):
    """Policies that cannot be used; `problems` names every one with its file and line."""

    def __init__(self, problems: Iterable[PolicyProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class PolicySet:
    """Policies in evaluation order (files by name, then as written), and a digest of their sources."""

    policies: tuple[LoadedPolicy, ...]
    digest: str
    sources: tuple[str, ...]


def parse_policy_file(
    data: bytes,
    *,
    source: str,
    limits: RuleLimits = DEFAULT_LIMITS,
    max_bytes: int = DEFAULT_MAX_POLICY_BYTES,
) -> list[LoadedPolicy]:
    """Read one policy file. Raises PolicyLoadError with every problem found in it, and nothing else: whatever
    breaks while reading one file is that file's problem, so a caller (the bot's store) keeps its last good
    set and names the file, and never fails as a whole."""
    try:
        return _parse_policy_file(data, source=source, limits=limits, max_bytes=max_bytes)
    except PolicyLoadError:
        raise
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"[:200]
        raise PolicyLoadError([PolicyProblem(source, 0, 0, UNREADABLE.format(detail=detail))]) from exc


def _parse_policy_file(data: bytes, *, source: str, limits: RuleLimits, max_bytes: int) -> list[LoadedPolicy]:
    try:
        document = read_document(data, max_bytes=max_bytes)
    except DocumentError as exc:
        raise PolicyLoadError([PolicyProblem(source, exc.line, exc.column, exc.message)]) from None
    items, prefix = _policy_items(document, source)
    loaded: list[LoadedPolicy] = []
    problems: list[PolicyProblem] = []
    names = known_variables()
    for index, item in enumerate(items):
        path = (*prefix, index)
        try:
            loaded.append(_one_policy(item, document, path, source, names, limits))
        except PolicyLoadError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PolicyLoadError(problems)
    return loaded


def _policy_items(document: Document, source: str) -> tuple[list[Any], PathKey]:
    value = document.value
    if isinstance(value, list):
        return value, ()
    if isinstance(value, dict) and set(value) == {"policies"} and isinstance(value["policies"], list):
        return value["policies"], ("policies",)
    extra = sorted(set(value) - {"policies"}) if isinstance(value, dict) else []
    path: PathKey = (extra[0],) if extra else ()
    detail = f" (unknown key '{extra[0]}')" if extra else ""
    raise PolicyLoadError([PolicyProblem(source, *document.key_position(path), SHAPE + detail)])


def _one_policy(
    item: Any, document: Document, path: PathKey, source: str, names: frozenset[str], limits: RuleLimits
) -> LoadedPolicy:
    line, column = document.position(path)
    if not isinstance(item, dict):
        raise PolicyLoadError([PolicyProblem(source, line, column, "a policy must be a mapping")])
    try:
        policy = Policy.model_validate(item)
    except ValidationError as exc:
        raise PolicyLoadError(
            [_validation_problem(error, document, path, source) for error in exc.errors()]
        ) from None
    try:
        rule = compile_rule(policy.rule, known_names=names, limits=limits)
    except RuleError as exc:
        rule_line, rule_column = document.position((*path, "rule"))
        raise PolicyLoadError(
            [PolicyProblem(source, rule_line, rule_column, f"policy '{policy.name}': rule: {exc}")]
        ) from None
    return LoadedPolicy(policy=policy, rule=rule, location=Location(source, line, column))


def _validation_problem(error: Any, document: Document, path: PathKey, source: str) -> PolicyProblem:
    loc = tuple(error["loc"])
    field = ".".join(str(part) for part in loc)
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(Policy.model_fields)
        message = f"unknown field '{loc[-1]}' (allowed: {allowed})"
    elif error["type"] == "missing":
        message = f"missing required field '{field}'"
    else:
        text = _in_words(error)
        message = f"{field}: {text}" if field else text
    at = document.key_position if error["type"] == "extra_forbidden" else document.position
    line, column = at((*path, *loc))
    return PolicyProblem(source, line, column, message)


def _in_words(error: Any) -> str:
    """pydantic's wording ('Input should be ...') in the words a policy author uses."""
    kind, ctx, given = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "enum":
        return f"must be one of {ctx.get('expected', '')}, got {given!r}"
    if kind in {"greater_than_equal", "less_than_equal"} and error["loc"]:
        metadata = Policy.model_fields[str(error["loc"][0])].metadata
        low = next(item.ge for item in metadata if isinstance(item, Ge))
        high = next(item.le for item in metadata if isinstance(item, Le))
        return f"must be a whole number from {low} to {high}, got {given!r}"
    return str(error["msg"]).removeprefix("Value error, ")


def load_policy_sources(files: Mapping[str, bytes], *, limits: RuleLimits = DEFAULT_LIMITS) -> PolicySet:
    """Load a whole set from file contents keyed by display name. Raises PolicyLoadError (all or nothing)."""
    if not files:
        raise PolicyLoadError([PolicyProblem("policies", 0, 0, "no policy files (*.yaml, *.yml, *.json)")])
    loaded: list[LoadedPolicy] = []
    problems: list[PolicyProblem] = []
    for source in sorted(files):
        try:
            loaded.extend(parse_policy_file(files[source], source=source, limits=limits))
        except PolicyLoadError as exc:
            problems.extend(exc.problems)
    problems.extend(_duplicate_names(loaded))
    if problems:
        raise PolicyLoadError(problems)
    digest = hashlib.sha256()
    for source in sorted(files):
        digest.update(f"{source}\0{hashlib.sha256(files[source]).hexdigest()}\n".encode())
    return PolicySet(tuple(loaded), digest.hexdigest(), tuple(sorted(files)))


def _duplicate_names(loaded: list[LoadedPolicy]) -> list[PolicyProblem]:
    first: dict[str, Location] = {}
    problems = []
    for item in loaded:
        name = item.policy.name
        if name in first:
            where = first[name]
            problems.append(
                PolicyProblem(
                    item.location.file,
                    item.location.line,
                    item.location.column,
                    f"policy name '{name}' is already used at {where}; names must be unique",
                )
            )
        else:
            first[name] = item.location
    return problems


def read_policy_path(path: Path, *, max_bytes: int = DEFAULT_MAX_POLICY_BYTES) -> dict[str, bytes]:
    """The policy files at `path` (a file, or the top level of a directory), keyed by their path."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in POLICY_SUFFIXES and p.is_file())
    elif path.is_file():
        files = [path]
    else:
        raise PolicyLoadError([PolicyProblem(str(path), 0, 0, "no such file or directory")])
    contents: dict[str, bytes] = {}
    for file in files:
        try:
            with file.open("rb") as handle:
                contents[str(file)] = handle.read(max_bytes + 1)
        except OSError as exc:
            raise PolicyLoadError(
                [PolicyProblem(str(file), 0, 0, f"cannot read the file: {exc.strerror or exc}")]
            ) from None
    if not contents:
        raise PolicyLoadError([PolicyProblem(str(path), 0, 0, "no policy files (*.yaml, *.yml, *.json)")])
    return contents


def load_policies(path: Path, *, limits: RuleLimits = DEFAULT_LIMITS) -> PolicySet:
    """Load the policies in a file or directory. Raises PolicyLoadError."""
    return load_policy_sources(read_policy_path(path), limits=limits)


@dataclass(frozen=True)
class StoreUpdate:
    """The result of offering new policy files to a store: what is in force now, and what was refused."""

    in_force: PolicySet | None
    problems: tuple[PolicyProblem, ...]

    @property
    def accepted(self) -> bool:
        return not self.problems


class PolicyKeeping(Protocol):
    """Where a store keeps its last good set's files beyond the process (see `kept.PolicyKeeper`)."""

    def save(self, files: Mapping[str, bytes]) -> None: ...

    def load(self) -> Mapping[str, bytes] | None: ...


class PolicyStore:
    """Holds the policies in force. A refused update leaves the last good set in force (and says so).

    With a keeper, the last good set outlives the process: a refused update falls back to the set the keeper
    saved last, which another process (or this one before a restart) may have loaded."""

    def __init__(self, *, limits: RuleLimits = DEFAULT_LIMITS, keeper: PolicyKeeping | None = None) -> None:
        self._limits = limits
        self._keeper = keeper
        self._current: PolicySet | None = None

    @property
    def current(self) -> PolicySet | None:
        return self._current

    def update(self, files: Mapping[str, bytes]) -> StoreUpdate:
        try:
            policies = load_policy_sources(files, limits=self._limits)
        except PolicyLoadError as exc:
            return StoreUpdate(self._last_good(), exc.problems)
        self._current = policies
        if self._keeper is not None:
            self._keeper.save(files)
        return StoreUpdate(policies, ())

    def _last_good(self) -> PolicySet | None:
        kept = self._keeper.load() if self._keeper is not None else None
        # A kept set refused now (e.g. under tighter limits) leaves what this process had.
        if kept:
            with contextlib.suppress(PolicyLoadError):
                self._current = load_policy_sources(kept, limits=self._limits)
        return self._current
