"""Loading intent files safely: YAML is composed, checked, then built; every error has file, line, column.

The YAML is composed into nodes first (which builds no Python objects and expands no aliases). The node
tree is then checked: only the standard tags, no alias bomb, no duplicate keys. Only then are plain values
built from it, by this module, so no YAML tag can ever construct an object.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipeline.intents.model import Intent
from pipeline.intents.problems import IntentProblem, InvalidIntent
from pipeline.intents.yamlsafe import YamlProblem, compose, scalar_value

DEFAULT_MAX_BYTES = 256 * 1024
# An intent has a few dozen nodes; a document that expands past this is an alias bomb or not an intent.
MAX_EXPANDED_NODES = 20_000
MAX_DEPTH = 32

_YAML = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {
    f"{_YAML}{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")
}

UNREADABLE = "the YAML could not be read ({error})"
NOT_A_MAPPING = "an intent must be a mapping of fields (service_name: ..., purpose: ...), not {kind}"

Position = tuple[int, int]
PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class LocatedIntent:
    """A valid intent and where, in its file, each field's value starts (1-based line and column)."""

    intent: Intent
    source: str
    positions: Mapping[PathKey, Position]

    def position_of(self, *field: str | int) -> Position:
        """Where the field's value starts; (0, 0) when the intent did not come from YAML."""
        return self.positions.get(tuple(field), (0, 0))


def load_intent_file(
    path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, display: str | None = None
) -> Intent:
    """Read and validate one intent file. Raises InvalidIntent with every problem found."""
    return load_located_intent_file(path, max_bytes=max_bytes, display=display).intent


def load_located_intent_file(
    path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, display: str | None = None
) -> LocatedIntent:
    """Like `load_intent_file`, keeping where each field was written."""
    name = display or str(path)
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidIntent(
            [IntentProblem(name, 0, 0, f"cannot read the file: {exc.strerror or exc}")]
        ) from None
    if size > max_bytes:
        raise InvalidIntent([_too_large(name, size, max_bytes)])
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InvalidIntent(
            [IntentProblem(name, 0, 0, f"cannot read the file: {exc.strerror or exc}")]
        ) from None
    return load_located_intent(data, source=name, max_bytes=max_bytes)


def load_intent(data: bytes | str, *, source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Intent:
    """Validate an intent from raw bytes (as committed) or text. Raises InvalidIntent."""
    return load_located_intent(data, source=source, max_bytes=max_bytes).intent


def load_located_intent(
    data: bytes | str, *, source: str, max_bytes: int = DEFAULT_MAX_BYTES
) -> LocatedIntent:
    """Like `load_intent`, keeping where each field was written (to point at a field that is valid on its
    own but wrong next to other files, such as a service name another file already owns)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise InvalidIntent([_too_large(source, len(raw), max_bytes)])
    text = _decode(raw, source)
    value, positions = _read_yaml(text, source)
    intent = parse_intent_mapping(value, source=source, positions=positions)
    return LocatedIntent(intent=intent, source=source, positions=MappingProxyType(positions))


def parse_intent_mapping(
    value: Any, *, source: str, positions: dict[PathKey, Position] | None = None
) -> Intent:
    """Validate already-parsed data (from YAML or a JSON API body) as an intent. Raises InvalidIntent."""
    positions = positions or {}
    if not isinstance(value, dict):
        raise InvalidIntent(
            [IntentProblem(source, *positions.get((), (0, 0)), "an intent must be a mapping")]
        )
    try:
        return Intent.model_validate(value)
    except ValidationError as exc:
        problems = [_problem_from_error(error, source, positions) for error in exc.errors()]
        raise InvalidIntent(_dedupe(problems)) from None


def _read_yaml(text: str, source: str) -> tuple[Any, dict[PathKey, Position]]:
    """The document's plain value and positions. Any failure is this file's problem, never an exception
    that escapes to whatever is reading many files (the checks below exist so that none is expected)."""
    try:
        root = _compose(text, source)
        _check_tree(root, source)
        if not isinstance(root, MappingNode):
            kind = "a list" if isinstance(root, SequenceNode) else "a single value"
            raise InvalidIntent([_at(source, root, NOT_A_MAPPING.format(kind=kind))])
        positions: dict[PathKey, Position] = {}
        return _build(root, (), positions, source), positions
    except InvalidIntent:
        raise
    except Exception as exc:
        problem = UNREADABLE.format(error=f"{type(exc).__name__}: {exc}"[:200])
        raise InvalidIntent([IntentProblem(source, 0, 0, problem)]) from exc


# -- decoding and composing -------------------------------------------------------------------------------


def _too_large(source: str, size: int, limit: int) -> IntentProblem:
    return IntentProblem(source, 0, 0, f"the file is {size} bytes; intents may be at most {limit} bytes")


def _decode(raw: bytes, source: str) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise InvalidIntent(
            [
                IntentProblem(
                    source, line, column, f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})"
                )
            ]
        ) from None
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise InvalidIntent(
            [
                IntentProblem(
                    source, 1, 1, "the file is empty; an intent needs at least service_name and purpose"
                )
            ]
        )
    for number, row in enumerate(text.splitlines(), start=1):
        indent = len(row) - len(row.lstrip(" \t"))
        if "\t" in row[:indent]:
            column = row.index("\t") + 1
            raise InvalidIntent(
                [
                    IntentProblem(
                        source, number, column, "a tab is used for indentation; YAML allows only spaces there"
                    )
                ]
            )
    return text


def _compose(text: str, source: str) -> Node:
    try:
        node = compose(text, max_depth=MAX_DEPTH)
    except YamlProblem as exc:
        raise InvalidIntent([IntentProblem(source, exc.line, exc.column, exc.message)]) from None
    if node is None or (isinstance(node, ScalarNode) and _tag(node) == f"{_YAML}null"):
        raise InvalidIntent(
            [
                IntentProblem(
                    source, 1, 1, "the file is empty; an intent needs at least service_name and purpose"
                )
            ]
        )
    return node


# -- checking the node tree (before anything is built) ----------------------------------------------------


def _tag(node: Node) -> str:
    return str(getattr(node.tag, "value", node.tag))


def _at(source: str, node: Node, message: str, field: str = "") -> IntentProblem:
    mark = node.start_mark
    return IntentProblem(source, mark.line + 1, mark.column + 1, message, field)


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, SequenceNode):
        yield from node.value


def _check_tree(root: Node, source: str) -> None:
    """Refuse unknown tags, alias bombs, deep nesting and duplicate keys, without expanding anything."""
    expanded: dict[int, int] = {}
    on_stack: set[int] = set()

    def size(node: Node, depth: int) -> int:
        key = id(node)
        if key in expanded:
            return expanded[key]
        if key in on_stack:
            raise InvalidIntent([_at(source, node, "an alias refers to a node that contains it (a cycle)")])
        if depth > MAX_DEPTH:
            raise InvalidIntent([_at(source, node, f"the document nests deeper than {MAX_DEPTH} levels")])
        tag = _tag(node)
        if tag not in _ALLOWED_TAGS:
            raise InvalidIntent(
                [_at(source, node, f"the tag '{tag.replace(_YAML, '!!')}' is not allowed in an intent")]
            )
        on_stack.add(key)
        total = 1
        for child in _children(node):
            total += size(child, depth + 1)
            if total > MAX_EXPANDED_NODES:
                raise InvalidIntent(
                    [
                        _at(
                            source,
                            node,
                            f"the document expands to more than {MAX_EXPANDED_NODES} values (alias bomb?)",
                        )
                    ]
                )
        on_stack.discard(key)
        expanded[key] = total
        if isinstance(node, MappingNode):
            _check_duplicate_keys(node, source)
        return total

    size(root, 0)


def _check_duplicate_keys(node: MappingNode, source: str) -> None:
    seen: dict[str, Node] = {}
    for key, _value in node.value:
        if _tag(key) == f"{_YAML}merge":
            continue
        text = key.value if isinstance(key, ScalarNode) else None
        if text is None:
            raise InvalidIntent(
                [_at(source, key, "a mapping key must be a plain value, not a list or mapping")]
            )
        if text in seen:
            first = seen[text].start_mark.line + 1
            raise InvalidIntent(
                [_at(source, key, f"duplicate key '{text}' (first given on line {first})", text)]
            )
        seen[text] = key


# -- building plain values, remembering where each came from ----------------------------------------------


def _build(node: Node, path: PathKey, positions: dict[PathKey, Position], source: str) -> Any:
    positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, MappingNode):
        result: dict[str, Any] = {}
        for key, value in node.value:
            name = str(key.value)
            positions[(*path, name, "__key__")] = (key.start_mark.line + 1, key.start_mark.column + 1)
            if _is_empty(value):
                # An empty value is marked where the next token starts (often the next line): use the key.
                positions[(*path, name)] = positions[(*path, name, "__key__")]
            result[name] = _build(value, (*path, name), positions, source)
        return result
    if isinstance(node, SequenceNode):
        return [_build(item, (*path, index), positions, source) for index, item in enumerate(node.value)]
    if isinstance(node, ScalarNode):
        return _scalar(node, path, source)
    raise InvalidIntent([_at(source, node, "this YAML node is not a value, a list or a mapping")])


def _is_empty(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.value == "" and node.style is None


def _scalar(node: ScalarNode, path: PathKey, source: str) -> Any:
    try:
        return scalar_value(node)
    except ValueError as exc:
        field = ".".join(str(part) for part in path)
        raise InvalidIntent([_at(source, node, str(exc), field)]) from None


# -- turning pydantic errors into problems a person can act on --------------------------------------------


_TYPE_WORDS = {
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "bool_type": "expected true or false",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "float_type": "expected a number",
}


def _problem_from_error(error: Any, source: str, positions: dict[PathKey, Position]) -> IntentProblem:
    loc: PathKey = tuple(error["loc"])
    kind = error["type"]
    field = ".".join(str(part) for part in loc)
    message = str(error["msg"])
    if kind == "extra_forbidden":
        parent = loc[:-1]
        allowed = _allowed_fields(parent)
        message = f"unknown field '{loc[-1]}'" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
        position = positions.get((*loc, "__key__")) or positions.get(loc)
    elif kind == "missing":
        message = f"missing required field '{loc[-1]}'"
        position = positions.get(loc[:-1])
    else:
        if kind in _TYPE_WORDS:
            message = f"{_TYPE_WORDS[kind]}, got {_describe(error.get('input'))}"
        elif kind in {"enum", "literal_error"}:
            expected = error.get("ctx", {}).get("expected", "")
            message = f"must be one of {expected}, got {_describe(error.get('input'))}"
        elif kind in _BOUND_WORDS:
            message = _bound_message(loc, kind, error)
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        position = _nearest(loc, positions)
    line, column = position or (0, 0)
    return IntentProblem(source, line, column, message, field)


_BOUND_WORDS = {
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "string_too_short": "must be at least {min_length} characters long",
    "string_too_long": "must be at most {max_length} characters long",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
}
TIER_RANGE = "must be 0, 1, 2 or 3, got {value}"


def _bound_message(loc: PathKey, kind: str, error: Any) -> str:
    """pydantic's range and length errors in the words of the field ('tier must be 0, 1, 2 or 3')."""
    if loc == ("tier",):
        return TIER_RANGE.format(value=error.get("input"))
    message = _BOUND_WORDS[kind].format(**error.get("ctx", {}))
    return f"{message}, got {_describe(error.get('input'))}" if kind.endswith("_equal") else message


def _nearest(loc: PathKey, positions: dict[PathKey, Position]) -> Position | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in positions:
            return positions[loc[:end]]
    return None


def _allowed_fields(parent: PathKey) -> list[str]:
    """The fields the model at `parent` (a mapping inside the intent) allows."""
    model = _model_at(parent)
    return sorted(model.model_fields) if model is not None else []


def _model_at(parent: PathKey) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at `parent`, following fields, list items, mapping
    values and unions."""
    annotation: Any = Intent
    for part in parent:
        origin = get_origin(annotation)
        if origin in (list, dict):
            annotation = get_args(annotation)[-1]  # an item, or a mapping's value, whatever its key
            continue
        model = _model_in(annotation)
        info = model.model_fields.get(str(part)) if model is not None else None
        if info is None:
            return None
        annotation = _unwrapped(info.annotation)
    return _model_in(annotation)


def _unwrapped(annotation: Any) -> Any:
    """`list[X] | None` -> `list[X]`; `Annotated[...]` -> its type."""
    if get_origin(annotation) is Annotated:
        return _unwrapped(get_args(annotation)[0])
    arguments = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(arguments) == 1:
        return _unwrapped(arguments[0])
    return annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (list, dict):
        return None
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int | float):
        return f"{value} (a number)"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"'{shown}' (text)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _dedupe(problems: list[IntentProblem]) -> list[IntentProblem]:
    seen: set[tuple[int, int, str]] = set()
    unique = []
    for problem in problems:
        key = (problem.line, problem.column, problem.message)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return sorted(unique, key=lambda p: (p.line, p.column))
