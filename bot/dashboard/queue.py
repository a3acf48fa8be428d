"""The queue: every intent, its state, its stage timeline with durations and what it waits for; found by
words of its name, author, file or purpose, and filtered by state, priority, author and repository."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from bot.dashboard.context import ContextDep, DashboardContext
from bot.dashboard.intenttext import intent_texts
from bot.dashboard.live import markers
from bot.dashboard.readmodel import TIMELINE, QueueFilter, distinct_values, queue_page
from bot.dashboard.rendering import render
from bot.dashboard.search import MAX_QUERY, search, words_of
from bot.dashboard.sessions import User, UserDep
from pipeline.intents import Priority
from pipeline.ledger import IntentState

PER_PAGE = 100

router = APIRouter()


@dataclass(frozen=True)
class QueueParams:
    """The queue's address as given; values it does not know are ignored (shown as 'all')."""

    state: str = ""
    priority: str = ""
    author: str = ""
    repo: str = ""
    q: str = ""
    page: int = 1

    def query(self, **changes: object) -> str:
        """This address's query string with `changes` (empty values left out)."""
        values = {**self.__dict__, **changes}
        return urlencode(
            {k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)}
        )


def _known(value: str, allowed: list[str] | set[str]) -> str:
    return value if value in allowed else ""


def _context(
    context: DashboardContext, request: Request, user: User, given: QueueParams
) -> dict[str, object]:
    authors, repos = distinct_values(context.db)
    params = QueueParams(
        state=_known(given.state, {s.value for s in IntentState}),
        priority=_known(given.priority, {p.value for p in Priority}),
        author=_known(given.author, authors),
        repo=_known(given.repo, repos),
        q=given.q.strip()[:MAX_QUERY],
        page=given.page,
    )
    seen = markers(context.db)
    chosen = QueueFilter(
        state=params.state or None,
        priority=params.priority or None,
        author=params.author or None,
        repo=params.repo or None,
    )
    unread = 0
    words = words_of(params.q)
    if words:
        found = search(context, user, intent_texts(request), words, chosen)
        chosen = QueueFilter(**{**chosen.__dict__, "ids": found.ids})
        unread = found.unread
    result = queue_page(context.db, context.ledger, chosen=chosen, page=params.page, per_page=PER_PAGE)
    return {
        "title": "Queue",
        "page": result,
        "params": params,
        "stages": TIMELINE,
        "states": [s.value for s in IntentState],
        "priorities": [p.value for p in Priority],
        "authors": authors,
        "repos": repos,
        "filtered": bool(params.state or params.priority or params.author or params.repo or words),
        "unread": unread,
        "counts": context.ledger.counts_by_state(),
        "markers": seen,
    }


Text = Annotated[str, Query(max_length=MAX_QUERY * 2)]


@router.get("/", name="queue")
def queue(
    request: Request,
    user: UserDep,
    context: ContextDep,
    state: Text = "",
    priority: Text = "",
    author: Text = "",
    repo: Text = "",
    q: Text = "",
    page: int = 1,
) -> Response:
    given = QueueParams(state, priority, author, repo, q, page)
    return render(request, "queue.html", _context(context, request, user, given), user=user)


@router.get("/queue/table", name="queue_table")
def queue_table(
    request: Request,
    user: UserDep,
    context: ContextDep,
    state: Text = "",
    priority: Text = "",
    author: Text = "",
    repo: Text = "",
    q: Text = "",
    page: int = 1,
) -> Response:
    """The counts and the table alone: what the page swaps in when the live stream says the ledger
    changed."""
    given = QueueParams(state, priority, author, repo, q, page)
    return render(request, "_queue_table.html", _context(context, request, user, given), user=user)
