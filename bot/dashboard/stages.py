"""Stages: each stage of the line per intents repository, what serves it (built in, or an adopted stage
service), since when, the shadow report that proved it, its lineage and its live error rate."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from bot.dashboard.context import ContextDep
from bot.dashboard.live import markers
from bot.dashboard.rendering import render
from bot.dashboard.sessions import UserDep
from pipeline.adoption.overview import known_repos, stage_overview

router = APIRouter()


@router.get("/stages", name="stages")
def stages(request: Request, user: UserDep, context: ContextDep) -> Response:
    seen = markers(context.db)
    now = datetime.now(UTC)
    repos = [(repo, stage_overview(context.db, repo, now=now)) for repo in known_repos(context.db)]
    return render(request, "stages.html", {"title": "Stages", "repos": repos, "markers": seen}, user=user)
