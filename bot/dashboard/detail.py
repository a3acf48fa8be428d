"""Intent detail: the decision rule by rule, alignment, SPEC score and findings, tests, the pull request
and its reviews, deploy history and cost."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from bot.dashboard.context import ContextDep, DashboardContext
from bot.dashboard.live import markers
from bot.dashboard.lookup import record_or_404
from bot.dashboard.readmodel import intent_cost, timeline_of
from bot.dashboard.rendering import render
from bot.dashboard.sessions import User, UserDep
from bot.dashboard.text import FORGE_UNREACHABLE
from bot.dashboard.views import DecisionView, ReportView, deploy_history
from bot.vcs.errors import ForgeError
from bot.vcs.models import PullRequest, Review
from pipeline.ledger import IntentRecord

router = APIRouter()


@dataclass(frozen=True)
class PullView:
    pull: PullRequest | None
    reviews: tuple[Review, ...]
    error: str


def _pull_view(context: DashboardContext, user: User, record: IntentRecord) -> PullView | None:
    if record.pr_number is None:
        return None
    client = context.repo_for_token(user.token, record.repo)
    try:
        return PullView(client.get_pull(record.pr_number), tuple(client.reviews(record.pr_number)), "")
    except (ForgeError, OSError) as exc:
        error = exc.short if isinstance(exc, ForgeError) else type(exc).__name__
        return PullView(None, (), FORGE_UNREACHABLE.format(error=error))


@router.get("/intents/{intent_id}", name="intent")
def intent_detail(request: Request, intent_id: int, user: UserDep, context: ContextDep) -> Response:
    seen = markers(context.db)
    record = record_or_404(context, intent_id)
    history = context.ledger.history(intent_id)
    return render(
        request,
        "intent.html",
        {
            "title": record.service_name,
            "record": record,
            "cells": timeline_of(context.db, record),
            "history": history,
            "deploys": deploy_history(history),
            "cost": intent_cost(context.db, record),
            "decisions": context.ledger.decisions(intent_id),
            "decision": DecisionView.of(record.decision),
            "report": ReportView.of(record.report),
            "pull": _pull_view(context, user, record),
            "versions": context.registry.versions(record.service_name),
            "markers": seen,
        },
        user=user,
    )
