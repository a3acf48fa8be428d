"""Live updates: a server-sent event stream that says "the ledger changed" or "the registry changed"
(never what changed).

Each page that updates itself wraps its content in a live region (`_macros.live_region`) carrying the
markers it was rendered with; when the stream announces a newer one, the page fetches itself again and
swaps the region in. The stream only carries markers, so nothing reaches a browser that its page would not
show anyway.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from enum import StrEnum

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse, ServerSentEvent

from bot.dashboard.context import ContextDep, DashboardContext
from bot.dashboard.readmodel import change_marker, registry_marker
from bot.dashboard.sessions import UserDep
from pipeline.state import Database

PING_SECONDS = 15
STREAM_SECONDS = 10.0
RETRY_MS = 500

router = APIRouter()


class Source(StrEnum):
    """What a page follows; each is one event name on the stream."""

    LEDGER = "ledger"
    REGISTRY = "registry"


EVENT = Source.LEDGER.value


def markers(db: Database) -> dict[str, str]:
    """The current marker of each source. Read before the page's data: a change in between then shows as
    a newer marker, and the page refreshes once more instead of missing it."""
    return {Source.LEDGER.value: change_marker(db), Source.REGISTRY.value: registry_marker(db)}


async def ledger_changes(
    request: Request, context: DashboardContext, *, interval: float, lifetime: float = STREAM_SECONDS
) -> AsyncIterator[ServerSentEvent]:
    """Each source's current marker first, then each new one as it changes, until the client goes away or
    `lifetime` is over. Streams end by themselves because a server shutting down waits for open
    responses (a mounted app never hears of it); the browser reconnects after RETRY_MS and compares
    markers with its page, so no change is missed."""
    last: dict[str, str] = {}
    deadline = time.monotonic() + lifetime
    while time.monotonic() < deadline and not await request.is_disconnected():
        current = await run_in_threadpool(markers, context.db)
        for source, marker in current.items():
            if marker != last.get(source):
                yield ServerSentEvent(data=marker, event=source, retry=None if last else RETRY_MS)
        last = current
        await asyncio.sleep(interval)


@router.get("/live", name="live")
async def live(request: Request, user: UserDep, context: ContextDep) -> EventSourceResponse:
    interval: float = request.app.state.poll_seconds
    lifetime: float = request.app.state.stream_seconds
    return EventSourceResponse(
        ledger_changes(request, context, interval=interval, lifetime=lifetime), ping=PING_SECONDS
    )
