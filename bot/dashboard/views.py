"""The ledger's JSON (decision, report) read defensively into small values the templates show.

The ledger stores what the line wrote, in whatever version wrote it: any field may be missing or of an
unexpected type, and a page must still render. Each reader takes `Any` and never raises.

What the dashboard reads from an intent's `report` (the build outcome; all optional):
  spec:    the spec-optimizer's report (`OptimizationReport.to_json()`: score, gate, reached_gate, rounds,
           verification.findings)
  tests:   the sandbox's result (`SandboxResult.to_json()`: ok, verdict, passed, failed, errors, skipped,
           duration_s, failures [{test, message}])
Deploys come from the ledger's `deployed` stage events (detail: version, url, log_tail).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from pipeline.ledger import Outcome, Stage, StageEvent

LOG_TAIL_CHARS = 4000


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _num(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = _num(data, key)
    return int(value) if value is not None else None


def _bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


def _maps(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _strs(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list | tuple) else []


def _tail(text: str) -> str:
    return text[-LOG_TAIL_CHARS:]


@dataclass(frozen=True)
class RuleView:
    name: str
    action: str
    reason: str
    source: str
    approvals: int | None
    approvers: list[str]
    withheld: str = ""
    """Why a matching auto_approve policy did not approve (a heuristic alignment score)."""
    floor: bool = False
    """One of the bot's floor policies, which the repository cannot weaken."""


@dataclass(frozen=True)
class AddressedTextView:
    """Text in the intent addressed to the scorer or the reviewer."""

    field: str
    text: str
    message: str


@dataclass(frozen=True)
class EvaluatedView:
    """One policy as governance evaluated it: result is `matched`, `not_matched` or `error`."""

    name: str
    result: str
    action: str
    rule: str
    reason: str
    source: str
    withheld: str = ""
    floor: bool = False


@dataclass(frozen=True)
class AlignmentView:
    score: float | None
    method: str
    rationale: str
    model: str


@dataclass(frozen=True)
class DecisionView:
    action: str
    summary: str
    matched: list[RuleView]
    errors: list[str]
    approvals_required: int | None
    approvers: list[str]
    alignment: AlignmentView
    policy_digest: str
    evaluated: list[EvaluatedView]
    """Every policy with its result; empty for decisions written before they were recorded."""
    findings: list[AddressedTextView]
    """Text addressed to the scorer or the reviewer (version 3 decisions; none before)."""

    @classmethod
    def of(cls, raw: Any) -> DecisionView | None:
        """From a typed Decision (the ledger's) or its JSON; None for anything else."""
        if isinstance(raw, BaseModel):
            raw = raw.model_dump(mode="json")
        if not isinstance(raw, Mapping):
            return None
        alignment = _map(raw.get("alignment"))
        return cls(
            action=_str(raw, "action"),
            summary=_str(raw, "summary"),
            matched=[_rule(m) for m in _maps(raw.get("matched"))],
            errors=[_error(e) for e in _maps(raw.get("errors"))] + _strs(raw.get("errors")),
            approvals_required=_int(raw, "approvals_required"),
            approvers=_strs(raw.get("approvers")),
            alignment=AlignmentView(
                score=_num(alignment, "score"),
                method=_str(alignment, "method"),
                rationale=_str(alignment, "rationale"),
                model=_str(alignment, "model"),
            ),
            policy_digest=_str(raw, "policy_digest"),
            evaluated=[_evaluated(e) for e in _maps(raw.get("evaluated"))],
            findings=[
                AddressedTextView(_str(f, "field"), _str(f, "text"), _str(f, "message"))
                for f in _maps(raw.get("findings"))
            ],
        )


def _rule(raw: Mapping[str, Any]) -> RuleView:
    return RuleView(
        name=_str(raw, "name"),
        action=_str(raw, "action"),
        reason=_str(raw, "reason"),
        source=_str(raw, "source"),
        approvals=_int(raw, "approvals"),
        approvers=_strs(raw.get("approvers")),
        withheld=_str(raw, "withheld"),
        floor=raw.get("floor") is True,
    )


def _evaluated(raw: Mapping[str, Any]) -> EvaluatedView:
    return EvaluatedView(
        name=_str(raw, "name"),
        result=_str(raw, "result"),
        action=_str(raw, "action"),
        rule=_str(raw, "rule"),
        reason=_str(raw, "reason"),
        source=_str(raw, "source"),
        withheld=_str(raw, "withheld"),
        floor=raw.get("floor") is True,
    )


def _error(raw: Mapping[str, Any]) -> str:
    parts = [_str(raw, "source"), _str(raw, "policy") and f"policy '{_str(raw, 'policy')}'"]
    return ": ".join(p for p in [*parts, _str(raw, "message")] if p)


@dataclass(frozen=True)
class FindingView:
    section: str
    severity: str
    code: str
    subject: str
    message: str


@dataclass(frozen=True)
class SpecView:
    score: float | None
    gate: int | None
    reached_gate: bool | None
    rounds: list[tuple[int | None, float | None, int | None]]
    findings: list[FindingView]
    section_scores: dict[str, float] = dataclasses.field(default_factory=dict)
    """The verifier's points per section (`security`: 4.2), each out of its weight in the rubric."""


@dataclass(frozen=True)
class TestsView:
    passed: int | None
    failed: int | None
    errors: int | None
    skipped: int | None
    duration_ms: int | None
    ok: bool | None
    verdict: str
    failures: list[tuple[str, str]]


@dataclass(frozen=True)
class DeployView:
    version: str
    outcome: str
    at: datetime
    url: str
    message: str
    log_tail: str
    duration_ms: int | None


def deploy_history(events: Iterable[StageEvent]) -> list[DeployView]:
    """Every finished deploy of an intent, newest first, from its `deployed` stage events."""
    finished = [
        e for e in events if e.stage is Stage.DEPLOYED and e.outcome in (Outcome.SUCCEEDED, Outcome.FAILED)
    ]
    return [
        DeployView(
            version=_str(_map(e.detail), "version"),
            outcome=e.outcome.value,
            at=e.at,
            url=_str(_map(e.detail), "url"),
            message=e.message,
            log_tail=_tail(_str(_map(e.detail), "log_tail")),
            duration_ms=e.duration_ms,
        )
        for e in reversed(finished)
    ]


@dataclass(frozen=True)
class ReportView:
    spec: SpecView | None
    tests: TestsView | None

    @classmethod
    def of(cls, raw: Any) -> ReportView:
        """From a typed BuildReport (the ledger's) or its JSON."""
        data = _map(raw.model_dump(mode="json") if isinstance(raw, BaseModel) else raw)
        return cls(spec=spec_view(data.get("spec")), tests=_tests(data.get("tests")))


def spec_view(raw: Any) -> SpecView | None:
    if not isinstance(raw, Mapping):
        return None
    verification = _map(raw.get("verification"))
    findings = [
        FindingView(
            section=_str(f, "section"),
            severity=_str(f, "severity"),
            code=_str(f, "code"),
            subject=_str(f, "subject"),
            message=_str(f, "message"),
        )
        for f in _maps(verification.get("findings") or raw.get("findings"))
    ]
    rounds = [(_int(r, "round"), _num(r, "score"), _int(r, "findings")) for r in _maps(raw.get("rounds"))]
    score = _num(raw, "score")
    scores = _map(verification.get("section_scores"))
    return SpecView(
        score=score if score is not None else _num(verification, "score"),
        gate=_int(raw, "gate"),
        reached_gate=_bool(raw, "reached_gate"),
        rounds=rounds,
        findings=findings,
        section_scores={key: value for key in scores if (value := _num(scores, key)) is not None},
    )


def _tests(raw: Any) -> TestsView | None:
    if not isinstance(raw, Mapping):
        return None
    seconds = _num(raw, "duration_s")
    return TestsView(
        passed=_int(raw, "passed"),
        failed=_int(raw, "failed"),
        errors=_int(raw, "errors"),
        skipped=_int(raw, "skipped"),
        duration_ms=int(seconds * 1000) if seconds is not None and seconds >= 0 else None,
        ok=_bool(raw, "ok"),
        verdict=_str(raw, "verdict"),
        failures=[(_str(f, "test"), _tail(_str(f, "message"))) for f in _maps(raw.get("failures"))],
    )


def spec_score(report: Any) -> float | None:
    """The SPEC score alone, for analytics."""
    spec = spec_view(_map(report).get("spec"))
    return spec.score if spec else None
