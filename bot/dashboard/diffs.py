"""A pull request's changes as a reviewer reads them: the intent, the SPEC and the tests first, generated
code folded, each file's hunks parsed from its unified diff and highlighted (Pygments) line by line.

Pure apart from a cache of highlighted text: a patch's highlighting never changes, so it is kept by the
patch's own content.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

from bot.dashboard.markdown import slug
from bot.vcs.models import FileDiff

MAX_FILE_LINES = 400
"""Lines shown per file; the rest is counted and left to the forge."""
MAX_TOTAL_LINES = 4000
"""Lines shown per diff in all; files past it show their counts only."""
HUNK_HEADER = re.compile(r"^@@ -(?P<old>\d+)(?:,\d+)? \+(?P<new>\d+)(?:,\d+)? @@(?P<rest>.*)$")
CLASS_PREFIX = "hl-"


class FileKind(StrEnum):
    """What a changed file is to a reviewer; the order is the reading order."""

    INTENT = "intent"
    SPEC = "SPEC"
    TESTS = "tests"
    MANIFEST = "manifest"
    OTHER = "other"
    GENERATED = "generated"


READING_ORDER = {kind: position for position, kind in enumerate(FileKind)}
FOLDED = frozenset({FileKind.GENERATED})
SPEC_FILES = frozenset({"SPEC.md"})
MANIFEST_FILES = frozenset({"service.yaml", "service.yml"})
TEST_NAMES = frozenset({"conftest.py"})


def kind_of(path: str) -> FileKind:
    """Intent files, the SPEC, tests and the deployment manifest are read; the rest of a service folder is
    what the line generated from them (its code, Dockerfile, requirements, spec.json)."""
    name = posixpath.basename(path)
    parts = path.split("/")
    if parts[0] == "intents" and name.endswith((".yaml", ".yml")):
        return FileKind.INTENT
    if name in SPEC_FILES:
        return FileKind.SPEC
    if (
        "tests" in parts[:-1]
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    ):
        return FileKind.TESTS
    if name in MANIFEST_FILES:
        return FileKind.MANIFEST
    if parts[0] == "services":
        return FileKind.GENERATED
    return FileKind.OTHER


class LineKind(StrEnum):
    ADDED = "add"
    REMOVED = "del"
    CONTEXT = "ctx"
    NOTE = "note"
    """`\\ No newline at end of file`."""


@dataclass(frozen=True)
class DiffLine:
    kind: LineKind
    old: int | None
    new: int | None
    html: Markup

    @property
    def sign(self) -> str:
        return {LineKind.ADDED: "+", LineKind.REMOVED: "−", LineKind.CONTEXT: " "}.get(self.kind, "")


@dataclass(frozen=True)
class Hunk:
    header: str
    lines: tuple[DiffLine, ...]


@dataclass(frozen=True)
class DiffFile:
    path: str
    status: str
    additions: int
    deletions: int
    kind: FileKind
    hunks: tuple[Hunk, ...]
    previous_path: str = ""
    hidden_lines: int = 0
    """Lines of the patch not shown (past the per-file or per-diff limit)."""
    note: str = ""
    fold: bool | None = None
    """Folded whatever its kind (None: by its kind)."""

    @property
    def folded(self) -> bool:
        return self.fold if self.fold is not None else self.kind in FOLDED

    @property
    def anchor(self) -> str:
        return f"file-{slug(self.path)}"

    @property
    def shown(self) -> int:
        return sum(len(h.lines) for h in self.hunks)


NO_PATCH = "no text diff (a binary file, or too large for the forge to show)"
TOO_MANY = "not shown: the diff is long; read this file on the forge"


def review_diff(files: Iterable[FileDiff], *, budget: int = MAX_TOTAL_LINES) -> tuple[DiffFile, ...]:
    """The files in reading order (intent, SPEC, tests, manifest, other, generated; by path within a
    kind), each parsed and highlighted within the line budget."""
    ordered = sorted(files, key=lambda f: (READING_ORDER[kind_of(f.path)], f.path))
    shown: list[DiffFile] = []
    for file in ordered:
        parsed = diff_file(file, limit=min(MAX_FILE_LINES, max(budget, 0)))
        budget -= parsed.shown
        shown.append(parsed)
    return tuple(shown)


def diff_file(file: FileDiff, *, limit: int = MAX_FILE_LINES) -> DiffFile:
    kind = kind_of(file.path)
    base = DiffFile(file.path, file.status, file.additions, file.deletions, kind, (), file.previous_path)
    if not file.patch:
        return _with(base, note=NO_PATCH if file.additions or file.deletions else "")
    raw = file.patch.splitlines()
    if limit <= 0:
        return _with(base, hidden=len(raw), note=TOO_MANY)
    hunks = _hunks(raw[: limit + _headers(raw[:limit])], file.path)
    hidden = len(raw) - sum(len(h.lines) + 1 for h in hunks)
    return _with(base, hunks=hunks, hidden=max(hidden, 0))


def _with(base: DiffFile, *, hunks: tuple[Hunk, ...] = (), hidden: int = 0, note: str = "") -> DiffFile:
    return DiffFile(
        base.path,
        base.status,
        base.additions,
        base.deletions,
        base.kind,
        hunks,
        base.previous_path,
        hidden,
        note,
    )


def _headers(lines: Sequence[str]) -> int:
    return sum(1 for line in lines if line.startswith("@@"))


def _hunks(lines: Sequence[str], path: str) -> tuple[Hunk, ...]:
    """Unified diff hunks; text before the first `@@` (none from GitHub) is skipped."""
    groups: list[tuple[str, int, int, list[str]]] = []
    for line in lines:
        header = HUNK_HEADER.match(line)
        if header:
            groups.append((line, int(header.group("old")), int(header.group("new")), []))
        elif groups:
            groups[-1][3].append(line)
    return tuple(_hunk(header, old, new, body, path) for header, old, new, body in groups)


def _hunk(header: str, old: int, new: int, body: list[str], path: str) -> Hunk:
    code = [line[1:] if line[:1] in ("+", "-", " ") else line for line in body]
    highlighted = highlight_lines(path, tuple(code))
    out: list[DiffLine] = []
    for line, html in zip(body, highlighted, strict=True):
        sign = line[:1]
        if sign == "+":
            out.append(DiffLine(LineKind.ADDED, None, new, html))
            new += 1
        elif sign == "-":
            out.append(DiffLine(LineKind.REMOVED, old, None, html))
            old += 1
        elif sign == "\\":
            out.append(DiffLine(LineKind.NOTE, None, None, Markup.escape(line[1:].strip())))
        else:
            out.append(DiffLine(LineKind.CONTEXT, old, new, html))
            old, new = old + 1, new + 1
    return Hunk(header, tuple(out))


def whole_file(path: str, text: str, *, status: str, fold: bool | None = None) -> DiffFile:
    """A file shown whole (every line as context): the intent as it stands on the default branch."""
    lines = text.splitlines()[:MAX_FILE_LINES]
    highlighted = highlight_lines(path, tuple(lines))
    hunk = Hunk(
        "",
        tuple(DiffLine(LineKind.CONTEXT, n, n, html) for n, html in enumerate(highlighted, start=1)),
    )
    hidden = max(0, len(text.splitlines()) - len(lines))
    return DiffFile(path, status, 0, 0, kind_of(path), (hunk,), hidden_lines=hidden, fold=fold)


@functools.lru_cache(maxsize=2048)
def highlight_lines(path: str, lines: tuple[str, ...]) -> tuple[Markup, ...]:
    """Each line highlighted for `path`'s language (by its name); plain escaped text for unknown ones. The
    lines of a hunk are highlighted together, so a string or docstring that spans lines reads right."""
    if not lines:
        return ()
    html = highlight("\n".join(lines) + "\n", _lexer(posixpath.basename(path)), _formatter())
    out = html.split("\n")[: len(lines)]
    out += [""] * (len(lines) - len(out))
    return tuple(Markup(line) for line in out)


@functools.lru_cache(maxsize=256)
def _lexer(name: str) -> Lexer:
    try:
        return get_lexer_for_filename(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


@functools.cache
def _formatter() -> HtmlFormatter[str]:
    return HtmlFormatter(nowrap=True, classprefix=CLASS_PREFIX)


def totals(files: Sequence[DiffFile]) -> tuple[int, int]:
    """(lines added, lines removed) over the files."""
    return sum(f.additions for f in files), sum(f.deletions for f in files)
