"""Reading policy and policy-test files (YAML, or JSON, which YAML 1.2 reads too) safely, with positions.

The document is composed into nodes (no Python objects built, no aliases expanded), checked (standard tags
only, bounded size after alias expansion, no duplicate keys), and only then turned into plain values by
this module, remembering the line and column of every value for error messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipeline.intents.yamlsafe import YamlProblem, compose, scalar_value

MAX_NODES = 20_000
MAX_DEPTH = 32
_YAML = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {f"{_YAML}{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")}

KEY = "__key__"
"""Marks the position of a mapping key (rather than its value) in `Document.positions`."""
Position = tuple[int, int]
PathKey = tuple[str | int, ...]


class DocumentError(ValueError):
    def __init__(self, line: int, column: int, message: str) -> None:
        self.line = line
        self.column = column
        self.message = message
        super().__init__(f"{line}:{column}: {message}")


@dataclass(frozen=True)
class Document:
    value: Any
    positions: dict[PathKey, Position]

    def position(self, path: PathKey) -> Position:
        """The position of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.positions:
                return self.positions[path[:end]]
        return (0, 0)

    def key_position(self, path: PathKey) -> Position:
        """Where the key of the value at `path` is written (for 'unknown field' errors)."""
        return self.positions.get((*path, KEY)) or self.position(path)


def read_document(data: bytes, *, max_bytes: int) -> Document:
    """Parse one YAML/JSON document. Raises DocumentError with a 1-based line and column."""
    if len(data) > max_bytes:
        raise DocumentError(0, 0, f"the file is larger than the limit of {max_bytes} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1
        raise DocumentError(
            line, column, f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x})"
        ) from None
    return _read(text)


def _read(text: str) -> Document:
    """Compose, check and build. Any failure is a DocumentError for this file (the checks exist so that none
    is expected): one bad file must never stop a caller reading the others."""
    try:
        node = _compose(text)
        _check(node, 0, [0])
        positions: dict[PathKey, Position] = {}
        return Document(_build(node, (), positions), positions)
    except DocumentError:
        raise
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"[:200]
        raise DocumentError(0, 0, f"the YAML could not be read ({detail})") from exc


def _compose(text: str) -> Node:
    try:
        node = compose(text, max_depth=MAX_DEPTH)
    except YamlProblem as exc:
        raise DocumentError(exc.line, exc.column, exc.message) from None
    if node is None:
        raise DocumentError(1, 1, "the file is empty")
    return node


def _at(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _check(node: Node, depth: int, count: list[int]) -> None:
    """Refuse unknown tags, deep nesting, alias bombs (counted as expanded) and duplicate keys."""
    count[0] += 1
    if count[0] > MAX_NODES:
        raise DocumentError(*_at(node), f"the document expands to more than {MAX_NODES} values")
    if depth > MAX_DEPTH:
        raise DocumentError(*_at(node), f"the document nests deeper than {MAX_DEPTH} levels")
    tag = str(getattr(node.tag, "value", node.tag))
    if tag not in _ALLOWED_TAGS:
        raise DocumentError(*_at(node), f"the tag '{tag.replace(_YAML, '!!')}' is not allowed")
    if isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                raise DocumentError(*_at(key), "a mapping key must be a plain value")
            if key.value in seen:
                raise DocumentError(
                    *_at(key), f"duplicate key '{key.value}' (first given on line {seen[key.value]})"
                )
            seen[key.value] = _at(key)[0]
            _check(value, depth + 1, count)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            _check(item, depth + 1, count)


def _build(node: Node, path: PathKey, positions: dict[PathKey, Position]) -> Any:
    positions.setdefault(path, _at(node))
    if isinstance(node, MappingNode):
        result = {}
        for key, value in node.value:
            positions[(*path, str(key.value), KEY)] = _at(key)
            if isinstance(value, ScalarNode) and value.value == "" and value.style is None:
                # An empty value is marked where the next token starts (often the next line): use the key.
                positions[(*path, str(key.value))] = _at(key)
            result[str(key.value)] = _build(value, (*path, str(key.value)), positions)
        return result
    if isinstance(node, SequenceNode):
        return [_build(item, (*path, index), positions) for index, item in enumerate(node.value)]
    if isinstance(node, ScalarNode):
        return _scalar(node, path)
    raise DocumentError(*_at(node), "this YAML node is not a value, a list or a mapping")


def _scalar(node: ScalarNode, path: PathKey) -> Any:
    try:
        return scalar_value(node)
    except ValueError as exc:
        keys = [part for part in path if isinstance(part, str)]
        raise DocumentError(*_at(node), f"{keys[-1]}: {exc}" if keys else str(exc)) from None
