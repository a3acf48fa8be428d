"""Issues, issue comments (on issues and pull requests) and labels."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import delete, select

from forge import events
from forge.api.common import Body, no_content, ok, paginate
from forge.api.deps import Ctx, CtxDep
from forge.api.pulls import next_number
from forge.core import Perm
from forge.errors import Forbidden, Invalid, NotFound
from forge.models import Comment, Issue, IssueLabel, Label, Repo, utcnow

router = APIRouter(prefix="/repos/{owner}/{name}")

COLOR_CHARS = set("0123456789abcdefABCDEF")


class IssueCreate(Body):
    title: str
    body: str | None = None
    labels: list[str] = []


class IssueUpdate(Body):
    title: str | None = None
    body: str | None = None
    state: Literal["open", "closed"] | None = None
    labels: list[str] | None = None


class CommentCreate(Body):
    body: str


EDIT_REFUSED = "Must have write access to the repository to edit another user's comment."


class LabelCreate(Body):
    name: str
    color: str = "ededed"
    description: str | None = None


class LabelNames(Body):
    labels: list[str]


def find_issue(ctx: Ctx, repo: Repo, number: int) -> Issue:
    issue = ctx.session.scalar(select(Issue).where(Issue.repo_id == repo.id, Issue.number == number))
    if issue is None:
        raise NotFound()
    return issue


def label_named(ctx: Ctx, repo: Repo, label_name: str, *, create: bool) -> Label:
    label = ctx.session.scalar(select(Label).where(Label.repo_id == repo.id, Label.name == label_name))
    if label is None:
        if not create:
            raise NotFound("Label does not exist")
        if not label_name.strip():
            raise Invalid.field("Label", "name", "missing_field")
        label = Label(repo_id=repo.id, name=label_name)
        ctx.session.add(label)
        ctx.session.flush()
    return label


def set_labels(ctx: Ctx, repo: Repo, issue: Issue, names: list[str], *, replace: bool) -> None:
    if replace:
        ctx.session.execute(delete(IssueLabel).where(IssueLabel.issue_id == issue.id))
    for label_name in dict.fromkeys(names):
        label = label_named(ctx, repo, label_name, create=True)
        if ctx.session.get(IssueLabel, (issue.id, label.id)) is None:
            ctx.session.add(IssueLabel(issue_id=issue.id, label_id=label.id))
    ctx.session.flush()


@router.post("/issues", status_code=201)
def create_issue(ctx: CtxDep, owner: str, name: str, body: IssueCreate) -> JSONResponse:
    repo = ctx.repo(owner, name)
    me = ctx.me()
    if not body.title.strip():
        raise Invalid.field("Issue", "title", "missing_field")
    issue = Issue(repo_id=repo.id, number=next_number(repo), title=body.title, body=body.body, user_id=me.id)
    ctx.session.add(issue)
    ctx.session.flush()
    set_labels(ctx, repo, issue, body.labels, replace=False)
    events.issue_opened(ctx.r, repo, issue, me)
    return ok(ctx.r.issue(issue), 201)


@router.get("/issues")
def list_issues(ctx: CtxDep, request: Request, owner: str, name: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    state = request.query_params.get("state", "open")
    query = select(Issue).where(Issue.repo_id == repo.id)
    if state != "all":
        query = query.where(Issue.state == state)
    rows = ctx.session.scalars(query.order_by(Issue.number.desc()))
    return paginate(request, [ctx.r.issue(i) for i in rows])


@router.get("/issues/{number}")
def get_issue(ctx: CtxDep, owner: str, name: str, number: int) -> JSONResponse:
    repo = ctx.repo(owner, name)
    return ok(ctx.r.issue(find_issue(ctx, repo, number)))


@router.patch("/issues/{number}")
def update_issue(ctx: CtxDep, owner: str, name: str, number: int, body: IssueUpdate) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.TRIAGE)
    issue = find_issue(ctx, repo, number)
    if body.title is not None:
        issue.title = body.title
    if body.body is not None:
        issue.body = body.body
    if body.state is not None and body.state != issue.state and not issue.is_pull:
        issue.state = body.state
        issue.closed_at = utcnow() if body.state == "closed" else None
    if body.labels is not None:
        set_labels(ctx, repo, issue, body.labels, replace=True)
    issue.updated_at = utcnow()
    return ok(ctx.r.issue(issue))


@router.get("/issues/{number}/comments")
def list_comments(ctx: CtxDep, request: Request, owner: str, name: str, number: int) -> JSONResponse:
    repo = ctx.repo(owner, name)
    issue = find_issue(ctx, repo, number)
    rows = ctx.session.scalars(select(Comment).where(Comment.issue_id == issue.id).order_by(Comment.id))
    return paginate(request, [ctx.r.comment(c) for c in rows])


@router.post("/issues/{number}/comments", status_code=201)
def create_comment(ctx: CtxDep, owner: str, name: str, number: int, body: CommentCreate) -> JSONResponse:
    repo = ctx.repo(owner, name)
    me = ctx.me()
    issue = find_issue(ctx, repo, number)
    if not body.body.strip():
        raise Invalid.field("IssueComment", "body", "missing_field")
    comment = Comment(issue_id=issue.id, user_id=me.id, body=body.body)
    ctx.session.add(comment)
    issue.updated_at = utcnow()
    ctx.session.flush()
    data = ctx.r.comment(comment)
    events.issue_comment(ctx.r, repo, issue, data, me)
    return ok(data, 201)


def comment_in(ctx: Ctx, repo: Repo, comment_id: int) -> tuple[Comment, Issue]:
    comment = ctx.session.get(Comment, comment_id)
    issue = ctx.session.get(Issue, comment.issue_id) if comment else None
    if comment is None or issue is None or issue.repo_id != repo.id:
        raise NotFound()
    return comment, issue


@router.get("/issues/comments/{comment_id}")
def get_comment(ctx: CtxDep, owner: str, name: str, comment_id: int) -> JSONResponse:
    comment, _ = comment_in(ctx, ctx.repo(owner, name), comment_id)
    return ok(ctx.r.comment(comment))


@router.patch("/issues/comments/{comment_id}")
def update_comment(ctx: CtxDep, owner: str, name: str, comment_id: int, body: CommentCreate) -> JSONResponse:
    """Edit a comment: its author, or anyone who may write to the repository (as on GitHub)."""
    repo = ctx.repo(owner, name)
    me = ctx.me()
    comment, issue = comment_in(ctx, repo, comment_id)
    if comment.user_id != me.id and ctx.forge.permission(ctx.session, me, repo) < Perm.WRITE:
        raise Forbidden(EDIT_REFUSED)
    if not body.body.strip():
        raise Invalid.field("IssueComment", "body", "missing_field")
    before = comment.body
    comment.body = body.body
    comment.updated_at = utcnow()
    ctx.session.flush()
    data = ctx.r.comment(comment)
    if before != body.body:
        events.issue_comment(ctx.r, repo, issue, data, me, action="edited", previous=before)
    return ok(data)


@router.get("/issues/{number}/labels")
def issue_labels(ctx: CtxDep, request: Request, owner: str, name: str, number: int) -> JSONResponse:
    repo = ctx.repo(owner, name)
    return paginate(request, ctx.r.labels_of(find_issue(ctx, repo, number)))


@router.post("/issues/{number}/labels")
@router.put("/issues/{number}/labels")
def add_labels(
    ctx: CtxDep, request: Request, owner: str, name: str, number: int, body: LabelNames | list[str]
) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.TRIAGE)
    issue = find_issue(ctx, repo, number)
    names = body if isinstance(body, list) else body.labels  # GitHub takes a bare array too
    set_labels(ctx, repo, issue, names, replace=request.method == "PUT")
    return ok(ctx.r.labels_of(issue))


@router.delete("/issues/{number}/labels")
def clear_labels(ctx: CtxDep, owner: str, name: str, number: int) -> Response:
    repo = ctx.repo(owner, name, Perm.TRIAGE)
    set_labels(ctx, repo, find_issue(ctx, repo, number), [], replace=True)
    return no_content()


@router.delete("/issues/{number}/labels/{label_name}")
def remove_label(ctx: CtxDep, owner: str, name: str, number: int, label_name: str) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.TRIAGE)
    issue = find_issue(ctx, repo, number)
    label = label_named(ctx, repo, label_name, create=False)
    link = ctx.session.get(IssueLabel, (issue.id, label.id))
    if link is None:
        raise NotFound("Label does not exist")
    ctx.session.delete(link)
    ctx.session.flush()
    return ok(ctx.r.labels_of(issue))


@router.get("/labels")
def list_labels(ctx: CtxDep, request: Request, owner: str, name: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    rows = ctx.session.scalars(select(Label).where(Label.repo_id == repo.id).order_by(Label.name))
    return paginate(request, [ctx.r.label(label) for label in rows])


@router.post("/labels", status_code=201)
def create_label(ctx: CtxDep, owner: str, name: str, body: LabelCreate) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.WRITE)
    color = body.color.lstrip("#")
    if len(color) != 6 or not set(color) <= COLOR_CHARS:
        raise Invalid.field("Label", "color", "invalid")
    if ctx.session.scalar(select(Label).where(Label.repo_id == repo.id, Label.name == body.name)):
        raise Invalid.field("Label", "name", "already_exists")
    label = Label(repo_id=repo.id, name=body.name, color=color.lower(), description=body.description)
    ctx.session.add(label)
    ctx.session.flush()
    return ok(ctx.r.label(label), 201)


@router.get("/labels/{label_name}")
def get_label(ctx: CtxDep, owner: str, name: str, label_name: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    return ok(ctx.r.label(label_named(ctx, repo, label_name, create=False)))
