"""spec-analyzer's answer: which findings cost the most optimizer rounds, week by week, and the
spec-builder hints that would avoid them, as a `spec-builder-vN` intent says them.

Read from the line's own history (`export.page`, or the read API's pages as `records.IntentHistory`), by
the line itself and by the spec-analyzer service it builds (which gets this module in its stage kit: so it
imports no database code). A finding "costs" the optimizer rounds of every SPEC it was repaired in (the
round it needed, and any after), and a finding left in the final SPEC is one the optimizer could not repair.
Each suggestion names the findings it answers.
"""

from __future__ import annotations

import io
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ruamel.yaml import YAML

from pipeline.history.records import IntentHistory
from pipeline.spec.verifier import MEASURABLE

MEASURED_WORDS: dict[str, str] = dict(MEASURABLE)
"""Vague words the line's verifier knows a measurable stand-in for."""
QUOTED_WORD = re.compile(r"'([^']{1,40})' is not measurable")
"""The word a vague-word finding quotes (`pipeline.spec.verifier`'s message)."""

SUGGESTED_SECTIONS: dict[str, tuple[str, list[str]]] = {
    "no-metrics": (
        "observability",
        [
            "GET /metrics counts requests as http_requests_total, by method, route and status.",
            "GET /metrics times requests as http_request_duration_seconds, by route.",
        ],
    ),
    "no-out-of-scope": (
        "out_of_scope",
        ["Single sign-on and user management: {title} trusts the caller the line's gateway names."],
    ),
}
"""Finding code -> the spec-builder section and lines that answer it."""
SUGGESTED_NON_FUNCTIONAL = {"latency_ms": 200, "latency_percentile": 95}
NON_FUNCTIONAL_FINDINGS = frozenset({"no-latency", "nfr-no-number"})
PURPOSE = "SPEC generation whose templates answer the findings that cost the most optimizer rounds: {codes}."
HEADER = "# Suggested by spec-analyzer from {count} SPECs of the line's history ({since} to {until}).\n"


@dataclass(frozen=True)
class FindingCost:
    code: str
    rounds: int
    """Optimizer rounds of the SPECs it was repaired in."""
    repairs: int
    left: int
    """SPECs still carrying it after the optimizer."""

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "rounds": self.rounds, "repairs": self.repairs, "left": self.left}


@dataclass(frozen=True)
class Week:
    week: str
    specs: int
    mean_rounds: float
    gate_rate: float
    top: tuple[FindingCost, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "week": self.week,
            "specs": self.specs,
            "mean_rounds": self.mean_rounds,
            "gate_rate": self.gate_rate,
            "top_findings": [f.to_json() for f in self.top],
        }


@dataclass(frozen=True)
class SpecAnalysis:
    specs: int
    since: str
    until: str
    findings: tuple[FindingCost, ...]
    weeks: tuple[Week, ...]
    vague_words: tuple[tuple[str, int], ...]
    hints: dict[str, Any]
    answers: tuple[str, ...]
    """The finding codes the suggested hints answer."""

    def intent_text(self, *, version: int = 2) -> str:
        """The suggestion as a `spec-builder-vN` intent file ("" when there is nothing to suggest)."""
        if not self.hints:
            return ""
        data = {
            "service_name": f"spec-builder-v{version}",
            "purpose": PURPOSE.format(codes=", ".join(self.answers)),
            "tier": 0,
            "implements": "spec-builder@1",
            "stage_hints": self.hints,
        }
        return HEADER.format(count=self.specs, since=self.since, until=self.until) + dump_yaml_text(data)

    def to_json(self) -> dict[str, Any]:
        return {
            "specs": self.specs,
            "since": self.since,
            "until": self.until,
            "findings": [f.to_json() for f in self.findings],
            "weeks": [w.to_json() for w in self.weeks],
            "vague_words": [{"word": w, "specs": n} for w, n in self.vague_words],
            "suggested_hints": self.hints,
            "answers": list(self.answers),
            "suggested_intent": self.intent_text(),
        }


def dump_yaml_text(data: dict[str, Any]) -> str:
    """Plain block YAML of `data`, keys in their order, long lines kept whole."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(dict(data), out)
    return out.getvalue()


def _week(moment: str) -> str:
    year, week, _day = datetime.fromisoformat(moment).isocalendar()
    return f"{year}-W{week:02d}"


def _costs(specs: list[dict[str, Any]], *, limit: int) -> tuple[FindingCost, ...]:
    rounds: Counter[str] = Counter()
    repairs: Counter[str] = Counter()
    left: Counter[str] = Counter()
    for spec in specs:
        made = [m.split()[0] for r in spec["rounds"] for m in r.get("repairs", ()) if m.strip()]
        repairs.update(made)
        for code in set(made):
            rounds[code] += spec["optimizer_rounds"]
        left.update({f["code"] for f in spec["findings"] if f["code"]})
    codes = set(repairs) | set(left)
    ranked = sorted(codes, key=lambda c: (-rounds[c], -left[c], -repairs[c], c))
    return tuple(FindingCost(c, rounds[c], repairs[c], left[c]) for c in ranked[:limit])


def _vague(specs: list[dict[str, Any]]) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for spec in specs:
        words = {
            m[1].lower() for f in spec["findings"] if (m := QUOTED_WORD.search(f["message"])) is not None
        }
        counts.update(words)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def suggest(
    findings: Iterable[FindingCost], vague_words: Iterable[tuple[str, int]]
) -> tuple[dict[str, Any], list[str]]:
    """spec-builder hints for the costly findings the line knows an answer to, and the codes answered."""
    hints: dict[str, Any] = {}
    answers: list[str] = []
    for finding in findings:
        if finding.code == "vague-word":
            wording = {w: MEASURED_WORDS[w] for w, _n in vague_words if w in MEASURED_WORDS}
            if wording:
                hints["wording"] = wording
                answers.append(finding.code)
        elif finding.code in SUGGESTED_SECTIONS:
            section, lines = SUGGESTED_SECTIONS[finding.code]
            hints.setdefault("sections", {})[section] = lines
            answers.append(finding.code)
        elif finding.code in NON_FUNCTIONAL_FINDINGS and "non_functional" not in hints:
            hints["non_functional"] = dict(SUGGESTED_NON_FUNCTIONAL)
            answers.append(finding.code)
    return hints, answers


def analyze(history: Iterable[IntentHistory], *, limit: int = 10) -> SpecAnalysis:
    """What the SPECs of `history` cost, overall and per ISO week, and the hints that would avoid it."""
    dated = sorted(
        ((h.updated_at.isoformat(), h.spec) for h in history if h.spec is not None), key=lambda t: t[0]
    )
    specs = [spec for _at, spec in dated]
    by_week: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for at, spec in dated:
        by_week[_week(at)].append(spec)
    weeks = tuple(
        Week(
            week=week,
            specs=len(items),
            mean_rounds=round(statistics.fmean(s["optimizer_rounds"] for s in items), 3),
            gate_rate=round(sum(1 for s in items if s["reached_gate"]) / len(items), 3),
            top=_costs(items, limit=3),
        )
        for week, items in sorted(by_week.items())
    )
    findings = _costs(specs, limit=limit)
    vague = _vague(specs)
    hints, answers = suggest(findings, vague)
    return SpecAnalysis(
        specs=len(specs),
        since=dated[0][0][:10] if dated else "",
        until=dated[-1][0][:10] if dated else "",
        findings=findings,
        weeks=weeks,
        vague_words=tuple(vague[:limit]),
        hints=hints,
        answers=tuple(answers),
    )
