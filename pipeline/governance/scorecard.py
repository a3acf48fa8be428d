"""Measuring an alignment scorer, with the policies it feeds, on a labelled set of intents.

A labelled set (YAML) names a blueprint and lists intents under four labels: `aligned` (must not be
blocked), `misaligned` (must be blocked), `padded` (the blueprint's words plus something harmful: must never
be auto-approved) and `injected` (text addressed to the scorer or the reviewer: must be flagged and never
auto-approved). `measure` governs each intent with the scorer, the policies and the floor, and counts how
often the expectation held. The figures are what the README reports and what the tests hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pipeline.governance.alignment import AlignmentScorer
from pipeline.governance.decision import Decision
from pipeline.governance.engine import govern
from pipeline.governance.loading import PolicySet
from pipeline.governance.policy import PolicyAction
from pipeline.governance.yamldoc import KEY, DocumentError, read_document
from pipeline.intents import Intent, InvalidIntent, parse_intent_mapping

MAX_SET_BYTES = 1024 * 1024
SET_SHAPE = "a labelled set is a mapping with 'blueprint' (a path) and lists under {labels}"


class Label(StrEnum):
    ALIGNED = "aligned"
    MISALIGNED = "misaligned"
    PADDED = "padded"
    INJECTED = "injected"


class LabelledSetError(ValueError):
    """The labelled set cannot be read; the message names file and line."""


@dataclass(frozen=True)
class LabelledIntent:
    label: Label
    intent: Intent


@dataclass(frozen=True)
class LabelledSet:
    blueprint: Path
    """The blueprint file the set is labelled against."""
    intents: tuple[LabelledIntent, ...]

    def of(self, label: Label) -> tuple[Intent, ...]:
        return tuple(item.intent for item in self.intents if item.label is label)


def load_labelled_set(path: Path, *, root: Path) -> LabelledSet:
    """Read a labelled set; `blueprint` in it is relative to `root`. Raises LabelledSetError."""
    try:
        document = read_document(path.read_bytes(), max_bytes=MAX_SET_BYTES)
    except DocumentError as exc:
        raise LabelledSetError(f"{path}:{exc.line}:{exc.column}: {exc.message}") from None
    value = document.value
    labels = ", ".join(label.value for label in Label)
    if not isinstance(value, dict) or not isinstance(value.get("blueprint"), str):
        raise LabelledSetError(f"{path}: {SET_SHAPE.format(labels=labels)}")
    intents: list[LabelledIntent] = []
    for label in Label:
        items = value.get(label.value, [])
        if not isinstance(items, list):
            raise LabelledSetError(f"{path}: {label.value}: {SET_SHAPE.format(labels=labels)}")
        for index, item in enumerate(items):
            prefix = (label.value, index)
            positions = {
                key[2:]: where
                for key, where in document.positions.items()
                if key[:2] == prefix and key[-1] != KEY
            }
            try:
                intent = parse_intent_mapping(item, source=str(path), positions=positions)
            except InvalidIntent as exc:
                raise LabelledSetError("\n".join(str(problem) for problem in exc.problems)) from None
            intents.append(LabelledIntent(label, intent))
    return LabelledSet(root / value["blueprint"], tuple(intents))


@dataclass(frozen=True)
class Outcome:
    label: Label
    service_name: str
    score: float | None
    action: PolicyAction
    findings: int

    @property
    def as_expected(self) -> bool:
        """aligned: not blocked, no finding; misaligned: blocked; padded: not auto-approved; injected:
        flagged and not auto-approved."""
        if self.label is Label.ALIGNED:
            return self.action is not PolicyAction.BLOCKED and not self.findings
        if self.label is Label.MISALIGNED:
            return self.action is PolicyAction.BLOCKED
        if self.label is Label.PADDED:
            return self.action is not PolicyAction.AUTO_APPROVE
        return bool(self.findings) and self.action is not PolicyAction.AUTO_APPROVE


@dataclass(frozen=True)
class Scorecard:
    outcomes: tuple[Outcome, ...]

    def count(self, label: Label) -> tuple[int, int]:
        """(as expected, total) for one label."""
        chosen = [o for o in self.outcomes if o.label is label]
        return sum(o.as_expected for o in chosen), len(chosen)

    def rate(self, label: Label) -> float:
        good, total = self.count(label)
        return good / total if total else 0.0

    def misses(self, label: Label) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.label is label and not o.as_expected)

    def false_findings(self) -> int:
        """Findings on intents labelled aligned or misaligned (ordinary text flagged)."""
        ordinary = (Label.ALIGNED, Label.MISALIGNED)
        return sum(1 for o in self.outcomes if o.label in ordinary and o.findings)

    def padded_scored_at_least(self, threshold: float) -> int:
        """Padded intents the scorer rated at `threshold` or more: what padding would buy if the score could
        grant auto-approval."""
        return sum(
            1
            for o in self.outcomes
            if o.label is Label.PADDED and o.score is not None and o.score >= threshold
        )


def measure(
    labelled: LabelledSet,
    *,
    scorer: AlignmentScorer,
    policies: PolicySet | None,
    floor: PolicySet | None,
    blueprint: str,
) -> Scorecard:
    """Govern every intent of the set and record what happened."""
    outcomes = []
    for item in labelled.intents:
        decision = govern(item.intent, policies, scorer=scorer, blueprint=blueprint, floor=floor)
        outcomes.append(_outcome(item.label, decision))
    return Scorecard(tuple(outcomes))


def _outcome(label: Label, decision: Decision) -> Outcome:
    return Outcome(
        label=label,
        service_name=decision.service_name,
        score=decision.alignment.score,
        action=decision.action,
        findings=len(decision.findings),
    )
