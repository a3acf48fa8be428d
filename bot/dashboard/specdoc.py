"""The SPEC of a pending intent, read once per commit: cut into what a person checks before approving (the
overview, the functional requirements, the endpoints), and rendered as a document whose sections carry the
verifier's points and findings."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from markupsafe import Markup

from bot.dashboard.markdown import heading_text, parse, render_markdown, render_tokens, slug
from bot.dashboard.views import FindingView, SpecView
from bot.vcs.client import RepoClient
from pipeline.spec.verifier import WEIGHTS

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


@dataclass(frozen=True)
class SpecSection:
    """One `##` section of the SPEC, rendered, with what the verifier said about it."""

    title: str
    anchor: str
    html: Markup
    key: str
    """The verifier's name of the section (`functional_requirements`), or empty when it has none."""
    findings: tuple[FindingView, ...] = ()
    points: float | None = None
    weight: int | None = None


@dataclass(frozen=True)
class SpecDocument:
    preamble: Markup
    """What comes before the first section (the title)."""
    sections: tuple[SpecSection, ...]
    unplaced: tuple[FindingView, ...]
    """Findings about a section the document does not have."""

    @property
    def empty(self) -> bool:
        return not self.sections and not str(self.preamble).strip()


def section_key(title: str) -> str:
    """The verifier's key a heading belongs to: `7. Non-functional requirements` -> `non_functional`."""
    words = slug(re.sub(r"^\s*\d+\.\s*", "", title)).replace("-", "_")
    return next((key for key in WEIGHTS if words == key or words.startswith(f"{key}_")), "")


def spec_document(text: str, spec: SpecView | None) -> SpecDocument:
    """The SPEC as HTML, cut at its `##` headings, each section with its findings and points."""
    tokens = parse(text)
    starts = [i for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    findings = list(spec.findings) if spec else []
    scores = spec.section_scores if spec else {}
    sections = []
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(tokens)
        title = heading_text(tokens, start)
        anchor = f"spec-{slug(title)}"
        tokens[start].attrSet("id", anchor)
        key = section_key(title)
        mine = tuple(f for f in findings if key and f.section == key)
        sections.append(
            SpecSection(
                title=title,
                anchor=anchor,
                html=render_tokens(tokens[start:end]),
                key=key,
                findings=mine,
                points=scores.get(key) if key else None,
                weight=WEIGHTS.get(key) if key else None,
            )
        )
    placed = {section.key for section in sections if section.key}
    preamble = render_tokens(tokens[: starts[0]]) if starts else render_markdown(text)
    return SpecDocument(
        preamble=preamble,
        sections=tuple(sections),
        unplaced=tuple(f for f in findings if f.section not in placed),
    )


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
