"""Pull requests: create, get, list, update, files, merge (a real git merge in the bare repository)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import ScalarSelect, func, select

from forge import events
from forge.api.common import Body, no_content, ok, paginate
from forge.api.deps import Ctx, CtxDep
from forge.api.git_data import diff_entry, move_ref
from forge.core import Perm
from forge.errors import Conflict, Invalid, NotAllowed, NotFound
from forge.git import Person
from forge.models import Issue, Pull, Repo, User, utcnow
from forge.pulls import (
    MSG_BASE_MODIFIED,
    MSG_NOT_MERGEABLE,
    PullRenderer,
    check_mergeable,
    find_pull,
    merge_message,
    merge_result,
    pull_facts,
    pull_files,
)

router = APIRouter(prefix="/repos/{owner}/{name}/pulls")

MERGE_COMMITTER = Person("GitHub", "noreply@github.com")


class PullCreate(Body):
    title: str | None = None
    head: str
    base: str
    body: str | None = None
    draft: bool = False
    issue: int | None = None


class PullUpdate(Body):
    title: str | None = None
    body: str | None = None
    state: Literal["open", "closed"] | None = None
    base: str | None = None


class MergeBody(Body):
    commit_title: str | None = None
    commit_message: str | None = None
    sha: str | None = None
    merge_method: Literal["merge", "squash", "rebase"] = "merge"


def next_number(repo: Repo) -> ScalarSelect[int]:
    """The repository's next issue number, computed inside the INSERT: SQLite's write lock makes it atomic
    with the insert, so concurrent creations never draw the same number."""
    return (
        select(func.coalesce(func.max(Issue.number), 0) + 1).where(Issue.repo_id == repo.id).scalar_subquery()
    )


def load(ctx: Ctx, repo: Repo, number: int) -> tuple[Pull, Issue]:
    found = find_pull(ctx.session, repo, number)
    if found is None:
        raise NotFound()
    return found


def _branch_name(ctx: Ctx, repo: Repo, head: str) -> str:
    """`head` is `branch` or `owner:branch`; this forge has no forks, so the owner must be the repo's."""
    owner, sep, branch = head.partition(":")
    if sep and owner != ctx.r.get_user(repo.owner_id).login:
        raise Invalid.field("PullRequest", "head", message="head must be a branch of this repository")
    return branch if sep else head


@router.post("", status_code=201)
def create_pull(ctx: CtxDep, owner: str, name: str, body: PullCreate) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.WRITE)
    if not body.title:
        raise Invalid.field("PullRequest", "title", "missing_field")
    bare = ctx.forge.bare(ctx.session, repo)
    head_ref = _branch_name(ctx, repo, body.head)
    head_sha, base_sha = bare.branch_sha(head_ref), bare.branch_sha(body.base)
    if head_sha is None:
        raise Invalid.field("PullRequest", "head", "invalid")
    if base_sha is None:
        raise Invalid.field("PullRequest", "base", "invalid")
    if pull_facts(bare.path, base_sha, head_sha).commits == 0:
        raise Invalid.custom("PullRequest", f"No commits between {body.base} and {head_ref}")
    # Until this PR is committed, so that a concurrent creation for the same head and base sees it.
    ctx.hold(ctx.forge.repo_lock(repo.id))
    if _open_pull_for(ctx, repo, head_ref, body.base):
        raise Invalid.custom("PullRequest", f"A pull request already exists for {owner}:{head_ref}.")
    me = ctx.me()
    issue = Issue(
        repo_id=repo.id,
        number=next_number(repo),
        title=body.title,
        body=body.body,
        user_id=me.id,
        is_pull=True,
    )
    ctx.session.add(issue)
    ctx.session.flush()
    pull = Pull(issue_id=issue.id, head_ref=head_ref, head_sha=head_sha, base_ref=body.base, draft=body.draft)
    ctx.session.add(pull)
    ctx.session.flush()
    bare.update_ref(f"refs/pull/{issue.number}/head", head_sha)
    events.pull_request(ctx.r, repo, pull, issue, "opened", me)
    return ok(PullRenderer(ctx.r).full(pull, issue, repo), 201)


def _open_pull_for(ctx: Ctx, repo: Repo, head_ref: str, base_ref: str) -> bool:
    row = ctx.session.scalar(
        select(Pull.id)
        .join(Issue, Issue.id == Pull.issue_id)
        .where(
            Issue.repo_id == repo.id,
            Issue.state == "open",
            Pull.head_ref == head_ref,
            Pull.base_ref == base_ref,
        )
    )
    return row is not None


@router.get("")
def list_pulls(ctx: CtxDep, request: Request, owner: str, name: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    state = request.query_params.get("state", "open")
    if state not in {"open", "closed", "all"}:
        raise Invalid.field("PullRequest", "state", message="state must be open, closed or all")
    query = select(Pull, Issue).join(Issue, Issue.id == Pull.issue_id).where(Issue.repo_id == repo.id)
    if state != "all":
        query = query.where(Issue.state == state)
    head, base = request.query_params.get("head"), request.query_params.get("base")
    if head:
        head_owner, sep, head_branch = head.partition(":")
        if sep and head_owner != owner:
            return paginate(request, [])
        query = query.where(Pull.head_ref == (head_branch if sep else head))
    if base:
        query = query.where(Pull.base_ref == base)
    rows = ctx.session.execute(query.order_by(Issue.number.desc())).all()
    renderer = PullRenderer(ctx.r)
    return paginate(request, [renderer.simple(pull, issue, repo) for pull, issue in rows])


@router.get("/{number}")
def get_pull(ctx: CtxDep, owner: str, name: str, number: int) -> JSONResponse:
    repo = ctx.repo(owner, name)
    pull, issue = load(ctx, repo, number)
    return ok(PullRenderer(ctx.r).full(pull, issue, repo))


@router.patch("/{number}")
def update_pull(ctx: CtxDep, owner: str, name: str, number: int, body: PullUpdate) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.WRITE)
    if body.state is not None:  # closing or reopening waits for a merge in progress, and sees it
        ctx.hold(ctx.forge.repo_lock(repo.id))
    pull, issue = load(ctx, repo, number)
    me = ctx.me()
    changes = _edit_fields(ctx, repo, pull, issue, body)
    action = None
    if body.state is not None and body.state != issue.state and pull.merged_at is None:
        issue.state = body.state
        issue.closed_at = utcnow() if body.state == "closed" else None
        action = "closed" if body.state == "closed" else "reopened"
    issue.updated_at = utcnow()
    ctx.session.flush()
    if changes:
        events.pull_request(ctx.r, repo, pull, issue, "edited", me, changes=changes)
    if action:
        events.pull_request(ctx.r, repo, pull, issue, action, me)
    return ok(PullRenderer(ctx.r).full(pull, issue, repo))


def _edit_fields(
    ctx: Ctx, repo: Repo, pull: Pull, issue: Issue, body: PullUpdate
) -> dict[str, dict[str, object]]:
    changes: dict[str, dict[str, object]] = {}
    if body.title is not None and body.title != issue.title:
        changes["title"] = {"from": issue.title}
        issue.title = body.title
    if body.body is not None and body.body != issue.body:
        changes["body"] = {"from": issue.body or ""}
        issue.body = body.body
    if body.base is not None and body.base != pull.base_ref:
        base_sha = ctx.forge.bare(ctx.session, repo).branch_sha(body.base)
        if base_sha is None:
            raise Invalid.field("PullRequest", "base", "invalid")
        changes["base"] = {"ref": {"from": pull.base_ref}, "sha": {"from": base_sha}}
        pull.base_ref = body.base
    return changes


@router.get("/{number}/files")
def list_files(ctx: CtxDep, request: Request, owner: str, name: str, number: int) -> JSONResponse:
    repo = ctx.repo(owner, name)
    pull, issue = load(ctx, repo, number)
    bare = ctx.forge.bare(ctx.session, repo)
    base_sha = PullRenderer(ctx.r).base_sha(bare, pull)
    files = pull_files(bare, base_sha, pull.head_sha)
    return paginate(request, [diff_entry(ctx, repo, pull.head_sha, f) for f in files])


@router.get("/{number}/commits")
def list_commits(ctx: CtxDep, request: Request, owner: str, name: str, number: int) -> JSONResponse:
    repo = ctx.repo(owner, name)
    pull, _issue = load(ctx, repo, number)
    bare = ctx.forge.bare(ctx.session, repo)
    base_sha = PullRenderer(ctx.r).base_sha(bare, pull)
    commits = bare.log(f"{base_sha}..{pull.head_sha}", max_count=250)[::-1]
    return paginate(request, [ctx.r.commit(repo, c) for c in commits])


@router.get("/{number}/comments")
def list_review_comments(ctx: CtxDep, request: Request, owner: str, name: str, number: int) -> JSONResponse:
    """Line comments on the diff: this forge takes none, so the list is always empty (but real)."""
    repo = ctx.repo(owner, name)
    load(ctx, repo, number)
    return paginate(request, [])


@router.get("/{number}/merge")
def is_merged(ctx: CtxDep, owner: str, name: str, number: int) -> Response:
    repo = ctx.repo(owner, name)
    pull, _issue = load(ctx, repo, number)
    if pull.merged_at is None:
        raise NotFound()
    return no_content()


@router.put("/{number}/merge")
def merge_pull(
    ctx: CtxDep, owner: str, name: str, number: int, body: MergeBody | None = None
) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.WRITE)
    body = body or MergeBody()
    me = ctx.me()
    # Check, merge and close as one step: a second merge of the same PR waits, then finds it merged (405).
    ctx.hold(ctx.forge.repo_lock(repo.id))
    pull, issue = load(ctx, repo, number)
    check_mergeable(ctx.session, ctx.r, repo, pull, issue, sha=body.sha, method=body.merge_method)
    sha = _merge_commit(ctx, repo, pull, issue, body, me)
    pull.merged_at = issue.closed_at = issue.updated_at = utcnow()
    pull.merge_commit_sha, pull.merged_by_id, issue.state = sha, me.id, "closed"
    ctx.session.flush()
    events.pull_request(ctx.r, repo, pull, issue, "closed", me)
    return ok(merge_result(sha))


def _merge_commit(ctx: Ctx, repo: Repo, pull: Pull, issue: Issue, body: MergeBody, me: User) -> str:
    bare = ctx.forge.bare(ctx.session, repo)
    base_sha = bare.branch_sha(pull.base_ref)
    if base_sha is None:
        raise NotAllowed(MSG_NOT_MERGEABLE)
    tree = bare.merge_tree(base_sha, pull.head_sha)
    if tree is None:
        raise NotAllowed(MSG_NOT_MERGEABLE)
    owner = ctx.r.get_user(repo.owner_id)
    message = merge_message(pull, issue, owner, body.merge_method, body.commit_title, body.commit_message)
    parents = [base_sha] if body.merge_method == "squash" else [base_sha, pull.head_sha]
    author = Person(me.login, me.email or "")
    sha = bare.commit_tree(tree, parents, message, author, MERGE_COMMITTER)
    try:
        move_ref(ctx, repo, bare, f"refs/heads/{pull.base_ref}", sha, base_sha, merge=True)
    except Conflict:
        raise Conflict(MSG_BASE_MODIFIED) from None
    return sha
