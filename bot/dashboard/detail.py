"""Intent detail: the purpose, the decision rule by rule and in numbers (with what would change it),
alignment, SPEC score and findings, tests, the pull request with its conversation (the bot's comments,
reviews), deploy history and cost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import Response

from bot.dashboard.context import ContextDep, DashboardRepo
from bot.dashboard.intenttext import IntentText, intent_texts
from bot.dashboard.live import markers
from bot.dashboard.lookup import record_or_404
from bot.dashboard.markdown import render_markdown
from bot.dashboard.readmodel import intent_cost, timeline_of
from bot.dashboard.rendering import render
from bot.dashboard.sessions import User, UserDep
from bot.dashboard.text import FORGE_UNREACHABLE
from bot.dashboard.views import DecisionView, ReportView, deploy_history
from bot.reports import in_numbers
from bot.vcs.errors import ForgeError
from bot.vcs.models import Comment, PullRequest, Review
from pipeline.ledger import IntentRecord

router = APIRouter()


@dataclass(frozen=True)
class Said:
    """One entry of a pull request's conversation: a comment or a review, rendered."""

    author: str
    at: datetime | None
    kind: str
    """`comment`, or the review's state (`approved`, `changes requested`, `commented`, `dismissed`)."""
    html: Markup
    commit_id: str = ""
    url: str = ""


@dataclass(frozen=True)
class PullView:
    pull: PullRequest | None
    reviews: tuple[Review, ...]
    error: str
    conversation: tuple[Said, ...] = ()


def conversation(comments: list[Comment], reviews: list[Review]) -> tuple[Said, ...]:
    """Comments and reviews in the order they were written (reviews without a time after the rest)."""
    said = [
        Said(c.author, c.created_at, "comment", render_markdown(c.body), url=c.html_url) for c in comments
    ]
    said += [
        Said(r.reviewer, r.submitted_at, _review_word(r), render_markdown(r.body), r.commit_id)
        for r in reviews
    ]
    return tuple(sorted(said, key=_when))


def _review_word(review: Review) -> str:
    return review.state.value.lower().replace("_", " ")


def _when(said: Said) -> tuple[bool, float]:
    return (said.at is None, said.at.timestamp() if said.at else 0.0)


def _pull_view(client: DashboardRepo, record: IntentRecord) -> PullView | None:
    if record.pr_number is None:
        return None
    try:
        pull = client.get_pull(record.pr_number)
        reviews = client.reviews(record.pr_number)
        comments = client.issue_comments(record.pr_number)
    except (ForgeError, OSError) as exc:
        error = exc.short if isinstance(exc, ForgeError) else type(exc).__name__
        return PullView(None, (), FORGE_UNREACHABLE.format(error=error))
    return PullView(pull, tuple(reviews), "", conversation(comments, reviews))


def _intent_text(
    request: Request, user: User, client: DashboardRepo, record: IntentRecord
) -> IntentText | None:
    try:
        return intent_texts(request).for_user(client, user.login, record)
    except (ForgeError, OSError):
        return None  # the page shows the rest; the purpose and the intent's own numbers wait for the forge


@router.get("/intents/{intent_id}", name="intent")
def intent_detail(request: Request, intent_id: int, user: UserDep, context: ContextDep) -> Response:
    seen = markers(context.db)
    record = record_or_404(context, intent_id)
    history = context.ledger.history(intent_id)
    client = context.repo_for_token(user.token, record.repo)
    text = _intent_text(request, user, client, record)
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
            "why": in_numbers(record.decision, text.variables if text else None),
            "intent": text,
            "report": ReportView.of(record.report),
            "pull": _pull_view(client, record),
            "versions": context.registry.versions(record.service_name),
            "markers": seen,
        },
        user=user,
    )
