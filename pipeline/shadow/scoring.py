"""From per-intent rows to a verdict: each side's figure per metric, the comparison its rule makes, and the
verdict over all metrics. Pure functions over the report's values; computed by the line, never by a
candidate.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

from pipeline.shadow.model import (
    Aggregate,
    Comparison,
    Direction,
    MetricResult,
    MetricSpec,
    Role,
    Row,
    Verdict,
)

EPSILON = 1e-9
"""Figures this close are the same (floating sums of the same values in another order)."""
NO_ROWS = "no intent gave both sides a value"
AUC_NEEDS_BOTH = "needs intents on both sides of the outcome (some where it happened, some where it did not)"
NO_CASES = "no better: there was nothing to compare (no intents, no fixed cases)"
WORSE_RULE = "worse: {metrics}"
BETTER_RULE = "better: {metrics}; no metric worse"
NO_BETTER_RULE = "no better: no deciding metric moved beyond its margin, and none is worse"
FIGURES = "{name} {candidate} vs {incumbent} ({rule})"


def auc(values: Sequence[tuple[float, bool]]) -> float | None:
    """The probability that a row where the outcome happened has a higher value than one where it did not
    (ties count half): Mann-Whitney's U over the pairs. None without rows on both sides."""
    positives = [value for value, label in values if label]
    negatives = [value for value, label in values if not label]
    if not positives or not negatives:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def side_values(metric: MetricSpec, rows: Iterable[Row], *, candidate: bool) -> list[tuple[float, bool]]:
    """(value, label) of one side; a row without a value counts as the metric's `missing` or is left out."""
    values = []
    for row in rows:
        value = row.candidate if candidate else row.incumbent
        if value is None:
            value = metric.missing
        if value is not None:
            values.append((value, bool(row.label)))
    return values


def figure(metric: MetricSpec, values: Sequence[tuple[float, bool]]) -> float | None:
    """One side's figure for the metric, rounded for people; None when nothing can be computed."""
    numbers = [value for value, _ in values]
    if metric.aggregate is Aggregate.AUC:
        result = auc(values)
    elif not numbers:
        result = None
    elif metric.aggregate is Aggregate.TOTAL:
        result = sum(numbers)
    elif metric.aggregate is Aggregate.MEDIAN:
        result = statistics.median(numbers)
    else:  # MEAN and RATE: a rate is the mean of 0s and 1s
        result = statistics.fmean(numbers)
    return None if result is None else round(result, 4)


def compare(metric: MetricSpec, incumbent: float | None, candidate: float | None) -> Comparison:
    if incumbent is None or candidate is None:
        return Comparison.NOT_COMPARED
    gain = candidate - incumbent if metric.direction is Direction.HIGHER else incumbent - candidate
    if gain > metric.margin + EPSILON:
        return Comparison.BETTER
    if gain < -metric.margin - EPSILON:
        return Comparison.WORSE
    return Comparison.SAME


def measure(metric: MetricSpec, rows: Sequence[Row]) -> MetricResult:
    """The metric over its rows: both figures and the comparison its rule makes."""
    incumbent = figure(metric, side_values(metric, rows, candidate=False))
    candidate = figure(metric, side_values(metric, rows, candidate=True))
    comparison = compare(metric, incumbent, candidate)
    note = ""
    if comparison is Comparison.NOT_COMPARED:
        note = AUC_NEEDS_BOTH if metric.aggregate is Aggregate.AUC and rows else NO_ROWS
    return MetricResult(
        metric=metric,
        incumbent=incumbent,
        candidate=candidate,
        comparison=comparison,
        rows=tuple(rows),
        note=note,
    )


def decide(results: Sequence[MetricResult]) -> tuple[Verdict, str]:
    """Worse if any metric that decides or guards is worse; else better if a deciding metric is better;
    else no better. The rule names the metrics and their figures."""
    if not any(result.rows for result in results):
        return Verdict.NO_BETTER, NO_CASES
    counted = [r for r in results if r.metric.role is not Role.INFORMS]
    worse = [r for r in counted if r.comparison is Comparison.WORSE]
    if worse:
        return Verdict.WORSE, WORSE_RULE.format(metrics="; ".join(_figures(r) for r in worse))
    better = [r for r in counted if r.metric.role is Role.DECIDES and r.comparison is Comparison.BETTER]
    if better:
        return Verdict.BETTER, BETTER_RULE.format(metrics="; ".join(_figures(r) for r in better))
    return Verdict.NO_BETTER, NO_BETTER_RULE


def _figures(result: MetricResult) -> str:
    return FIGURES.format(
        name=result.metric.name,
        candidate=_number(result.candidate),
        incumbent=_number(result.incumbent),
        rule=result.metric.rule,
    )


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"
