"""Stages: each stage of the line per intents repository, what serves it (built in, or an adopted stage
service), since when, the shadow report that proved it, its lineage and its live error rate; and each shadow
report in full (every metric, incumbent vs candidate, with its per-intent rows and the verdict's rule)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, status
from starlette.responses import Response

from bot.dashboard.context import ContextDep
from bot.dashboard.live import markers
from bot.dashboard.lookup import MAX_ID
from bot.dashboard.rendering import render
from bot.dashboard.sessions import UserDep
from pipeline.adoption.overview import known_repos, stage_overview
from pipeline.shadow import ShadowStore
from pipeline.shadow.store import UnknownReport

router = APIRouter()
RECENT_REPORTS = 20
UNKNOWN_REPORT = "There is no shadow evaluation #{report_id}."


@router.get("/stages", name="stages")
def stages(request: Request, user: UserDep, context: ContextDep) -> Response:
    seen = markers(context.db)
    now = datetime.now(UTC)
    store = ShadowStore(context.db)
    repos = [
        (repo, stage_overview(context.db, repo, now=now), store.history(repo=repo, limit=RECENT_REPORTS))
        for repo in known_repos(context.db)
    ]
    return render(request, "stages.html", {"title": "Stages", "repos": repos, "markers": seen}, user=user)


@router.get("/stages/shadow/{report_id}", name="shadow_report")
def shadow_report(request: Request, report_id: int, user: UserDep, context: ContextDep) -> Response:
    """One shadow evaluation as it was kept: a 404 page for an id that names none."""
    if not 1 <= report_id <= MAX_ID:
        raise HTTPException(status.HTTP_404_NOT_FOUND, UNKNOWN_REPORT.format(report_id=report_id))
    try:
        stored = ShadowStore(context.db).get(report_id)
    except UnknownReport:
        raise HTTPException(status.HTTP_404_NOT_FOUND, UNKNOWN_REPORT.format(report_id=report_id)) from None
    title = f"Shadow evaluation #{stored.id}"
    return render(request, "shadow.html", {"title": title, "stored": stored}, user=user)
