"""Reading the goals out of a BLUEPRINT.md and tracing requirements to the closest one (lexically)."""

from __future__ import annotations

import re

_GOAL_LINE = re.compile(r"^\s*\d+\.\s+\*\*(?P<title>[^*]+?)\.?\*\*\s*(?P<rest>.*)$")
_WORD = re.compile(r"[a-z][a-z0-9-]{2,}")
_STOP = frozenset({"the", "and", "for", "with", "that", "this", "from", "its", "are", "into", "about", "all"})


def blueprint_goals(text: str) -> list[tuple[str, str]]:
    """(title, description) for each numbered bold goal, e.g. `1. **Fast, reliable delivery.** ...`."""
    goals: list[tuple[str, str]] = []
    for line in text.splitlines():
        match = _GOAL_LINE.match(line)
        if match:
            goals.append((match["title"].strip(), match["rest"].strip()))
        elif goals and line.startswith("   ") and line.strip():
            title, rest = goals[-1]
            goals[-1] = (title, f"{rest} {line.strip()}".strip())
    return goals


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def closest_goal(goals: list[tuple[str, str]], text: str) -> str | None:
    """The goal sharing the most words with `text`; None when nothing is shared."""
    wanted = _words(text)
    best, best_overlap = None, 0
    for title, description in goals:
        overlap = len(wanted & _words(f"{title} {description}"))
        if overlap > best_overlap:
            best, best_overlap = title, overlap
    return best
