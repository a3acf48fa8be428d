"""Services: the registry, as a table of name, version, URL, health, last heartbeat and provenance."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from bot.dashboard.context import ContextDep
from bot.dashboard.live import markers
from bot.dashboard.rendering import render
from bot.dashboard.sessions import UserDep

router = APIRouter()


@router.get("/services", name="services")
def services(request: Request, user: UserDep, context: ContextDep) -> Response:
    seen = markers(context.db)
    entries = context.registry.entries(include_gone=True)
    return render(
        request, "services.html", {"title": "Services", "entries": entries, "markers": seen}, user=user
    )
