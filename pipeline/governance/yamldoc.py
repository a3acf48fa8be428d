"""Reading policy and policy-test files (YAML, or JSON, which YAML 1.2 reads too) safely, with positions.

The document is composed into nodes (no Python objects built, no aliases expanded), checked (standard tags
only, bounded size after alias expansion, no duplicate keys), and only then turned into plain values by
this module, remembering the line and column of every value for error messages.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

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
        line = data[: exc.start].count(b"\n") + 1
        raise DocumentError(line, 0, "the file is not valid UTF-8") from None
    node = _compose(text)
    _check(node, 0, [0])
    positions: dict[PathKey, Position] = {}
    return Document(_build(node, (), positions), positions)


def _compose(text: str) -> Node:
    try:
        node = YAML(typ="safe", pure=True).compose(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise DocumentError(line, column, f"syntax error: {exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise DocumentError(0, 0, f"syntax error: {exc}") from None
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
            result[str(key.value)] = _build(value, (*path, str(key.value)), positions)
        return result
    if isinstance(node, SequenceNode):
        return [_build(item, (*path, index), positions) for index, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: Node) -> Any:
    tag = str(getattr(node.tag, "value", node.tag)).removeprefix(_YAML)
    text = str(node.value)
    if tag == "null":
        return None
    if tag == "bool":
        return text.lower() == "true"
    if tag == "int":
        cleaned = text.replace("_", "")
        return int(cleaned, 0) if cleaned.lstrip("+-")[:2].lower() in {"0x", "0o", "0b"} else int(cleaned)
    if tag == "float":
        return float(text.replace("_", "").replace(".inf", "inf").replace(".nan", "nan"))
    return text
