"""Evaluate monitor rules over the line's metrics, and plan what to file: pure functions over values.

A rule that holds *fires*; a firing becomes a filing only if no pull request of that rule is still open and
fewer than the day's maximum have been filed. Each refusal is a value that says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pipeline.monitor.metrics import MEASURED_WORDS, LineMetrics
from pipeline.monitor.rules import MonitorRule

VERSION_FROM = 2
"""A stage's first new version is -v2 (the built-in is the first)."""


class Plan(StrEnum):
    FILE = "file"
    QUIET = "quiet"
    """The rule does not hold."""
    OPEN = "open"
    """A pull request of this rule is still open."""
    DAILY_LIMIT = "daily_limit"
    ERROR = "error"
    """The rule could not be evaluated (its error says why): never a firing."""


@dataclass(frozen=True)
class Outcome:
    rule: MonitorRule
    plan: Plan
    variables: Mapping[str, Any]
    metrics: LineMetrics
    error: str = ""
    open_pull: int | None = None
    service_name: str = ""
    intent_text: str = ""

    @property
    def fired(self) -> bool:
        return self.plan in (Plan.FILE, Plan.OPEN, Plan.DAILY_LIMIT)

    @property
    def intent_path(self) -> str:
        return f"intents/{self.service_name}.yaml" if self.service_name else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule.name,
            "source": self.rule.source,
            "when": self.rule.when.text,
            "window_days": self.rule.window_days,
            "fired": self.fired,
            "plan": self.plan.value,
            "error": self.error,
            "open_pull": self.open_pull,
            "metrics": dict(self.variables),
            "would_file": self.intent_path if self.plan is Plan.FILE else None,
            "intent": self.intent_text if self.plan is Plan.FILE else None,
            "evidence": evidence(self.metrics),
        }


def evidence(metrics: LineMetrics, *, limit: int = 10) -> dict[str, Any]:
    """What the line saw: the SPECs with the most optimizer rounds, the costliest findings, vague words."""
    costly = sorted(metrics.specs, key=lambda s: (-s.rounds, s.path))[:limit]
    return {
        "since": metrics.since.isoformat(),
        "until": metrics.until.isoformat(),
        "specs": [
            {"path": s.path, "rounds": s.rounds, "score": s.score, "reached_gate": s.reached_gate}
            for s in costly
        ],
        "findings": [
            {"code": code, "rounds": rounds, "repairs": times}
            for code, rounds, times in metrics.cost_by_finding()[:limit]
        ],
        "vague_words": [{"word": w, "specs": n} for w, n in metrics.vague_words()[:limit]],
    }


def wording_hints(metrics: LineMetrics) -> dict[str, dict[str, str]]:
    """spec-builder `wording` hints for the vague words the window's SPECs were left with, each replaced by
    the measurable words the line's own verifier accepts (words without a stand-in are left to people)."""
    wording = {w: MEASURED_WORDS[w] for w, _n in metrics.vague_words() if w in MEASURED_WORDS}
    return {"wording": wording} if wording else {}


def next_version(rule: MonitorRule, taken: Callable[[str], bool]) -> int:
    """The first version from VERSION_FROM whose service name is not taken."""
    version = VERSION_FROM
    while taken(rule.service_name(version)):
        version += 1
    return version


def plan_rules(
    rules: Sequence[MonitorRule],
    *,
    metrics_for: Callable[[int], LineMetrics],
    open_pulls: Mapping[str, int],
    filed_today: int,
    max_per_day: int,
    taken: Callable[[str], bool],
) -> list[Outcome]:
    """Evaluate each rule on the metrics of its window and say what to do; at most `max_per_day` filings a
    day, counting `filed_today`; none for a rule with an open pull request (`open_pulls`: rule -> number)."""
    outcomes: list[Outcome] = []
    budget = max(0, max_per_day - filed_today)
    chosen: set[str] = set()
    for rule in rules:
        metrics = metrics_for(rule.window_days)
        variables = metrics.variables()
        result = rule.when.evaluate(variables)
        base: dict[str, Any] = {"rule": rule, "variables": variables, "metrics": metrics}
        if result.error:
            outcomes.append(Outcome(plan=Plan.ERROR, error=result.error, **base))
        elif not result.matched:
            outcomes.append(Outcome(plan=Plan.QUIET, **base))
        elif rule.name in open_pulls:
            outcomes.append(Outcome(plan=Plan.OPEN, open_pull=open_pulls[rule.name], **base))
        elif budget <= 0:
            outcomes.append(Outcome(plan=Plan.DAILY_LIMIT, **base))
        else:
            budget -= 1
            version = next_version(rule, lambda name: name in chosen or taken(name))
            chosen.add(rule.service_name(version))
            hints = wording_hints(metrics) if rule.proposal.hints_from_findings else {}
            text = rule.intent_text(version, extra_hints=hints)
            outcomes.append(
                Outcome(plan=Plan.FILE, service_name=rule.service_name(version), intent_text=text, **base)
            )
    return outcomes


def fired(outcomes: Iterable[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.fired]
