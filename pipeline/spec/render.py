"""Rendering a Spec to SPEC.md (Jinja2 template) and writing it beside its structured form, spec.json."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import ValidationError

from pipeline.resources import resource
from pipeline.spec.describe import describe
from pipeline.spec.model import Spec

SPEC_MARKDOWN = "SPEC.md"
SPEC_JSON = "spec.json"


def templates_dir() -> Path:
    """The project's `templates/` folder (in the checkout, or shipped inside an installed package)."""
    return resource("templates")


@functools.cache
def jinja_environment(subdir: str) -> Environment:
    """One per template folder, shared: each template is compiled once per process (not once per service
    generated), and recompiled when its file changes. Callers must not change its globals or filters."""
    return Environment(
        loader=FileSystemLoader(templates_dir() / subdir),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Markdown and Python source, not HTML
    )


def render_markdown(spec: Spec) -> str:
    template = jinja_environment("spec").get_template("SPEC.md.j2")
    return template.render(spec=spec, describe=describe, as_json=_as_json)


def _as_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_spec(spec: Spec, directory: Path) -> tuple[Path, Path]:
    """Write SPEC.md and spec.json into `directory` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    markdown = directory / SPEC_MARKDOWN
    markdown.write_text(render_markdown(spec), encoding="utf-8")
    structured = directory / SPEC_JSON
    structured.write_text(json.dumps(spec.to_json(), indent=2) + "\n", encoding="utf-8")
    return markdown, structured


def read_spec(path: Path) -> Spec:
    """Load a spec.json (or the spec.json inside a directory). Raises ValueError with the file named."""
    if path.is_dir():
        path = path / SPEC_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{path}: not a valid spec: {exc}") from None
