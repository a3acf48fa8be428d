"""The queue: every intent, its state, its stage timeline with durations and what it waits for."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from bot.dashboard.context import ContextDep
from bot.dashboard.live import markers
from bot.dashboard.readmodel import TIMELINE, queue_page
from bot.dashboard.rendering import render
from bot.dashboard.sessions import UserDep
from pipeline.intents import Priority
from pipeline.ledger import IntentState

PER_PAGE = 100

router = APIRouter()


def _filters(state: str, priority: str) -> tuple[str | None, str | None]:
    """Unknown filter values are ignored (shown as 'all'), never passed on to the query."""
    known_state = state if state in {s.value for s in IntentState} else None
    known_priority = priority if priority in {p.value for p in Priority} else None
    return known_state, known_priority


def _context(context: ContextDep, state: str, priority: str, page: int) -> dict[str, object]:
    chosen_state, chosen_priority = _filters(state, priority)
    seen = markers(context.db)
    result = queue_page(
        context.db,
        context.ledger,
        state=chosen_state,
        priority=chosen_priority,
        page=page,
        per_page=PER_PAGE,
    )
    return {
        "title": "Queue",
        "page": result,
        "stages": TIMELINE,
        "states": [s.value for s in IntentState],
        "priorities": [p.value for p in Priority],
        "state": chosen_state or "",
        "priority": chosen_priority or "",
        "counts": context.ledger.counts_by_state(),
        "markers": seen,
    }


@router.get("/", name="queue")
def queue(
    request: Request, user: UserDep, context: ContextDep, state: str = "", priority: str = "", page: int = 1
) -> Response:
    data = _context(context, state, priority, page)
    return render(request, "queue.html", data, user=user)


@router.get("/queue/table", name="queue_table")
def queue_table(
    request: Request, user: UserDep, context: ContextDep, state: str = "", priority: str = "", page: int = 1
) -> Response:
    """The table alone: what the page swaps in when the live stream says the ledger changed."""
    data = _context(context, state, priority, page)
    return render(request, "_queue_table.html", data, user=user)
