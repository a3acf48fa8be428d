"""The safe YAML core that intent and policy files are read with: checked events, nodes, plain values.

Before anything is composed, the event stream is read once (the parser is not recursive): YAML versions
other than 1.2 are refused, and nesting is bounded, so the composer (which is recursive) never sees a
document deep enough to exhaust the stack. Scalars become Python values only when their text is exactly
what their tag says, explicit tags (`!!int abc`) included; nothing else reaches `int()` or `float()`.
"""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    ScalarEvent,
)
from ruamel.yaml.nodes import Node, ScalarNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver

YAML_TAG = "tag:yaml.org,2002:"
MAX_NUMBER_CHARS = 64

ONLY_YAML_12 = "YAML {version} is not supported; remove the %YAML directive (files are read as YAML 1.2)"
TOO_DEEP = "the document nests deeper than {limit} levels"
BAD_CHARACTER = (
    "the character U+{code:04X} is not allowed in YAML (control characters other than tab and newline)"
)
MORE_THAN_ONE = "the file holds more than one YAML document; it must hold exactly one"

_INT = re.compile(r"[-+]?(?:0b[01]+|0o[0-7]+|0x[0-9a-fA-F]+|[0-9]+)")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][-+]?[0-9]+)?")
_INFINITY = re.compile(r"([-+]?)\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)")
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = {"", "~", "null", "Null", "NULL"}
_RESOLVER = VersionedResolver(version=(1, 2))


class YamlProblem(ValueError):
    """Something wrong with the YAML itself, at a 1-based line and column."""

    def __init__(self, line: int, column: int, message: str) -> None:
        self.line = line
        self.column = column
        self.message = message
        super().__init__(f"{line}:{column}: {message}")


def node_tag(node: Node) -> str:
    return str(getattr(node.tag, "value", node.tag))


def position(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def compose(text: str, *, max_depth: int) -> Node | None:
    """Check the event stream, then compose the single document into nodes. Raises YamlProblem."""
    try:
        _check_events(text, max_depth)
        return YAML(typ="safe", pure=True).compose(io.StringIO(text))
    except ReaderError as exc:
        raise _reader_problem(text, exc) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = exc.problem or exc.context or "the YAML does not parse"
        if "expected a single document" in str(exc):
            raise YamlProblem(line, column, MORE_THAN_ONE) from None
        raise YamlProblem(line, column, f"YAML syntax error: {message}") from None
    except YAMLError as exc:
        raise YamlProblem(1, 1, f"YAML error: {' '.join(str(exc).split())}") from None


def _check_events(text: str, max_depth: int) -> None:
    _check_version(text)
    depth = 0
    for event in YAML(typ="safe", pure=True).parse(io.StringIO(text)):
        if isinstance(event, ScalarEvent | AliasEvent | CollectionStartEvent) and depth > max_depth:
            raise YamlProblem(*_mark(event), TOO_DEEP.format(limit=max_depth))
        if isinstance(event, CollectionStartEvent):
            depth += 1
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def _check_version(text: str) -> None:
    """Refuse any %YAML directive but 1.2, before the parser sees it (it asserts on versions it does not know,
    and YAML 1.1 would read `yes`, `017` and `1:00` as other values than the loaders do)."""
    for number, row in enumerate(text.splitlines(), start=1):
        if row.startswith("%YAML"):
            words = row.split()
            version = words[1] if len(words) > 1 else "(no version)"
            if version != "1.2":
                raise YamlProblem(number, 1, ONLY_YAML_12.format(version=version))


def _mark(event: Any) -> tuple[int, int]:
    return event.start_mark.line + 1, event.start_mark.column + 1


def _reader_problem(text: str, exc: ReaderError) -> YamlProblem:
    index = min(int(exc.position), len(text))
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    if isinstance(exc.character, int):
        return YamlProblem(line, column, BAD_CHARACTER.format(code=exc.character))
    return YamlProblem(line, column, f"the file cannot be read as text: {exc.reason}")


def scalar_value(node: ScalarNode) -> Any:
    """The plain value of a scalar whose tag is one of the standard ones. Raises ValueError saying why not."""
    tag, text = node_tag(node).removeprefix(YAML_TAG), str(node.value)
    if tag == "null":
        if text not in _NULLS:
            raise ValueError(f"{_shown(node)} is not null")
        return None
    if tag == "bool":
        if text not in _BOOLS:
            raise ValueError(f"{_shown(node)} is not true or false")
        return _BOOLS[text]
    if tag == "int":
        return _integer(node, text)
    if tag == "float":
        return _float(node, text)
    return text


def _integer(node: ScalarNode, text: str) -> int:
    cleaned = text.replace("_", "")
    if not _INT.fullmatch(cleaned):
        raise ValueError(f"{_shown(node)} is not an integer")
    if len(cleaned) > MAX_NUMBER_CHARS:
        raise ValueError(f"{_shown(node)} is too long for a number (at most {MAX_NUMBER_CHARS} characters)")
    sign = -1 if cleaned.startswith("-") else 1
    body = cleaned.lstrip("+-")
    bases = {"0x": 16, "0o": 8, "0b": 2}
    base = bases.get(body[:2].lower(), 10)
    return sign * int(body[2:] if base != 10 else body, base)


def _float(node: ScalarNode, text: str) -> float:
    cleaned = text.replace("_", "")
    if infinity := _INFINITY.fullmatch(cleaned):
        return float("-inf") if infinity.group(1) == "-" else float("inf")
    if _NAN.fullmatch(cleaned):
        return float("nan")
    if not _FLOAT.fullmatch(cleaned):
        raise ValueError(f"{_shown(node)} is not a number")
    if len(cleaned) > MAX_NUMBER_CHARS:
        raise ValueError(f"{_shown(node)} is too long for a number (at most {MAX_NUMBER_CHARS} characters)")
    return float(cleaned)


def _shown(node: ScalarNode) -> str:
    """The value as written: with its tag when the tag was explicit (plain text would mean something else)."""
    text = str(node.value)
    shown = text if len(text) <= 40 else text[:37] + "..."
    tag = node_tag(node)
    implicit = node.style is None and _RESOLVER.resolve(ScalarNode, text, (True, False)) == tag
    return f"'{shown}'" if implicit else f"'{tag.replace(YAML_TAG, '!!')} {shown}'"
