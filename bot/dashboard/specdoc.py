"""The SPEC of a pending intent, read once per commit and cut into what a person checks before approving:
the overview, the functional requirements and the endpoints."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from bot.vcs.client import RepoClient

PREVIEW_CHARS = 60_000
MAX_ENTRIES = 256
SECTION = re.compile(r"^##\s+(?:\d+\.\s*)?(.+?)\s*$")
ENDPOINT = re.compile(r"^###\s+(.+?)\s*$")


@dataclass(frozen=True)
class SpecDigest:
    overview: str
    requirements: tuple[str, ...]
    endpoints: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.overview or self.requirements or self.endpoints)


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        heading = SECTION.match(line)
        if heading:
            current = sections.setdefault(heading.group(1).lower(), [])
        elif current is not None:
            current.append(line)
    return sections


def _section(sections: dict[str, list[str]], word: str) -> list[str]:
    return next((lines for title, lines in sections.items() if word in title), [])


def _plain(line: str) -> str:
    return line.replace("**", "").strip()


def digest(text: str) -> SpecDigest:
    """The parts a reviewer reads first; a SPEC without these headings gives an empty digest."""
    sections = _sections(text)
    overview = "\n".join(_plain(line) for line in _section(sections, "overview")).strip()
    requirements = tuple(
        _plain(line)[2:] for line in _section(sections, "functional requirements") if line.startswith("- ")
    )
    endpoints = tuple(
        found.group(1).replace("`", "")
        for found in map(ENDPOINT.match, _section(sections, "endpoints"))
        if found
    )
    overview = re.sub(r"\n{3,}", "\n\n", overview)
    return SpecDigest(overview=overview, requirements=requirements, endpoints=endpoints)


class SpecCache:
    """SPEC texts by (repository, commit, path): a file at a commit never changes, so entries never go
    stale; the oldest are dropped past MAX_ENTRIES. Only filled and read for people who could read the
    pull request (see `approvals._pending`)."""

    def __init__(self) -> None:
        self._texts: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def text(self, client: RepoClient, sha: str, path: str) -> str:
        if not path:
            return ""
        key = (client.full_name, sha, path)
        with self._lock:
            if key in self._texts:
                self._texts.move_to_end(key)
                return self._texts[key]
        data = client.read_file(path, sha) or b""
        text = data.decode("utf-8", errors="replace")[:PREVIEW_CHARS]
        with self._lock:
            self._texts[key] = text
            while len(self._texts) > MAX_ENTRIES:
                self._texts.popitem(last=False)
        return text
