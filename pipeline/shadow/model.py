"""What a shadow evaluation declares and what it reports: metrics declared before the run (`MetricSpec`), per
intent rows, each metric compared, and a verdict with the rule that decided it.

Typed and versioned like the ledger's other records: `ShadowReport.to_json` writes it, `from_json` reads it
back (readers of a newer version ignore the fields they do not know).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from pipeline.factory.contracts import Stage

REPORT_VERSION: Literal[1] = 1
UNKNOWN_METRIC = "the report has no metric {name!r} (it has: {known})"


class Verdict(StrEnum):
    BETTER = "better"
    NO_BETTER = "no better"
    WORSE = "worse"


class Direction(StrEnum):
    """Which way a metric improves."""

    HIGHER = "higher"
    LOWER = "lower"


class Role(StrEnum):
    """What a metric may do to the verdict."""

    DECIDES = "decides"
    """Beyond its margin, it makes the candidate better or worse."""
    GUARDS = "guards"
    """A promise the candidate must keep as well as the incumbent: it can only make the candidate worse."""
    INFORMS = "informs"
    """Shown for people; it decides nothing."""


class Aggregate(StrEnum):
    """How a metric's per-intent values become one number per side."""

    MEAN = "mean"
    MEDIAN = "median"
    RATE = "rate"
    """The share of rows whose value is 1 (a yes/no per intent)."""
    TOTAL = "total"
    AUC = "auc"
    """How well the values rank rows whose `label` is true above the others (0.5: no better than chance)."""


class Comparison(StrEnum):
    BETTER = "better"
    SAME = "same"
    WORSE = "worse"
    NOT_COMPARED = "not compared"


class HumanOutcome(StrEnum):
    """What people (and the line's governance) decided about an intent, as the ledger recorded it."""

    SIGNED_OFF = "signed_off"
    """Signed off: approved, merged, deployed (or on its way)."""
    REJECTED = "rejected"
    """Its pull request was closed without merging."""
    BLOCKED = "blocked"
    REVERTED = "reverted"
    """It ran, then its intent file was deleted: the service was taken down."""
    UNDECIDED = "undecided"
    """Still open, invalid, or failed before anyone decided."""

    @property
    def approved(self) -> bool | None:
        """True for a sign-off, False for a rejection, a block or a revert, None while undecided."""
        if self is HumanOutcome.UNDECIDED:
            return None
        return self is HumanOutcome.SIGNED_OFF


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class MetricSpec(_Record):
    """A metric, declared before the run: what it measures, which way is better, how it is computed and the
    rule that turns the two sides' figures into a comparison."""

    name: str
    measures: str
    direction: Direction
    computed: str
    aggregate: Aggregate
    role: Role
    margin: float = 0.0
    """How far apart the two sides must be for the comparison to be better or worse."""
    unit: str = ""
    missing: float | None = None
    """What a row without a value (the call failed) counts as; None: such rows are left out (and the
    failure counts against the candidate in the `failures` metric)."""

    @property
    def rule(self) -> str:
        """The rule in words, as reports print it."""
        if self.role is Role.INFORMS:
            return "shown for people; decides nothing"
        better, worse = ("higher", "lower") if self.direction is Direction.HIGHER else ("lower", "higher")
        unit = f" {self.unit}" if self.unit else ""
        by = f"by more than {self.margin:g}{unit}" if self.margin else "at all"
        worse_rule = f"worse when the candidate's {self.aggregate.value} is {worse} than the incumbent's {by}"
        if self.role is Role.GUARDS:
            return f"{worse_rule}; never makes it better"
        return f"better when it is {better} {by}; {worse_rule}"


class Row(_Record):
    """One intent (or one item of a fixed set) as both sides did on it."""

    case: str
    incumbent: float | None
    candidate: float | None
    label: bool | None = None
    """For an AUC metric: the outcome the values predict (True: it happened)."""
    note: str = ""
    """Why a side has no value (its call failed, and how), or what the figures mean for this row."""


class MetricResult(_Record):
    metric: MetricSpec
    incumbent: float | None
    candidate: float | None
    comparison: Comparison
    rows: tuple[Row, ...] = ()
    note: str = ""
    """Why it could not be compared, when it was not."""


class CaseSummary(_Record):
    """A replayed intent, as the report names it."""

    id: str
    service_name: str
    commit: str = ""
    outcome: HumanOutcome = HumanOutcome.UNDECIDED


class ShadowReport(_Record):
    """A candidate implementation of a stage run beside the incumbent: each declared metric, incumbent vs
    candidate with its per-intent rows, and the verdict with the rule that decided it. Nothing the
    candidate returned was used by the line, and it graded nothing."""

    version: Literal[1] = REPORT_VERSION
    stage: Stage
    incumbent: str
    candidate: str
    source: str
    """Where the cases came from: the ledger of a repository, or the bundled example history."""
    cases: tuple[CaseSummary, ...]
    metrics: tuple[MetricResult, ...]
    verdict: Verdict
    rule: str
    """The rule that decided the verdict, in words, with the figures."""
    failures: tuple[str, ...] = ()
    """Each call of the candidate that failed (an error, a timeout, an answer outside its contract)."""
    skipped: tuple[str, ...] = ()
    """Intents left out, and why (the line's own stages could not prepare them)."""
    started_at: datetime
    duration_ms: int

    def metric(self, name: str) -> MetricResult:
        for result in self.metrics:
            if result.metric.name == name:
                return result
        known = ", ".join(r.metric.name for r in self.metrics)
        raise KeyError(UNKNOWN_METRIC.format(name=name, known=known))

    def summary(self) -> str:
        """One line: `spec-builder: spec-builder-v2 is better than builtin (rule)`."""
        verdict = {
            Verdict.BETTER: "is better than",
            Verdict.NO_BETTER: "is no better than",
            Verdict.WORSE: "is worse than",
        }[self.verdict]
        return f"{self.stage.value}: {self.candidate} {verdict} {self.incumbent} ({self.rule})"

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShadowReport:
        """A report as stored; raises pydantic's ValidationError on one that is not a report."""
        return cls.model_validate(data)
