"""The line's metrics over a window of days, read from the ledger: what monitor rules are written over.

Each metric is a plain value a CEL rule reads (`optimizer_rounds.median > 1.5`), computed by the line from
its own records: the build reports of the SPECs built in the window (rounds of the optimizer, the gate),
the stage events (errors per stage) and the sign-off waits. Nothing here talks to a forge.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from pipeline.buildreport import BuildReport
from pipeline.ledger.states import IntentState, Outcome, Stage
from pipeline.ledger.tables import IntentEventRow, IntentRow
from pipeline.spec.verifier import MEASURABLE
from pipeline.state import Database

METRIC_NAMES = frozenset({"optimizer_rounds", "gate", "stage_errors", "signoff_wait_hours", "window_days"})
"""The variables a monitor rule may read."""
MEASURED_WORDS: dict[str, str] = dict(MEASURABLE)
"""Vague words the line's verifier knows a measurable stand-in for."""
QUOTED_WORD = re.compile(r"'([^']{1,40})' is not measurable")


@dataclass(frozen=True)
class SpecSample:
    """One intent's latest SPEC built in the window."""

    path: str
    service_name: str
    rounds: int
    """Optimizer rounds after the first verification (0: it was at the gate as built)."""
    score: float
    reached_gate: bool
    repairs: tuple[str, ...]
    """The repairs the optimizer made, by finding code, over all its rounds."""
    findings: tuple[str, ...]
    """Finding codes of the final verification."""
    vague_words: tuple[str, ...]
    """Vague words the final verification still found."""


@dataclass(frozen=True)
class LineMetrics:
    repo: str
    since: datetime
    until: datetime
    specs: tuple[SpecSample, ...]
    stage_counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    """stage -> (failed, total) of the stage events that ended in the window."""
    signoff_waits_h: tuple[float, ...] = ()
    open_waits_h: tuple[float, ...] = ()
    """How long each intent still awaiting sign-off has waited since its pull request opened."""

    @property
    def window_days(self) -> int:
        return max(1, round((self.until - self.since) / timedelta(days=1)))

    def cost_by_finding(self) -> list[tuple[str, int, int]]:
        """(finding code, optimizer rounds of the SPECs it was repaired in, repairs), costliest first."""
        rounds: Counter[str] = Counter()
        times: Counter[str] = Counter()
        for sample in self.specs:
            for code in set(sample.repairs):
                rounds[code] += sample.rounds
            times.update(sample.repairs)
        return sorted(((c, rounds[c], times[c]) for c in times), key=lambda t: (-t[1], -t[2], t[0]))

    def vague_words(self) -> list[tuple[str, int]]:
        """Vague words the window's SPECs were left with, most frequent first."""
        counts = Counter(word for sample in self.specs for word in sample.vague_words)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def variables(self) -> dict[str, Any]:
        """The values a rule reads, as plain JSON-like values."""
        rounds = [s.rounds for s in self.specs]
        reached = sum(1 for s in self.specs if s.reached_gate)
        waits = [*self.signoff_waits_h, *self.open_waits_h]
        return {
            "window_days": self.window_days,
            "optimizer_rounds": {
                "count": len(rounds),
                "median": float(statistics.median(rounds)) if rounds else 0.0,
                "mean": round(statistics.fmean(rounds), 3) if rounds else 0.0,
                "max": max(rounds, default=0),
            },
            "gate": {"count": len(rounds), "rate": round(reached / len(rounds), 3) if rounds else 1.0},
            "stage_errors": {
                stage: {"failed": failed, "total": total, "rate": round(failed / total, 3) if total else 0.0}
                for stage, (failed, total) in sorted(self.stage_counts.items())
            },
            "signoff_wait_hours": {
                "count": len(waits),
                "median": round(statistics.median(waits), 2) if waits else 0.0,
                "longest_open": round(max(self.open_waits_h, default=0.0), 2),
            },
        }


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def spec_sample(path: str, service_name: str, raw: Any) -> SpecSample | None:
    """One intent's SPEC figures from its stored build report (None when there is none it can read)."""
    if not isinstance(raw, dict):
        return None
    try:
        report = BuildReport.from_json(raw)
    except ValidationError:
        return None
    spec = report.spec
    findings = spec.verification.findings
    words = tuple(
        match[1].lower()
        for f in findings
        if f.code == "vague-word" and (match := QUOTED_WORD.search(f.message)) is not None
    )
    return SpecSample(
        path=path,
        service_name=service_name,
        rounds=max(len(spec.rounds) - 1, 0),
        score=spec.score,
        reached_gate=spec.reached_gate,
        repairs=tuple(made.split()[0] for r in spec.rounds for made in r.repairs if made.strip()),
        findings=tuple(f.code for f in findings if f.code),
        vague_words=words,
    )


def line_metrics(db: Database, *, repo: str, days: int, now: datetime) -> LineMetrics:
    """The metrics of `repo` over the `days` days before `now`."""
    since = now - timedelta(days=days)
    window = (IntentEventRow.at >= since, IntentEventRow.at < now)
    ended = IntentEventRow.outcome.in_([Outcome.SUCCEEDED.value, Outcome.FAILED.value])
    events = (
        select(
            IntentEventRow.intent_id, IntentEventRow.stage, IntentEventRow.outcome, IntentEventRow.duration_ms
        )
        .join(IntentRow, IntentRow.id == IntentEventRow.intent_id)
        .where(IntentRow.repo == repo, ended, *window)
    )
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    built: set[int] = set()
    waits: list[float] = []
    with db.session() as session:
        for intent_id, stage, outcome, duration_ms in session.execute(events):
            counts[stage][1] += 1
            if outcome == Outcome.FAILED.value:
                counts[stage][0] += 1
            if stage == Stage.SPEC.value:
                built.add(intent_id)
            if (
                stage == Stage.SIGNOFF.value
                and outcome == Outcome.SUCCEEDED.value
                and duration_ms is not None
            ):
                waits.append(duration_ms / 3_600_000)
        rows = session.execute(
            select(IntentRow.path, IntentRow.service_name, IntentRow.report).where(IntentRow.id.in_(built))
        ).all()
        open_since = session.execute(
            select(IntentRow.id, IntentRow.updated_at).where(
                IntentRow.repo == repo, IntentRow.state == IntentState.AWAITING_SIGNOFF.value
            )
        ).all()
    samples = [s for path, name, raw in rows if (s := spec_sample(path, name, raw)) is not None]
    open_waits = [max(0.0, (now - _utc(at)) / timedelta(hours=1)) for _id, at in open_since]
    return LineMetrics(
        repo=repo,
        since=since,
        until=now,
        specs=tuple(sorted(samples, key=lambda s: s.path)),
        stage_counts={stage: (c[0], c[1]) for stage, c in counts.items()},
        signoff_waits_h=tuple(waits),
        open_waits_h=tuple(open_waits),
    )
