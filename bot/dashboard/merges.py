"""Merge, once signed off: the last click before the bot deploys. It acts on the forge as the user, so
the repository's own rules (write permission, branch protection, required statuses) decide."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from starlette.responses import RedirectResponse, Response

from bot.dashboard.context import ContextDep, DashboardContext
from bot.dashboard.eligibility import permission_of, visible_pull
from bot.dashboard.forgecache import ForgeViewCache, cached_views, forge_cache
from bot.dashboard.lookup import record_or_404
from bot.dashboard.rendering import flash, path_for
from bot.dashboard.sessions import CsrfChecked, User, UserDep
from bot.dashboard.text import (
    CANNOT_MERGE,
    FORGE_UNREACHABLE,
    HEAD_MOVED,
    MERGE_MESSAGE,
    MERGE_REFUSED,
    MERGED,
    NO_ACCESS,
    NO_WRITE,
    NOT_READY_TO_MERGE,
    PULL_CLOSED,
)
from bot.vcs.client import RepoClient
from bot.vcs.errors import ForgeError
from bot.vcs.models import PullRequest
from pipeline.ledger import IntentRecord, IntentState
from pipeline.signoff import WRITE_PERMISSIONS

MAX_READY = 50

router = APIRouter()


@dataclass(frozen=True)
class Mergeable:
    record: IntentRecord
    allowed: bool
    reason: str
    pull: PullRequest | None = None
    error: str = ""


def _why(exc: Exception) -> str:
    return exc.short if isinstance(exc, ForgeError) else type(exc).__name__


def merge_check(client: RepoClient, record: IntentRecord, login: str) -> Mergeable:
    """May `login` merge this intent's pull request now? Signed off, still open, and they can write."""
    if record.pr_number is None or record.state is not IntentState.APPROVED:
        return Mergeable(record, False, NOT_READY_TO_MERGE)
    pull = visible_pull(client, record.pr_number)
    if pull is None:
        return Mergeable(record, False, NO_ACCESS.format(login=login, repo=record.repo))
    if pull.state != "open" or pull.merged:
        return Mergeable(
            record, False, PULL_CLOSED.format(state="merged" if pull.merged else pull.state), pull
        )
    if permission_of(client)(login) not in WRITE_PERMISSIONS:
        return Mergeable(record, False, NO_WRITE.format(login=login), pull)
    return Mergeable(record, True, "", pull)


def _checked(context: DashboardContext, user: User, record: IntentRecord) -> Mergeable:
    client = context.repo_for_token(user.token, record.repo)
    try:
        return merge_check(client, record, user.login)
    except (ForgeError, OSError) as exc:
        return Mergeable(record, False, "", error=FORGE_UNREACHABLE.format(error=_why(exc)))


def ready_to_merge(context: DashboardContext, user: User, cache: ForgeViewCache[Any]) -> list[Mergeable]:
    """Signed-off intents, each as this user may act on it."""
    records = [
        r
        for r in context.ledger.list_intents(state=IntentState.APPROVED.value, limit=MAX_READY)
        if r.pr_number is not None
    ]
    return cached_views(cache, user, records, lambda record: _checked(context, user, record))


@router.post("/approvals/{intent_id}/merge", name="merge", dependencies=[CsrfChecked])
def merge(
    request: Request,
    intent_id: int,
    user: UserDep,
    context: ContextDep,
    head_sha: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    record = record_or_404(context, intent_id)
    client = context.repo_for_token(user.token, record.repo)
    try:
        check = merge_check(client, record, user.login)
        if not check.allowed or check.pull is None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, CANNOT_MERGE.format(reason=check.reason))
        if head_sha != check.pull.head_sha:
            raise HTTPException(status.HTTP_409_CONFLICT, HEAD_MOVED.format(head=check.pull.head_sha[:12]))
        message = MERGE_MESSAGE.format(service=record.service_name, login=user.login)
        outcome = client.merge_pull(check.pull.number, sha=check.pull.head_sha, message=message)
    except (ForgeError, OSError) as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, FORGE_UNREACHABLE.format(error=_why(exc))) from None
    if not outcome.merged:
        raise HTTPException(status.HTTP_409_CONFLICT, MERGE_REFUSED.format(message=outcome.message))
    forge_cache(request).forget(user.login, record.id)
    flash(request, MERGED.format(service=record.service_name, number=check.pull.number), "success")
    return RedirectResponse(path_for(request, "approvals"), status.HTTP_303_SEE_OTHER)
