"""The forge's HTML pages: what its `html_url`s point at, so no link the line prints answers 404.

    /                                    the repositories you may read (a sign-in link without a token)
    /-/signin                            asks the browser for a login and a token (HTTP Basic), then home
    /{owner}/{repo}  (and .git)          a repository: its files, README, open pull requests and issues
    /{owner}/{repo}/pull/{n}[/files]     a pull request: body, statuses, reviews, conversation, files
    /{owner}/{repo}/issues/{n}           an issue and its comments (a pull request's number redirects)
    /{owner}/{repo}/commit/{sha}         a commit: message, statuses, files

Read-only: nothing here changes anything. Pages are rendered with autoescaping; Markdown as `markdown`
renders it. The same credentials as git's (HTTP Basic, the token as password) or an API token header.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from forge.api.deps import authenticate, get_forge
from forge.core import Forge, Perm
from forge.errors import ForgeError
from forge.git import FileChange
from forge.models import Comment, Issue, Pull, Repo, Review, Status, User
from forge.pulls import PullRenderer, find_pull, pull_files
from forge.render import Renderer
from forge.web import diff
from forge.web.markdown import render_markdown

router = APIRouter(include_in_schema=False)
P = ParamSpec("P")

HERE = Path(__file__).parent
STATIC = HERE / "static"
REALM = 'Basic realm="IntentOps forge", charset="UTF-8"'
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
SIGN_IN = (
    "Sign in with your forge login and a personal access token as the password "
    "(`intentops forge user add` prints one; the demo keeps them in its credentials.json)."
)
NOT_FOUND = "There is nothing here, or nothing you may read."
BAD_CREDENTIALS = "The forge does not know this token."
MAX_LISTED = 100


@dataclass(frozen=True)
class Viewer:
    forge: Forge
    session: Session
    user: User
    r: Renderer


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("refused")
        self.response = response


@functools.cache
def _templates() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(markdown=render_markdown, when=_when, safe_url=_safe_url)
    return environment


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if isinstance(moment, datetime) else ""


def _safe_url(value: Any) -> str:
    if isinstance(value, str) and value.lower().startswith(("http://", "https://")):
        return value
    return ""


def page(
    name: str, status_code: int = 200, headers: dict[str, str] | None = None, **values: Any
) -> HTMLResponse:
    body = _templates().get_template(name).render(**values)
    return HTMLResponse(body, status_code=status_code, headers={**SECURITY_HEADERS, **(headers or {})})


def challenge(message: str = SIGN_IN) -> HTMLResponse:
    return page("message.html", 401, {"WWW-Authenticate": REALM}, title="Sign in", message=message)


def not_found(viewer: User | None = None) -> HTMLResponse:
    return page("message.html", 404, title="Not Found", message=NOT_FOUND, viewer=viewer)


@contextmanager
def viewing(request: Request, *, required: bool = True) -> Iterator[Viewer | None]:
    """The signed-in viewer in one read transaction; a 401 challenge when `required` and there is none."""
    forge = get_forge(request)
    with forge.db.session() as session:
        try:
            user = authenticate(forge, session, request.headers.get("authorization"))
        except ForgeError:
            raise _Refused(challenge(BAD_CREDENTIALS)) from None
        if user is None and required:
            raise _Refused(challenge())
        yield Viewer(forge, session, user, Renderer(forge, session)) if user is not None else None


def _repo(viewer: Viewer, owner: str, name: str) -> Repo:
    repo = viewer.forge.find_repo(viewer.session, owner, name)
    if repo is None or viewer.forge.permission(viewer.session, viewer.user, repo) < Perm.READ:
        raise _Refused(not_found(viewer.user))
    return repo


def refusals(handler: Callable[P, Response]) -> Callable[P, Response]:
    """A page handler whose refusals (`_Refused`) become their response."""

    @functools.wraps(handler)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return handler(*args, **kwargs)
        except _Refused as refused:
            return refused.response

    return wrapped


# --- pages --------------------------------------------------------------------------------------------


@router.get("/-/forge.css")
def stylesheet() -> Response:
    css = (STATIC / "forge.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=300"})


@router.get("/")
@refusals
def home(request: Request) -> Response:
    with viewing(request, required=False) as viewer:
        if viewer is None:
            return page("home.html", title="IntentOps forge", viewer=None, repos=[], message=SIGN_IN)
        repos = [
            (viewer.r.full_name(repo), repo)
            for repo in viewer.session.scalars(select(Repo).order_by(Repo.id))
            if viewer.forge.permission(viewer.session, viewer.user, repo) >= Perm.READ
        ]
        return page("home.html", title="IntentOps forge", viewer=viewer.user, repos=repos)


@router.get("/-/signin")
@refusals
def signin(request: Request) -> Response:
    with viewing(request):
        return RedirectResponse("/", status_code=303)


@router.get("/{owner}/{name}")
@refusals
def repository(request: Request, owner: str, name: str) -> Response:
    if name.endswith(".git"):
        return RedirectResponse(f"/{owner}/{name.removesuffix('.git')}", status_code=301)
    with viewing(request) as viewer:
        assert viewer is not None
        repo = _repo(viewer, owner, name)
        bare = viewer.forge.bare(viewer.session, repo)
        head = bare.branch_sha(repo.default_branch)
        entries = bare.list_dir(head, "") if head else []
        readme = next((e for e in entries if e.path.lower() == "readme.md" and e.kind == "blob"), None)
        issues = viewer.session.scalars(
            select(Issue)
            .where(Issue.repo_id == repo.id, Issue.state == "open")
            .order_by(Issue.number.desc())
            .limit(MAX_LISTED)
        ).all()
        return page(
            "repo.html",
            title=viewer.r.full_name(repo),
            viewer=viewer.user,
            full=viewer.r.full_name(repo),
            repo=repo,
            head=bare.commit_info(head) if head else None,
            entries=sorted(entries, key=lambda e: (e.kind != "tree", e.path)),
            readme=bare.blob(readme.sha).decode("utf-8", errors="replace") if readme else "",
            pulls=[i for i in issues if i.is_pull],
            issues=[i for i in issues if not i.is_pull],
            author=viewer.r.get_user,
            base=viewer.forge.base_url,
        )


@router.get("/{owner}/{name}/pull/{number}")
@router.get("/{owner}/{name}/pull/{number}/files")
@refusals
def pull_request(request: Request, owner: str, name: str, number: int) -> Response:
    with viewing(request) as viewer:
        assert viewer is not None
        repo = _repo(viewer, owner, name)
        found = find_pull(viewer.session, repo, number)
        if found is None:
            return not_found(viewer.user)
        pull, issue = found
        bare = viewer.forge.bare(viewer.session, repo)
        base_sha = PullRenderer(viewer.r).base_sha(bare, pull)
        return page(
            "pull.html",
            title=f"{issue.title} · #{issue.number}",
            viewer=viewer.user,
            full=viewer.r.full_name(repo),
            issue=issue,
            pull=pull,
            state="merged" if pull.merged_at else issue.state,
            author=viewer.r.get_user,
            statuses=_statuses(viewer, repo, pull.head_sha),
            reviews=_reviews(viewer, pull),
            conversation=_conversation(viewer, issue, pull),
            files=_files(pull_files(bare, base_sha, pull.head_sha)),
        )


@router.get("/{owner}/{name}/issues/{number}")
@refusals
def issue_page(request: Request, owner: str, name: str, number: int) -> Response:
    with viewing(request) as viewer:
        assert viewer is not None
        repo = _repo(viewer, owner, name)
        issue = viewer.session.scalar(select(Issue).where(Issue.repo_id == repo.id, Issue.number == number))
        if issue is None:
            return not_found(viewer.user)
        full = viewer.r.full_name(repo)
        if issue.is_pull:
            return RedirectResponse(f"/{full}/pull/{number}", status_code=301)
        return page(
            "issue.html",
            title=f"{issue.title} · #{issue.number}",
            viewer=viewer.user,
            full=full,
            issue=issue,
            author=viewer.r.get_user,
            conversation=_conversation(viewer, issue, None),
        )


@router.get("/{owner}/{name}/commit/{sha}")
@refusals
def commit_page(request: Request, owner: str, name: str, sha: str) -> Response:
    with viewing(request) as viewer:
        assert viewer is not None
        repo = _repo(viewer, owner, name)
        bare = viewer.forge.bare(viewer.session, repo)
        resolved = bare.resolve(sha) if len(sha) <= 64 else None
        if resolved is None:
            return not_found(viewer.user)
        info = bare.commit_info(resolved)
        changes = bare.changes(info.parents[0] if info.parents else None, resolved, with_patch=True)
        return page(
            "commit.html",
            title=f"{info.message.splitlines()[0] if info.message else resolved[:12]}",
            viewer=viewer.user,
            full=viewer.r.full_name(repo),
            info=info,
            statuses=_statuses(viewer, repo, resolved),
            files=_files(changes),
        )


# --- what the pages show ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Said:
    """A comment or a review in a conversation, with the anchor GitHub's links use."""

    anchor: str
    author: str
    at: datetime
    kind: str
    body: str
    commit_id: str = ""


def _conversation(viewer: Viewer, issue: Issue, pull: Pull | None) -> list[Said]:
    comments = viewer.session.scalars(select(Comment).where(Comment.issue_id == issue.id))
    said = [
        Said(f"issuecomment-{c.id}", viewer.r.get_user(c.user_id).login, c.created_at, "commented", c.body)
        for c in comments
    ]
    if pull is not None:
        said += [
            Said(
                f"pullrequestreview-{r.id}",
                viewer.r.get_user(r.user_id).login,
                r.submitted_at,
                r.state.lower().replace("_", " "),
                r.body,
                r.commit_id,
            )
            for r in viewer.session.scalars(select(Review).where(Review.pull_id == pull.id))
        ]
    return sorted(said, key=lambda s: s.at)


def _reviews(viewer: Viewer, pull: Pull) -> list[tuple[str, Review]]:
    """Each reviewer's latest review that decided something (approved, changes requested, dismissed)."""
    latest: dict[int, Review] = {}
    for review in viewer.session.scalars(select(Review).where(Review.pull_id == pull.id).order_by(Review.id)):
        if review.state != "COMMENTED":
            latest[review.user_id] = review
    return [(viewer.r.get_user(user_id).login, review) for user_id, review in latest.items()]


def _statuses(viewer: Viewer, repo: Repo, sha: str) -> list[Status]:
    rows = viewer.session.scalars(
        select(Status).where(Status.repo_id == repo.id, Status.sha == sha).order_by(Status.id.desc())
    )
    latest: dict[str, Status] = {}
    for row in rows:
        latest.setdefault(row.context, row)
    return sorted(latest.values(), key=lambda s: s.context)


@dataclass(frozen=True)
class ShownFile:
    change: FileChange
    rows: list[diff.Row]
    hidden: int


def _files(changes: list[FileChange]) -> list[ShownFile]:
    shown = []
    for change in changes:
        rows, hidden = diff.rows(change.patch)
        shown.append(ShownFile(change, rows, hidden))
    return shown
