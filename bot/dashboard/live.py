"""Live updates: a server-sent event stream that says "the ledger changed" (never what changed).

The page already knows how to fetch the fresh table; the stream only carries the ledger's change marker,
so nothing reaches a browser that its page would not show anyway.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse, ServerSentEvent

from bot.dashboard.context import ContextDep, DashboardContext
from bot.dashboard.readmodel import change_marker
from bot.dashboard.sessions import UserDep

EVENT = "ledger"
PING_SECONDS = 15
STREAM_SECONDS = 10.0
RETRY_MS = 500

router = APIRouter()


async def ledger_changes(
    request: Request, context: DashboardContext, *, interval: float, lifetime: float = STREAM_SECONDS
) -> AsyncIterator[ServerSentEvent]:
    """The current marker first, then each new one as the ledger changes, until the client goes away or
    `lifetime` is over. Streams end by themselves because a server shutting down waits for open
    responses (a mounted app never hears of it); the browser reconnects after RETRY_MS and compares
    markers with its page, so no change is missed."""
    last = None
    deadline = time.monotonic() + lifetime
    while time.monotonic() < deadline and not await request.is_disconnected():
        marker = await run_in_threadpool(change_marker, context.db)
        if marker != last:
            yield ServerSentEvent(data=marker, event=EVENT, retry=RETRY_MS if last is None else None)
            last = marker
        await asyncio.sleep(interval)


@router.get("/live", name="live")
async def live(request: Request, user: UserDep, context: ContextDep) -> EventSourceResponse:
    interval: float = request.app.state.poll_seconds
    lifetime: float = request.app.state.stream_seconds
    return EventSourceResponse(
        ledger_changes(request, context, interval=interval, lifetime=lifetime), ping=PING_SECONDS
    )
