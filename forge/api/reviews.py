"""Pull request reviews: submit (APPROVE, REQUEST_CHANGES, COMMENT) on a commit, list, get, dismiss."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from forge import events
from forge.api.common import Body, ok, paginate
from forge.api.deps import Ctx, CtxDep
from forge.api.pulls import load
from forge.core import Perm
from forge.errors import Invalid, NotFound
from forge.models import Issue, Pull, Review

router = APIRouter(prefix="/repos/{owner}/{name}/pulls/{number}/reviews")

STATES = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
MSG_OWN_APPROVE = "Can not approve your own pull request"
MSG_OWN_CHANGES = "Can not request changes on your own pull request"
MSG_BODY_NEEDED = "Body is required when submitting a review with REQUEST_CHANGES or COMMENT."
MSG_NOT_DISMISSABLE = "Can not dismiss a {state} pull request review"


class ReviewCreate(Body):
    commit_id: str | None = None
    body: str | None = None
    event: Literal["APPROVE", "REQUEST_CHANGES", "COMMENT"] | None = None


class Dismissal(Body):
    message: str
    event: str | None = None


def _refusal(issue: Issue, user_id: int, event: str, body: str | None) -> str | None:
    if event == "APPROVE" and user_id == issue.user_id:
        return MSG_OWN_APPROVE
    if event == "REQUEST_CHANGES" and user_id == issue.user_id:
        return MSG_OWN_CHANGES
    if event in {"REQUEST_CHANGES", "COMMENT"} and not (body or "").strip():
        return MSG_BODY_NEEDED
    return None


@router.post("")
def create_review(ctx: CtxDep, owner: str, name: str, number: int, body: ReviewCreate) -> JSONResponse:
    repo = ctx.repo(owner, name)
    me = ctx.me()
    pull, issue = load(ctx, repo, number)
    bare = ctx.forge.bare(ctx.session, repo)
    commit = pull.head_sha
    if body.commit_id is not None:
        resolved = bare.resolve(body.commit_id) if len(body.commit_id) == 40 else None
        if resolved is None:
            raise Invalid.custom("PullRequestReview", "Commit id does not exist")
        commit = resolved
    refusal = _refusal(issue, me.id, body.event or "", body.body) if body.event else None
    if refusal:
        raise Invalid("Unprocessable Entity", errors=[refusal])
    state = STATES[body.event] if body.event else "PENDING"
    review = Review(pull_id=pull.id, user_id=me.id, state=state, body=body.body or "", commit_id=commit)
    ctx.session.add(review)
    ctx.session.flush()
    if body.event:
        events.review(ctx.r, repo, pull, issue, review, "submitted", me)
    return ok(ctx.r.review(review, pull, issue))


@router.get("")
def list_reviews(ctx: CtxDep, request: Request, owner: str, name: str, number: int) -> JSONResponse:
    repo = ctx.repo(owner, name)
    pull, issue = load(ctx, repo, number)
    rows = ctx.session.scalars(select(Review).where(Review.pull_id == pull.id).order_by(Review.id))
    return paginate(request, [ctx.r.review(rv, pull, issue) for rv in rows])


def _review(ctx: Ctx, pull: Pull, review_id: int) -> Review:
    review = ctx.session.get(Review, review_id)
    if review is None or review.pull_id != pull.id:
        raise NotFound()
    return review


@router.get("/{review_id}")
def get_review(ctx: CtxDep, owner: str, name: str, number: int, review_id: int) -> JSONResponse:
    repo = ctx.repo(owner, name)
    pull, issue = load(ctx, repo, number)
    return ok(ctx.r.review(_review(ctx, pull, review_id), pull, issue))


@router.put("/{review_id}/dismissals")
def dismiss_review(
    ctx: CtxDep, owner: str, name: str, number: int, review_id: int, body: Dismissal
) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.WRITE)
    pull, issue = load(ctx, repo, number)
    review = _review(ctx, pull, review_id)
    if review.state not in {"APPROVED", "CHANGES_REQUESTED"}:
        raise Invalid(MSG_NOT_DISMISSABLE.format(state=review.state.lower()))
    review.state = "DISMISSED"
    ctx.session.flush()
    events.review(ctx.r, repo, pull, issue, review, "dismissed", ctx.me())
    return ok(ctx.r.review(review, pull, issue))
