"""Reading the shadow evaluation's data files (the bundled history, the adversarial set, a history given on
the command line): safe YAML, validated by a pydantic model, every problem with its file and line."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from pipeline.governance.yamldoc import KEY, Document, DocumentError, read_document
from pipeline.intents import Intent, InvalidIntent, parse_intent_mapping

DATA = Path(__file__).resolve().parent / "data"
MAX_DATA_BYTES = 4 * 1024 * 1024
CANNOT_READ = "{path}: cannot read the file: {problem}"

ModelT = TypeVar("ModelT", bound=BaseModel)


class ShadowDataError(ValueError):
    """A data file cannot be used; the message names the file and line."""


def read_model(path: Path, model: type[ModelT]) -> tuple[ModelT, Document]:
    """The file at `path` as `model` (and its document, for the positions of what is inside)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ShadowDataError(CANNOT_READ.format(path=path, problem=exc.strerror or exc)) from None
    try:
        document = read_document(data, max_bytes=MAX_DATA_BYTES)
    except DocumentError as exc:
        raise ShadowDataError(f"{path}:{exc.line}:{exc.column}: {exc.message}") from None
    try:
        return model.model_validate(document.value), document
    except ValidationError as exc:
        error = exc.errors()[0]
        line, column = document.position(tuple(error["loc"]))
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise ShadowDataError(f"{path}:{line}:{column}: {where}: {error['msg']}") from None


def intent_at(
    value: dict[str, object], *, path: Path, document: Document, where: tuple[str | int, ...]
) -> Intent:
    """An intent written inside a data file at `where`; its problems name the file and line."""
    positions = {
        key[len(where) :]: position
        for key, position in document.positions.items()
        if key[: len(where)] == where and key[-1] != KEY
    }
    try:
        return parse_intent_mapping(value, source=str(path), positions=positions)
    except InvalidIntent as exc:
        raise ShadowDataError("\n".join(str(problem) for problem in exc.problems)) from None
