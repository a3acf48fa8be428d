"""What the bot needs from a forge, as a Protocol; `bot.vcs.github` adapts PyGithub to it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bot.vcs.models import (
    Comment,
    Comparison,
    DeploymentState,
    FileDiff,
    LineNote,
    MergeOutcome,
    PullRequest,
    Review,
    StatusState,
)


class RepoClient(Protocol):
    """One repository on one forge, as the bot's account sees it."""

    full_name: str

    def default_branch(self) -> str: ...

    def branch_head(self, branch: str) -> str | None: ...

    def read_file(self, path: str, ref: str) -> bytes | None: ...

    def list_dir(self, path: str, ref: str) -> list[str]: ...

    def commit_parent(self, sha: str) -> str | None:
        """The first parent of commit `sha` (None for a first commit)."""
        ...

    def last_author(self, path: str, ref: str) -> str | None:
        """The account the forge links to the author of the newest commit on `ref` that changed `path`
        (None when it links none)."""
        ...

    def commit_file(
        self, path: str, content: bytes, message: str, branch: str, *, replacing: bytes | None = None
    ) -> str:
        """`replacing`: the bytes the caller read at `path`; the write is refused (409) if they changed."""
        ...

    def find_open_pull(self, head_branch: str) -> PullRequest | None: ...

    def find_merged_pull(self, head_branch: str, head_sha: str) -> PullRequest | None:
        """The merged pull request from `head_branch` whose head was `head_sha`, if any."""
        ...

    def get_pull(self, number: int) -> PullRequest: ...

    def create_pull(self, *, head: str, base: str, title: str, body: str) -> PullRequest: ...

    def update_pull(self, number: int, *, title: str | None = None, body: str | None = None) -> None: ...

    def close_pull(self, number: int) -> None: ...

    def reviews(self, number: int) -> list[Review]: ...

    def submit_review(self, number: int, *, commit_id: str, event: str, body: str = "") -> Review: ...

    def pull_files(self, number: int) -> list[tuple[str, int, int]]: ...

    def merge_pull(self, number: int, *, sha: str, message: str) -> MergeOutcome: ...

    def set_status(
        self, sha: str, context: str, state: StatusState, description: str, target_url: str | None = None
    ) -> None: ...

    def annotate(self, sha: str, context: str, notes: Sequence[LineNote]) -> None:
        """Put `notes` on the lines of their files in the report `context` on `sha` (a check run's
        annotations); nothing where the forge reports with commit statuses."""
        ...

    def comment(self, issue_number: int, body: str) -> None: ...

    def report(self, issue_number: int, *, kind: str, body: str, author: str) -> None:
        """The one comment of `kind` by `author` on the issue or PR, edited in place, or a new one."""
        ...

    def create_issue(self, title: str, body: str) -> int: ...

    def close_issue(self, number: int, *, comment: str) -> None:
        """Say why in a comment, then close the issue (closing one already closed changes nothing)."""
        ...

    def permission(self, login: str) -> str: ...

    def team_member(self, team: str, login: str) -> bool | None:
        """Whether `login` is an active member of `team` (`@org/team-slug`); None when the forge cannot
        tell (no organizations, or a team the bot cannot see)."""
        ...

    def start_deployment(self, ref: str, environment: str, payload: dict[str, Any]) -> int:
        """The newest deployment of `ref` with this payload unless it failed, else a new one: a retried
        deploy job reports on the deployment its first attempt created."""
        ...

    def deployment_status(
        self, deployment_id: int, state: DeploymentState, description: str, environment_url: str | None = None
    ) -> None: ...


class ReviewReader(Protocol):
    """What a person reviewing a pull request reads beyond what the bot needs: the diffs and the
    conversation (the dashboard asks these as the signed-in user)."""

    def pull_diff(self, number: int) -> list[FileDiff]:
        """Each file the pull request changes, with its patch."""
        ...

    def compare(self, base: str, head: str) -> Comparison:
        """What changed from `base` to `head` (three dots: since their merge base)."""
        ...

    def issue_comments(self, number: int) -> list[Comment]:
        """The conversation of an issue or pull request, oldest first."""
        ...
