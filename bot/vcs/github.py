"""PyGithub adapter: the same code talks to github.com, GitHub Enterprise and the embedded forge.

PyGithub is synchronous: call it from worker threads, never inside `async def`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

from github import Auth, Github, GithubException, UnknownObjectException
from github.File import File
from github.GithubObject import NotSet
from github.PullRequest import PullRequest as GhPullRequest
from github.Repository import Repository
from requests import RequestException

from bot.vcs.errors import ForgeError, Unavailable, for_status
from bot.vcs.models import (
    Comment,
    Comparison,
    DeploymentState,
    FileDiff,
    LineNote,
    MergeOutcome,
    PullRequest,
    Review,
    ReviewState,
    StatusState,
)

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
GITHUB_API = "https://api.github.com"
# GitHub caps a commit status description at 140 characters.
STATUS_DESCRIPTION_LIMIT = 140
FAILED_DEPLOYMENT_STATES = frozenset(
    state.value for state in (DeploymentState.FAILURE, DeploymentState.ERROR, DeploymentState.INACTIVE)
)


REPORT_MARKER = "[//]: # (intentops-report {kind})"
"""Opens each report comment, so the next report of the same kind edits it instead of adding another: a
Markdown link definition, which GitHub and the dashboard render as nothing (an HTML comment the dashboard
would show escaped)."""


def forge_error(exc: Exception) -> ForgeError:
    """PyGithub's exception (or requests' for no answer), as the bot's own."""
    if isinstance(exc, GithubException):
        data = exc.data
        message = str(data.get("message", "")) if isinstance(data, dict) else ""
        return for_status(exc.status, message or _phrase(exc.status))
    return Unavailable(f"the forge did not answer ({type(exc).__name__})")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


def translated(function: Callable[P, R]) -> Callable[P, R]:
    """Run `function` with PyGithub's and requests' exceptions turned into `ForgeError`s."""

    @functools.wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except (GithubException, RequestException) as exc:
            raise forge_error(exc) from exc

    return call


def _translate_methods(cls: type[T]) -> type[T]:
    for name, member in list(vars(cls).items()):
        if callable(member) and not name.startswith("__"):
            setattr(cls, name, translated(member))
    return cls


@dataclass(frozen=True)
class Connection:
    """How to reach a forge's REST API. `pace`: GitHub's advised pacing of writes (off for a local forge)."""

    base_url: str
    auth: Auth.Auth
    pace: bool = True
    timeout: int = 30

    def client(self, *, lazy: bool = False) -> Github:
        """`lazy`: objects are fetched when first read, not when named (see `GithubRepoClient`)."""
        if self.pace:
            return Github(auth=self.auth, base_url=self.base_url, timeout=self.timeout, lazy=lazy)
        return Github(
            auth=self.auth,
            base_url=self.base_url,
            timeout=self.timeout,
            lazy=lazy,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )


@translated
def git_password(connection: Connection) -> str:
    """The secret git sends: the token itself, or a fresh installation token for a GitHub App."""
    auth = connection.auth
    if isinstance(auth, Auth.Token):
        return str(auth.token)
    if isinstance(auth, Auth.AppInstallationAuth):
        connection.client()  # gives the auth its requester, which it needs to fetch (and refresh) tokens
        return str(auth.token)
    raise TypeError(f"no git credentials for {type(auth).__name__}")


def token_connection(token: str, base_url: str | None = None) -> Connection:
    base = (base_url or GITHUB_API).rstrip("/")
    return Connection(base_url=base, auth=Auth.Token(token), pace=base == GITHUB_API)


def blob_sha(content: bytes) -> str:
    """The git blob id of `content`: what the contents API calls a file's `sha`."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def _pull(pr: GhPullRequest) -> PullRequest:
    return PullRequest(
        number=pr.number,
        title=pr.title or "",
        body=pr.body or "",
        state=pr.state,
        head_ref=pr.head.ref,
        head_sha=pr.head.sha,
        base_ref=pr.base.ref,
        author=pr.user.login,
        merged=bool(pr.merged),
        merge_commit_sha=pr.merge_commit_sha,
        html_url=pr.html_url,
        base_sha=pr.base.sha,
    )


def _file_diff(file: File) -> FileDiff:
    return FileDiff(
        path=file.filename,
        status=file.status,
        additions=file.additions,
        deletions=file.deletions,
        patch=file.patch or "",
        previous_path=file.previous_filename or "",
    )


def _review_state(value: str) -> ReviewState:
    try:
        return ReviewState(value)
    except ValueError:
        return ReviewState.COMMENTED


@_translate_methods
class GithubRepoClient:
    """`RepoClient` over PyGithub for one repository. Every method raises `bot.vcs.errors.ForgeError`s, never
    PyGithub's exceptions."""

    def __init__(self, connection: Connection, full_name: str, *, lazy: bool = False) -> None:
        """`lazy`: one request per question asked (`reviews(n)` fetches the reviews, not the pull request
        and then its reviews; the repository is never fetched on its own)."""
        self.full_name = full_name
        self._github = connection.client(lazy=lazy)
        self._repo_cache: Repository | None = None

    @property
    def _repo(self) -> Repository:
        if self._repo_cache is None:
            self._repo_cache = self._github.get_repo(self.full_name)
        return self._repo_cache

    def default_branch(self) -> str:
        return self._repo.default_branch

    def branch_head(self, branch: str) -> str | None:
        try:
            return str(self._repo.get_branch(branch).commit.sha)
        except UnknownObjectException:
            return None

    def read_file(self, path: str, ref: str) -> bytes | None:
        try:
            content = self._repo.get_contents(path, ref=ref)
        except UnknownObjectException:
            return None
        if isinstance(content, list):
            return None
        return content.decoded_content

    def list_dir(self, path: str, ref: str) -> list[str]:
        try:
            content = self._repo.get_contents(path, ref=ref)
        except UnknownObjectException:
            return []
        entries = content if isinstance(content, list) else [content]
        return sorted(entry.path for entry in entries if entry.type == "file")

    def commit_parent(self, sha: str) -> str | None:
        parents = self._repo.get_commit(sha).parents
        return parents[0].sha if parents else None

    def last_author(self, path: str, ref: str) -> str | None:
        newest = next(iter(self._repo.get_commits(sha=ref, path=path)), None)
        return str(newest.author.login) if newest is not None and newest.author is not None else None

    def commit_file(
        self, path: str, content: bytes, message: str, branch: str, *, replacing: bytes | None = None
    ) -> str:
        """Commit `content` at `path`. `replacing`: the bytes the caller read there (None: whatever is
        there now); the forge refuses the write (409) if the file changed since, so nothing read is lost."""
        if replacing is not None:
            result = self._repo.update_file(path, message, content, blob_sha(replacing), branch=branch)
            return str(result["commit"].sha)
        try:
            existing = self._repo.get_contents(path, ref=branch)
        except UnknownObjectException:
            result = self._repo.create_file(path, message, content, branch=branch)
        else:
            if isinstance(existing, list):
                raise ValueError(f"{path} is a directory")
            result = self._repo.update_file(path, message, content, existing.sha, branch=branch)
        commit = result["commit"]
        return str(commit.sha)

    def find_open_pull(self, head_branch: str) -> PullRequest | None:
        owner = self.full_name.split("/", 1)[0]
        for pr in self._repo.get_pulls(state="open", head=f"{owner}:{head_branch}"):
            if pr.head.ref == head_branch:
                return _pull(pr)
        return None

    def find_merged_pull(self, head_branch: str, head_sha: str) -> PullRequest | None:
        owner = self.full_name.split("/", 1)[0]
        for pr in self._repo.get_pulls(state="closed", head=f"{owner}:{head_branch}"):
            if pr.head.ref == head_branch and pr.head.sha == head_sha and pr.merged:
                return _pull(pr)
        return None

    def get_pull(self, number: int) -> PullRequest:
        return _pull(self._repo.get_pull(number))

    def create_pull(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        return _pull(self._repo.create_pull(base=base, head=head, title=title, body=body))

    def update_pull(self, number: int, *, title: str | None = None, body: str | None = None) -> None:
        changes: dict[str, Any] = {}
        if title is not None:
            changes["title"] = title
        if body is not None:
            changes["body"] = body
        if changes:
            self._repo.get_pull(number).edit(**changes)

    def close_pull(self, number: int) -> None:
        self._repo.get_pull(number).edit(state="closed")

    def reviews(self, number: int) -> list[Review]:
        return [
            Review(
                id=r.id,
                reviewer=r.user.login,
                state=_review_state(r.state),
                commit_id=r.commit_id,
                body=r.body or "",
                submitted_at=r.submitted_at,
            )
            for r in self._repo.get_pull(number).get_reviews()
        ]

    def submit_review(self, number: int, *, commit_id: str, event: str, body: str = "") -> Review:
        """Review as this client's user. `event`: APPROVE, REQUEST_CHANGES or COMMENT."""
        pr = self._repo.get_pull(number)
        review = pr.create_review(commit=self._repo.get_commit(commit_id), body=body or NotSet, event=event)
        return Review(
            id=review.id,
            reviewer=review.user.login,
            state=_review_state(review.state),
            commit_id=review.commit_id,
        )

    def pull_files(self, number: int) -> list[tuple[str, int, int]]:
        """(path, additions, deletions) for each file the pull request changes."""
        return [(f.filename, f.additions, f.deletions) for f in self._repo.get_pull(number).get_files()]

    def pull_diff(self, number: int) -> list[FileDiff]:
        return [_file_diff(f) for f in self._repo.get_pull(number).get_files()]

    def compare(self, base: str, head: str) -> Comparison:
        comparison = self._repo.compare(base, head)
        return Comparison(status=comparison.status, files=tuple(_file_diff(f) for f in comparison.files))

    def issue_comments(self, number: int) -> list[Comment]:
        return [
            Comment(
                id=c.id,
                author=c.user.login if c.user else "",
                body=c.body or "",
                created_at=c.created_at,
                html_url=c.html_url or "",
            )
            for c in self._repo.get_issue(number).get_comments()
        ]

    def merge_pull(self, number: int, *, sha: str, message: str) -> MergeOutcome:
        try:
            status = self._repo.get_pull(number).merge(commit_message=message, merge_method="merge", sha=sha)
        except GithubException as exc:
            data = exc.data if isinstance(exc.data, dict) else {}
            return MergeOutcome(merged=False, sha=None, message=str(data.get("message") or exc.status))
        return MergeOutcome(merged=bool(status.merged), sha=status.sha, message=status.message or "")

    def set_status(
        self, sha: str, context: str, state: StatusState, description: str, target_url: str | None = None
    ) -> None:
        description = (
            description if len(description) <= STATUS_DESCRIPTION_LIMIT else description[:137] + "..."
        )
        kwargs: dict[str, Any] = {"state": state.value, "description": description, "context": context}
        if target_url:
            kwargs["target_url"] = target_url
        self._repo.get_commit(sha).create_status(**kwargs)

    def comment(self, issue_number: int, body: str) -> None:
        self._repo.get_issue(issue_number).create_comment(body)

    def annotate(self, sha: str, context: str, notes: Sequence[LineNote]) -> None:
        """Commit statuses carry no annotations: with a token, the status and the comment say where."""
        del sha, context, notes

    def report(self, issue_number: int, *, kind: str, body: str, author: str) -> None:
        """The one comment of this `kind` on the issue or PR: `author`'s (the bot's) comment carrying the
        kind's marker is edited in place; without one, a new comment. Others' comments are never edited,
        whatever they carry."""
        marker = REPORT_MARKER.format(kind=kind)
        text = f"{marker}\n\n{body}"
        issue = self._repo.get_issue(issue_number)
        for existing in issue.get_comments():
            if existing.user.login == author and existing.body.startswith(marker):
                if existing.body != text:
                    existing.edit(text)
                return
        issue.create_comment(text)

    def create_issue(self, title: str, body: str) -> int:
        return int(self._repo.create_issue(title=title, body=body).number)

    def close_issue(self, number: int, *, comment: str) -> None:
        issue = self._repo.get_issue(number)
        if issue.state == "closed":
            return
        issue.create_comment(comment)
        issue.edit(state="closed", state_reason="completed")

    def permission(self, login: str) -> str:
        try:
            return self._repo.get_collaborator_permission(login)
        except UnknownObjectException:
            return "none"

    def team_member(self, team: str, login: str) -> bool | None:
        org, _, slug = team.removeprefix("@").partition("/")
        path = f"/orgs/{quote(org, safe='')}/teams/{quote(slug, safe='')}"
        requester = self._github.requester
        try:
            requester.requestJsonAndCheck("GET", path)
        except GithubException:
            return None  # no such team in sight (or no organizations on this forge): cannot tell
        try:
            member = f"{path}/memberships/{quote(login, safe='')}"
            _, membership = requester.requestJsonAndCheck("GET", member)
        except GithubException as exc:
            if exc.status == 404:
                return False  # the team is in sight, so 404 means not a member
            if exc.status == 403:
                return None  # the bot may not read this team's members
            raise
        return (membership or {}).get("state") == "active"

    def start_deployment(self, ref: str, environment: str, payload: dict[str, Any]) -> int:
        for existing in self._repo.get_deployments(sha=ref, environment=environment):
            if existing.payload != payload:
                continue
            latest = next(iter(existing.get_statuses()), None)  # newest first
            if latest is None or latest.state not in FAILED_DEPLOYMENT_STATES:
                return int(existing.id)
            break  # the newest attempt for this payload failed: this is a new attempt
        deployment = self._repo.create_deployment(
            ref, environment=environment, payload=payload, auto_merge=False, required_contexts=[]
        )
        return int(deployment.id)

    def deployment_status(
        self, deployment_id: int, state: DeploymentState, description: str, environment_url: str | None = None
    ) -> None:
        deployment = self._repo.get_deployment(deployment_id)
        kwargs: dict[str, Any] = {"state": state.value, "description": description[:STATUS_DESCRIPTION_LIMIT]}
        if environment_url:
            kwargs["environment_url"] = environment_url
        deployment.create_status(**kwargs)


@translated
def login_of(connection: Connection) -> str | None:
    """The login a connection's credentials belong to; None when the forge refuses them."""
    try:
        return str(connection.client().get_user().login)
    except GithubException as exc:
        if exc.status in (401, 403):
            return None
        raise
