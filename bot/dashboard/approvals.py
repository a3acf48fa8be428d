"""Approvals: what waits for the signed-in user's sign-off, with the intent, the diff and the SPEC before
the buttons.

The diff reads intent, SPEC and tests first with generated code folded; for a pull request that moved since
the user approved it, the changes since that approval come first. An intent whose tests fail is not offered
for sign-off (an approval cannot help it). Approve submits a real APPROVE review on the pull request's head
as the user, through the forge, so every sign-off rule applies unchanged; reject, once confirmed, closes the
pull request with the user's reason as a comment.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from starlette.responses import RedirectResponse, Response

from bot.dashboard.context import ContextDep, DashboardContext, DashboardRepo
from bot.dashboard.diffs import DiffFile, review_diff, whole_file
from bot.dashboard.eligibility import Eligibility, eligibility, visible_pull
from bot.dashboard.forgecache import ForgeViewCache, cached_views, forge_cache
from bot.dashboard.intenttext import IntentFile, IntentText, IntentTexts, intent_texts
from bot.dashboard.live import markers
from bot.dashboard.lookup import record_or_404
from bot.dashboard.merges import ready_to_merge
from bot.dashboard.rendering import flash, path_for, render
from bot.dashboard.sessions import CsrfChecked, User, UserDep
from bot.dashboard.specdoc import SpecCache, SpecDigest, digest, spec_document
from bot.dashboard.text import (
    ALREADY_APPROVED,
    APPROVE_REVIEW_BODY,
    APPROVED,
    CANNOT_SIGN_OFF,
    FORGE_UNREACHABLE,
    HEAD_MOVED,
    REASON_REQUIRED,
    REASON_TOO_LONG,
    REJECT_COMMENT,
    REJECT_CONFIRM,
    REJECTED,
)
from bot.dashboard.views import DecisionView, ReportView
from bot.usertext import neutral
from bot.vcs.errors import ForgeError
from bot.vcs.models import FileDiff, PullRequest, Review, ReviewState
from pipeline.ledger import IntentRecord
from pipeline.ledger.lifecycle import SIGNOFF_STATES

SPEC_FILE = "SPEC.md"
REASON_LIMIT = 2000
MAX_PENDING = 50

router = APIRouter()


@dataclass(frozen=True)
class Since:
    """The changes since the user's last approval of an earlier head."""

    sha: str
    status: str
    """The forge's comparison: `ahead` (new commits on top), `diverged` (the branch was rewritten) ..."""
    files: tuple[DiffFile, ...]


@dataclass(frozen=True)
class Pending:
    """One intent as the approvals page shows it to one user."""

    record: IntentRecord
    decision: DecisionView | None
    allowed: bool
    reason: str
    pull: PullRequest | None = None
    files: tuple[DiffFile, ...] = ()
    spec_path: str = ""
    spec_text: str = ""
    already_approved: bool = False
    error: str = ""
    tests_failing: bool = False
    since: Since | None = None
    intent: IntentText | None = None
    """The intent as governed (read at the commit the line governed it at)."""
    intent_file: DiffFile | None = None
    """Its file whole, when the pull request does not change it itself (folded when the intent is read)."""

    @property
    def spec(self) -> SpecDigest:
        return digest(self.spec_text)

    @property
    def changed(self) -> tuple[int, int]:
        return sum(f.additions for f in self.files), sum(f.deletions for f in self.files)


def _approved_head(reviews: list[Review], pull: PullRequest, login: str) -> bool:
    mine = (r for r in reviews if r.reviewer.lower() == login.lower())
    return any(r.state is ReviewState.APPROVED and r.commit_id == pull.head_sha for r in mine)


def last_approval(reviews: list[Review], login: str) -> Review | None:
    """The user's latest approving review, whatever head it was on."""
    mine = [r for r in reviews if r.reviewer.lower() == login.lower() and r.state is ReviewState.APPROVED]
    return max(mine, key=lambda r: r.id, default=None)


def _spec_path(files: list[FileDiff]) -> str:
    return next((f.path for f in files if posixpath.basename(f.path) == SPEC_FILE), "")


@dataclass(frozen=True)
class Stores:
    """What the page keeps between requests: SPECs by commit, intent files by content."""

    specs: SpecCache
    texts: IntentTexts


def _pending(
    context: DashboardContext, user: User, record: IntentRecord, stores: Stores, *, with_spec: bool = False
) -> Pending:
    """What one user may do about one intent, with the intent, the diff and the SPEC for those who may
    sign off (`with_spec`: for anyone who can read the pull request, on the SPEC's own page). The SPEC is
    read once per commit and the intent once per content."""
    decision = DecisionView.of(record.decision)
    client = context.repo_for_token(user.token, record.repo)
    try:
        verdict = eligibility(
            client,
            record,
            login=user.login,
            bot_login=context.bot_login,
            ledger=context.ledger,
        )
        pull = verdict.pull
        if pull is None and with_spec and record.pr_number is not None:
            pull = visible_pull(client, record.pr_number)  # a merged or closed one's SPEC can be read too
        if pull is None or (not verdict.allowed and not with_spec):
            return Pending(record, decision, False, verdict.reason, pull, tests_failing=verdict.tests_failing)
        changes = client.pull_diff(pull.number)
        spec_path = _spec_path(changes)
        spec_text = stores.specs.text(client, pull.head_sha, spec_path)
        reviews = client.reviews(pull.number) if verdict.allowed else []
        already = verdict.allowed and _approved_head(reviews, pull, user.login)
        since = _since(client, reviews, pull, user.login) if verdict.allowed else None
        intent = stores.texts.read(client, IntentFile.of(record))
    except (ForgeError, OSError) as exc:
        return Pending(record, decision, False, "", error=FORGE_UNREACHABLE.format(error=_why(exc)))
    return Pending(
        record,
        decision,
        verdict.allowed,
        verdict.reason,
        pull,
        review_diff(changes),
        spec_path,
        spec_text,
        already,
        tests_failing=verdict.tests_failing,
        since=since,
        intent=intent,
        intent_file=_intent_file(record, intent, changes),
    )


def _since(client: DashboardRepo, reviews: list[Review], pull: PullRequest, login: str) -> Since | None:
    """The diff since the user's last approval, when that was on another head."""
    approval = last_approval(reviews, login)
    if approval is None or approval.commit_id == pull.head_sha:
        return None
    comparison = client.compare(approval.commit_id, pull.head_sha)
    return Since(approval.commit_id, comparison.status, review_diff(comparison.files))


def _intent_file(record: IntentRecord, found: IntentText | None, changes: list[FileDiff]) -> DiffFile | None:
    if found is None or any(change.path == record.path for change in changes):
        return None  # the pull request adds or changes the intent itself: it is first in the diff
    status = f"as governed, at {record.commit_sha[:12]}"
    return whole_file(record.path, found.text, status=status, fold=found.intent is not None)


def _why(exc: Exception) -> str:
    return exc.short if isinstance(exc, ForgeError) else type(exc).__name__


def pending_for(
    context: DashboardContext, user: User, cache: ForgeViewCache[Any], stores: Stores
) -> list[Pending]:
    """Each pending intent as this user may act on it (a few forge calls each; see `cached_views`)."""
    records = [
        r
        for state in SIGNOFF_STATES
        for r in context.ledger.list_intents(state=state.value, limit=MAX_PENDING)
        if r.pr_number is not None
    ]
    return cached_views(cache, user, records, lambda record: _pending(context, user, record, stores))


def stores_of(request: Request) -> Stores:
    specs: SpecCache = request.app.state.spec_cache
    return Stores(specs=specs, texts=intent_texts(request))


@router.get("/approvals", name="approvals")
def approvals(request: Request, user: UserDep, context: ContextDep) -> Response:
    seen = markers(context.db)
    cache = forge_cache(request)
    items = pending_for(context, user, cache, stores_of(request))
    return render(
        request,
        "approvals.html",
        {
            "title": "Approvals",
            "mine": [i for i in items if i.allowed],
            "failing": [i for i in items if i.tests_failing],
            "others": [i for i in items if not i.allowed and not i.tests_failing],
            "ready": ready_to_merge(context, user, cache),
            "reason_limit": REASON_LIMIT,
            "markers": seen,
        },
        user=user,
    )


@router.get("/approvals/{intent_id}/spec", name="approval_spec")
def approval_spec(request: Request, intent_id: int, user: UserDep, context: ContextDep) -> Response:
    """The SPEC of a pending intent in full, with the same buttons for those who may sign off."""
    record = record_or_404(context, intent_id)
    item = _pending(context, user, record, stores_of(request), with_spec=True)
    if item.error:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, item.error)
    if item.pull is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, item.reason)
    report = ReportView.of(record.report)
    return render(
        request,
        "spec.html",
        {
            "title": f"SPEC of {item.record.service_name}",
            "item": item,
            "spec": report.spec,
            "document": spec_document(item.spec_text, report.spec),
            "reason_limit": REASON_LIMIT,
        },
        user=user,
    )


def _authorize(
    context: DashboardContext, user: User, record: IntentRecord
) -> tuple[DashboardRepo, PullRequest]:
    """The server's own check, whatever the page showed: 403 unless this user's approval would count."""
    client = context.repo_for_token(user.token, record.repo)
    try:
        verdict: Eligibility = eligibility(
            client,
            record,
            login=user.login,
            bot_login=context.bot_login,
            ledger=context.ledger,
        )
    except (ForgeError, OSError) as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, FORGE_UNREACHABLE.format(error=_why(exc))) from None
    if not verdict.allowed or verdict.pull is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, CANNOT_SIGN_OFF.format(reason=verdict.reason))
    return client, verdict.pull


def _back(request: Request) -> RedirectResponse:
    return RedirectResponse(path_for(request, "approvals"), status.HTTP_303_SEE_OTHER)


@router.post("/approvals/{intent_id}/approve", name="approve", dependencies=[CsrfChecked])
def approve(
    request: Request,
    intent_id: int,
    user: UserDep,
    context: ContextDep,
    head_sha: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    record = record_or_404(context, intent_id)
    client, pull = _authorize(context, user, record)
    if head_sha != pull.head_sha:
        raise HTTPException(status.HTTP_409_CONFLICT, HEAD_MOVED.format(head=pull.head_sha[:12]))
    try:
        if _approved_head(client.reviews(pull.number), pull, user.login):
            flash(request, ALREADY_APPROVED.format(service=record.service_name))
            return _back(request)
        client.submit_review(
            pull.number,
            commit_id=pull.head_sha,
            event="APPROVE",
            body=APPROVE_REVIEW_BODY.format(login=user.login),
        )
    except (ForgeError, OSError) as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, FORGE_UNREACHABLE.format(error=_why(exc))) from None
    forge_cache(request).forget(user.login, record.id)
    flash(request, APPROVED.format(service=record.service_name, number=pull.number), "success")
    return _back(request)


@router.post("/approvals/{intent_id}/reject", name="reject", dependencies=[CsrfChecked])
def reject(
    request: Request,
    intent_id: int,
    user: UserDep,
    context: ContextDep,
    reason: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Asks first: without `confirmed`, a page that says what rejecting does, with the reason to send."""
    reason = reason.strip()
    if not reason:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, REASON_REQUIRED)
    if len(reason) > REASON_LIMIT:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, REASON_TOO_LONG.format(limit=REASON_LIMIT))
    record = record_or_404(context, intent_id)
    client, pull = _authorize(context, user, record)
    if confirmed != "yes":
        question = REJECT_CONFIRM.format(service=record.service_name, number=pull.number)
        return render(
            request,
            "reject.html",
            {
                "title": f"Reject {record.service_name}?",
                "record": record,
                "pull": pull,
                "reason": reason,
                "question": question,
                "reason_limit": REASON_LIMIT,
            },
            user=user,
        )
    quoted = neutral(reason).replace("\n", "\n> ")  # quoted as text: no HTML, no mentions
    try:
        client.comment(pull.number, REJECT_COMMENT.format(login=user.login, reason=quoted))
        client.close_pull(pull.number)
    except (ForgeError, OSError) as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, FORGE_UNREACHABLE.format(error=_why(exc))) from None
    forge_cache(request).forget(user.login, record.id)
    flash(request, REJECTED.format(service=record.service_name, number=pull.number), "success")
    return _back(request)
