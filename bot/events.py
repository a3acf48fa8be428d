"""GitHub webhook payloads in, small frozen models out: raw payload dicts stop here.

Only the fields the flows use are kept. A payload missing one of them is refused with a `MalformedEvent`
naming the field's path, so a handler never meets a half-filled model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, TypeAlias

NULL_SHA = "0" * 40
BRANCH_PREFIX = "refs/heads/"


class MalformedEvent(ValueError):
    """A payload lacks a field its event must have, or has it with the wrong type."""

    def __init__(self, event: str, path: str, problem: str) -> None:
        super().__init__(f"{event} payload: {path}: {problem}")
        self.event = event
        self.path = path


class EventName(StrEnum):
    PING = "ping"
    PUSH = "push"
    PULL_REQUEST = "pull_request"
    PULL_REQUEST_REVIEW = "pull_request_review"
    ISSUE_COMMENT = "issue_comment"
    ISSUES = "issues"
    INSTALLATION = "installation"
    INSTALLATION_REPOSITORIES = "installation_repositories"


class ReviewState(StrEnum):
    """Review states as webhooks spell them (the REST API uses upper case; `parse` accepts both)."""

    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"
    COMMENTED = "commented"
    DISMISSED = "dismissed"
    PENDING = "pending"


class _Reader:
    """Typed access to nested payload fields; every refusal names the dotted path."""

    def __init__(self, event: str, payload: Mapping[str, Any], *, prefix: str = "") -> None:
        self.event = event
        self.payload = payload
        self.prefix = prefix

    def _where(self, path: tuple[str, ...]) -> str:
        return ".".join((self.prefix, *path) if self.prefix else path)

    def _get(self, path: tuple[str, ...], *, required: bool) -> Any:
        node: Any = self.payload
        for depth, key in enumerate(path):
            if not isinstance(node, Mapping):
                raise MalformedEvent(self.event, self._where(path[:depth]), "expected an object")
            if key not in node or node[key] is None:
                if required:
                    raise MalformedEvent(self.event, self._where(path), "missing")
                return None
            node = node[key]
        return node

    def _typed(self, path: tuple[str, ...], kind: type, *, required: bool) -> Any:
        value = self._get(path, required=required)
        # bool is an int in Python; an id must not be a bool.
        if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            raise MalformedEvent(self.event, self._where(path), f"expected {kind.__name__}")
        return value

    def text(self, *path: str) -> str:
        value: str = self._typed(path, str, required=True)
        return value

    def opt_text(self, *path: str) -> str | None:
        value: str | None = self._typed(path, str, required=False)
        return value

    def integer(self, *path: str) -> int:
        value: int = self._typed(path, int, required=True)
        return value

    def opt_integer(self, *path: str) -> int | None:
        value: int | None = self._typed(path, int, required=False)
        return value

    def flag(self, *path: str) -> bool:
        value: bool | None = self._typed(path, bool, required=False)
        return bool(value)

    def items(self, *path: str) -> list[Any]:
        value: list[Any] | None = self._typed(path, list, required=False)
        return value or []

    def paths(self, *path: str) -> tuple[str, ...]:
        values = self.items(*path)
        if not all(isinstance(v, str) for v in values):
            raise MalformedEvent(self.event, self._where(path), "expected a list of paths")
        return tuple(values)

    def present(self, *path: str) -> bool:
        return self._get(path, required=False) is not None


@dataclass(frozen=True)
class Event:
    """Fields every modelled event has: where it happened and who caused it."""

    name: ClassVar[EventName]
    repo: str
    """`owner/name`."""
    sender: str
    """Login of the account that caused the event (the bot's own events are filtered on it)."""
    installation_id: int | None


@dataclass(frozen=True)
class PingEvent(Event):
    name: ClassVar[EventName] = EventName.PING
    hook_id: int | None
    zen: str


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str
    added: tuple[str, ...]
    modified: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class PushEvent(Event):
    name: ClassVar[EventName] = EventName.PUSH
    ref: str
    before: str
    after: str
    default_branch: str | None
    pusher: str
    """The pusher's name (push payloads give a name and e-mail, not a login)."""
    commits: tuple[Commit, ...]
    deleted: bool
    forced: bool

    @property
    def branch(self) -> str | None:
        """The branch pushed to, or None for a tag."""
        return self.ref.removeprefix(BRANCH_PREFIX) if self.ref.startswith(BRANCH_PREFIX) else None

    @property
    def to_default_branch(self) -> bool:
        return self.branch is not None and self.branch == self.default_branch

    def changed_paths(self) -> tuple[frozenset[str], frozenset[str]]:
        """(present, removed) after the whole push: the last commit touching a path decides."""
        present: set[str] = set()
        removed: set[str] = set()
        for commit in self.commits:
            for path in (*commit.added, *commit.modified):
                present.add(path)
                removed.discard(path)
            for path in commit.removed:
                removed.add(path)
                present.discard(path)
        return frozenset(present), frozenset(removed)


@dataclass(frozen=True)
class PullRequestEvent(Event):
    name: ClassVar[EventName] = EventName.PULL_REQUEST
    action: str
    number: int
    title: str
    head_ref: str
    head_sha: str
    base_ref: str
    merged: bool
    merge_commit_sha: str | None
    author: str


@dataclass(frozen=True)
class PullRequestReviewEvent(Event):
    name: ClassVar[EventName] = EventName.PULL_REQUEST_REVIEW
    action: str
    number: int
    review_id: int
    state: ReviewState
    reviewer: str
    commit_id: str
    """The commit the review was made on; an approval counts only if it is the PR's current head."""
    head_sha: str
    author: str
    """The PR's author."""


@dataclass(frozen=True)
class IssueCommentEvent(Event):
    name: ClassVar[EventName] = EventName.ISSUE_COMMENT
    action: str
    number: int
    is_pull_request: bool
    comment_id: int
    body: str
    commenter: str
    author_association: str
    author: str
    """The issue's or PR's author."""


@dataclass(frozen=True)
class IssuesEvent(Event):
    name: ClassVar[EventName] = EventName.ISSUES
    action: str
    number: int
    title: str
    body: str
    author: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class InstallationEvent(Event):
    """A GitHub App installed, uninstalled, or given or refused repositories (`installation` and
    `installation_repositories` events): which installation now answers for which repositories."""

    name: ClassVar[EventName] = EventName.INSTALLATION
    action: str
    account: str
    added: tuple[str, ...]
    """`owner/name` of the repositories the installation now covers (all of them for `created`)."""
    removed: tuple[str, ...]


@dataclass(frozen=True)
class InstallationRepositoriesEvent(InstallationEvent):
    name: ClassVar[EventName] = EventName.INSTALLATION_REPOSITORIES


AnyEvent: TypeAlias = (
    PingEvent
    | PushEvent
    | PullRequestEvent
    | PullRequestReviewEvent
    | IssueCommentEvent
    | IssuesEvent
    | InstallationEvent
)


def _common(r: _Reader) -> dict[str, Any]:
    return {
        "repo": r.text("repository", "full_name"),
        "sender": r.text("sender", "login"),
        "installation_id": r.opt_integer("installation", "id"),
    }


def _ping(r: _Reader) -> PingEvent:
    # A ping for an organization or app hook has no repository.
    return PingEvent(
        repo=r.opt_text("repository", "full_name") or "",
        sender=r.opt_text("sender", "login") or "",
        installation_id=r.opt_integer("installation", "id"),
        hook_id=r.opt_integer("hook_id"),
        zen=r.opt_text("zen") or "",
    )


def _commits(r: _Reader) -> tuple[Commit, ...]:
    commits = []
    for index, raw in enumerate(r.items("commits")):
        where = f"commits.{index}"
        if not isinstance(raw, Mapping):
            raise MalformedEvent(r.event, where, "expected an object")
        item = _Reader(r.event, raw, prefix=where)
        commits.append(
            Commit(
                sha=item.text("id"),
                message=item.opt_text("message") or "",
                added=item.paths("added"),
                modified=item.paths("modified"),
                removed=item.paths("removed"),
            )
        )
    return tuple(commits)


def _push(r: _Reader) -> PushEvent:
    return PushEvent(
        **_common(r),
        ref=r.text("ref"),
        before=r.text("before"),
        after=r.text("after"),
        default_branch=r.opt_text("repository", "default_branch"),
        pusher=r.opt_text("pusher", "name") or "",
        commits=_commits(r),
        deleted=r.flag("deleted"),
        forced=r.flag("forced"),
    )


def _pull_request(r: _Reader) -> PullRequestEvent:
    return PullRequestEvent(
        **_common(r),
        action=r.text("action"),
        number=r.integer("pull_request", "number"),
        title=r.opt_text("pull_request", "title") or "",
        head_ref=r.text("pull_request", "head", "ref"),
        head_sha=r.text("pull_request", "head", "sha"),
        base_ref=r.text("pull_request", "base", "ref"),
        merged=r.flag("pull_request", "merged"),
        merge_commit_sha=r.opt_text("pull_request", "merge_commit_sha"),
        author=r.text("pull_request", "user", "login"),
    )


def _review_state(r: _Reader) -> ReviewState:
    raw = r.text("review", "state")
    try:
        return ReviewState(raw.lower())
    except ValueError:
        raise MalformedEvent(r.event, "review.state", f"unknown review state {raw!r}") from None


def _pull_request_review(r: _Reader) -> PullRequestReviewEvent:
    return PullRequestReviewEvent(
        **_common(r),
        action=r.text("action"),
        number=r.integer("pull_request", "number"),
        review_id=r.integer("review", "id"),
        state=_review_state(r),
        reviewer=r.text("review", "user", "login"),
        commit_id=r.text("review", "commit_id"),
        head_sha=r.text("pull_request", "head", "sha"),
        author=r.text("pull_request", "user", "login"),
    )


def _issue_comment(r: _Reader) -> IssueCommentEvent:
    return IssueCommentEvent(
        **_common(r),
        action=r.text("action"),
        number=r.integer("issue", "number"),
        # GitHub marks a PR's conversation by a `pull_request` object on the issue.
        is_pull_request=r.present("issue", "pull_request"),
        comment_id=r.integer("comment", "id"),
        body=r.opt_text("comment", "body") or "",
        commenter=r.text("comment", "user", "login"),
        author_association=r.opt_text("comment", "author_association") or "NONE",
        author=r.text("issue", "user", "login"),
    )


def _issues(r: _Reader) -> IssuesEvent:
    labels = tuple(
        label["name"]
        for label in r.items("issue", "labels")
        if isinstance(label, Mapping) and isinstance(label.get("name"), str)
    )
    return IssuesEvent(
        **_common(r),
        action=r.text("action"),
        number=r.integer("issue", "number"),
        title=r.opt_text("issue", "title") or "",
        body=r.opt_text("issue", "body") or "",
        author=r.text("issue", "user", "login"),
        labels=labels,
    )


def _repositories(r: _Reader, *path: str) -> tuple[str, ...]:
    names: list[Any] = [item.get("full_name") for item in r.items(*path) if isinstance(item, Mapping)]
    if not all(isinstance(name, str) for name in names):
        raise MalformedEvent(r.event, ".".join(path), "expected repositories with a full_name")
    return tuple(names)


def _installation_fields(r: _Reader) -> dict[str, Any]:
    return {
        "repo": "",
        "sender": r.text("sender", "login"),
        "installation_id": r.integer("installation", "id"),
        "action": r.text("action"),
        "account": r.opt_text("installation", "account", "login") or "",
    }


def _installation(r: _Reader) -> InstallationEvent:
    return InstallationEvent(**_installation_fields(r), added=_repositories(r, "repositories"), removed=())


def _installation_repositories(r: _Reader) -> InstallationRepositoriesEvent:
    return InstallationRepositoriesEvent(
        **_installation_fields(r),
        added=_repositories(r, "repositories_added"),
        removed=_repositories(r, "repositories_removed"),
    )


_PARSERS: dict[str, Callable[[_Reader], AnyEvent]] = {
    EventName.PING: _ping,
    EventName.PUSH: _push,
    EventName.PULL_REQUEST: _pull_request,
    EventName.PULL_REQUEST_REVIEW: _pull_request_review,
    EventName.ISSUE_COMMENT: _issue_comment,
    EventName.ISSUES: _issues,
    EventName.INSTALLATION: _installation,
    EventName.INSTALLATION_REPOSITORIES: _installation_repositories,
}


def is_modelled(event: str) -> bool:
    return event in _PARSERS


def parse_event(event: str, payload: Mapping[str, Any]) -> AnyEvent | None:
    """The model for `event`, or None for an event the bot does not model. Raises `MalformedEvent`."""
    parser = _PARSERS.get(event)
    if parser is None:
        return None
    if not isinstance(payload, Mapping):
        raise MalformedEvent(event, "(payload)", "expected a JSON object")
    return parser(_Reader(event, payload))


def sender_login(payload: Any) -> str | None:
    """The sender's login from any payload, without validating the rest (used on the request path)."""
    sender = payload.get("sender") if isinstance(payload, Mapping) else None
    login = sender.get("login") if isinstance(sender, Mapping) else None
    return login if isinstance(login, str) else None


def action_of(payload: Any) -> str | None:
    action = payload.get("action") if isinstance(payload, Mapping) else None
    return action if isinstance(action, str) else None
