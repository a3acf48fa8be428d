"""Pages of the ledger as plain records: each intent with its stage events (and durations), its latest
SPEC's rounds and findings, its governance decisions, its model cost, and what people decided about it.

Pages go by intent id (a cursor that stays valid while intents are added); nothing here reads a forge.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select

from pipeline.buildreport import BuildReport
from pipeline.history.records import IntentHistory
from pipeline.ledger.states import IntentState
from pipeline.ledger.tables import DecisionRow, IntentEventRow, IntentRow
from pipeline.llm.usage import CallStatus, LLMCall
from pipeline.shadow.cases import ShadowCase, outcome_of
from pipeline.shadow.model import HumanOutcome
from pipeline.state import Database

MAX_PAGE = 200
NOTHING_TO_EXPORT = "the ledger holds no intent of that repository the forge can show at its commit"
COUNTED = (CallStatus.RECORDED.value, CallStatus.RESERVED.value)


def human_outcome(state: str) -> HumanOutcome:
    """What people decided about an intent in `state`, as the shadow evaluation reads the ledger."""
    return outcome_of(IntentState(state))


@dataclass(frozen=True)
class HistoryPage:
    items: tuple[IntentHistory, ...]
    next_cursor: int | None
    """Pass as `after` for the next page; None on the last one."""

    def to_json(self) -> dict[str, Any]:
        return {"items": [i.to_json() for i in self.items], "next_cursor": self.next_cursor}


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def spec_of(raw: Any) -> dict[str, Any] | None:
    """The SPEC part of a stored build report: score, gate, each round (score, findings, repairs) and the
    final findings. None when there is no report it can read."""
    if not isinstance(raw, dict):
        return None
    try:
        spec = BuildReport.from_json(raw).spec
    except ValidationError:
        return None
    return {
        "score": spec.score,
        "gate": spec.gate,
        "reached_gate": spec.reached_gate,
        "optimizer_rounds": max(len(spec.rounds) - 1, 0),
        "rounds": [r.model_dump(mode="json") for r in spec.rounds],
        "findings": [
            {
                "code": f.code,
                "section": f.section,
                "severity": f.severity,
                "message": f.message,
                "hard": f.hard,
            }
            for f in spec.verification.findings
        ],
    }


def page(db: Database, *, repo: str | None = None, after: int = 0, limit: int = 50) -> HistoryPage:
    """Intents with an id above `after`, oldest first, at most `limit` (1 to MAX_PAGE)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be 1 to {MAX_PAGE}, not {limit}")
    query = select(IntentRow).where(IntentRow.id > after).order_by(IntentRow.id).limit(limit + 1)
    if repo is not None:
        query = query.where(IntentRow.repo == repo)
    with db.session() as session:
        rows = list(session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        ids = [row.id for row in rows]
        stages = _stages(session, ids)
        decisions = _decisions(session, ids)
        costs = _costs(session, [(row.repo, row.path) for row in rows])
        items = tuple(
            IntentHistory(
                id=row.id,
                repo=row.repo,
                path=row.path,
                service_name=row.service_name,
                state=row.state,
                author=row.author,
                created_at=_utc(row.created_at),
                updated_at=_utc(row.updated_at),
                outcome=human_outcome(row.state),
                stages=tuple(stages[row.id]),
                decisions=tuple(decisions[row.id]),
                spec=spec_of(row.report),
                cost=costs.get(f"{row.repo}:{row.path}", {"llm_calls": 0, "llm_usd": 0.0}),
            )
            for row in rows
        )
    return HistoryPage(items, rows[-1].id if more and rows else None)


def _stages(session: Any, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    query = select(IntentEventRow).where(IntentEventRow.intent_id.in_(ids)).order_by(IntentEventRow.id)
    for event in session.scalars(query):
        found[event.intent_id].append(
            {
                "stage": event.stage,
                "outcome": event.outcome,
                "duration_ms": event.duration_ms,
                "at": _utc(event.at).isoformat(),
            }
        )
    return found


def _decisions(session: Any, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    query = select(DecisionRow).where(DecisionRow.intent_id.in_(ids)).order_by(DecisionRow.id)
    for row in session.scalars(query):
        decision = row.decision if isinstance(row.decision, dict) else {}
        recorded = decision.get("alignment")
        alignment: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
        found[row.intent_id].append(
            {
                "action": row.action,
                "at": _utc(row.at).isoformat(),
                "alignment_score": alignment.get("score"),
                "alignment_method": alignment.get("method"),
                "policies": [m.get("name") for m in decision.get("matched", []) if isinstance(m, dict)],
            }
        )
    return found


def _costs(session: Any, keys: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    names = [f"{repo}:{path}" for repo, path in keys]
    query = (
        select(LLMCall.budget_key, func.count(LLMCall.id), func.coalesce(func.sum(LLMCall.cost_usd), 0.0))
        .where(LLMCall.budget_key.in_(names), LLMCall.status.in_(COUNTED))
        .group_by(LLMCall.budget_key)
    )
    return {
        str(key): {"llm_calls": int(calls), "llm_usd": round(float(usd), 6)}
        for key, calls, usd in session.execute(query)
    }


def history_of(cases: Sequence[ShadowCase]) -> dict[str, Any]:
    """Ledger cases (`pipeline.shadow.cases_from_ledger`) as a history file's content, newest first: the
    form `intentops train-scorer --history` and `intentops shadow --cases` read. The first case's blueprint
    and policies are the file's; a case whose own differ carries them."""
    if not cases:
        raise ValueError(NOTHING_TO_EXPORT)
    first = cases[0]
    policies = _texts(first.policies)
    entries = []
    for case in cases:
        entry: dict[str, Any] = {
            "path": case.path,
            "intent": case.intent.model_dump(mode="json", exclude_defaults=True),
            "outcome": case.outcome.value,
            "author": case.author,
            "commit": case.commit,
        }
        if case.blueprint != first.blueprint:
            entry["blueprint"] = case.blueprint
        if _texts(case.policies) != policies:
            entry["policies"] = _texts(case.policies)
        entries.append(entry)
    return {"version": 1, "blueprint": first.blueprint, "policies": policies, "intents": entries}


def _texts(files: Mapping[str, bytes]) -> dict[str, str]:
    return {name: data.decode("utf-8", errors="replace") for name, data in sorted(files.items())}
