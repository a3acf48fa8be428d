"""A file's unified diff as rows of a table: hunk headers, added, removed and context lines."""

from __future__ import annotations

import re
from dataclasses import dataclass

HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
MAX_LINES = 2000


@dataclass(frozen=True)
class Row:
    kind: str
    """hunk, add, del, ctx, note"""
    old: int | None
    new: int | None
    text: str


def rows(patch: str) -> tuple[list[Row], int]:
    """The rows of `patch` (at most MAX_LINES) and how many lines were left out."""
    lines = patch.splitlines()
    out: list[Row] = []
    old = new = 0
    for line in lines[:MAX_LINES]:
        header = HUNK.match(line)
        if header:
            old, new = int(header.group(1)), int(header.group(2))
            out.append(Row("hunk", None, None, line))
        elif line.startswith("+"):
            out.append(Row("add", None, new, line[1:]))
            new += 1
        elif line.startswith("-"):
            out.append(Row("del", old, None, line[1:]))
            old += 1
        elif line.startswith("\\"):
            out.append(Row("note", None, None, line[1:].strip()))
        else:
            out.append(Row("ctx", old, new, line[1:]))
            old, new = old + 1, new + 1
    return out, max(0, len(lines) - MAX_LINES)
