"""`file_path` requests: a spec.json (or SPEC.md beside it) read only under the stage's configured root."""

from __future__ import annotations

from pathlib import Path

from fastapi import HTTPException

from pipeline.spec.model import Spec
from pipeline.spec.render import SPEC_JSON, read_spec, render_markdown
from pipeline.spec.verifier import Finding, stale_markdown

MAX_FILE_BYTES = 1024 * 1024
NO_ROOT = "this stage serves no files (no root configured)"
OUTSIDE_ROOT = "{path}: outside the stage's root"
NO_SPEC = "{path}: no spec.json there"
NO_FILE = "{path}: no such file"
TOO_LARGE = "{path}: larger than {limit} bytes"
UNREADABLE = "{path}: cannot read: {error}"


def read_spec_file(root: Path | None, file_path: str) -> tuple[Spec, tuple[Finding, ...]]:
    """The spec.json at (or beside) `file_path`; given a SPEC.md, also whether it matches spec.json."""
    if root is None:
        raise HTTPException(status_code=404, detail=NO_ROOT)
    root = root.resolve()
    target = (root / file_path).resolve()
    if not target.is_relative_to(root):
        raise HTTPException(status_code=403, detail=OUTSIDE_ROOT.format(path=file_path))
    markdown = target if target.suffix == ".md" else None
    if markdown is not None:
        target = target.with_name(SPEC_JSON)  # SPEC.md is rendered from spec.json beside it
    if target.is_dir():
        target = target / SPEC_JSON
    if not target.is_file():
        raise HTTPException(status_code=404, detail=NO_SPEC.format(path=file_path))
    _bounded(target, file_path)
    try:
        spec = read_spec(target)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc).replace(str(root) + "/", "")) from None
    if markdown is None:
        return spec, ()
    return spec, stale_markdown(spec, _read_markdown(markdown, file_path), render_markdown(spec))


def _bounded(path: Path, file_path: str) -> None:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise HTTPException(status_code=413, detail=TOO_LARGE.format(path=file_path, limit=MAX_FILE_BYTES))


def _read_markdown(path: Path, file_path: str) -> str:
    if not path.is_file():
        raise HTTPException(status_code=404, detail=NO_FILE.format(path=file_path))
    _bounded(path, file_path)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HTTPException(status_code=422, detail=UNREADABLE.format(path=file_path, error=exc)) from None
