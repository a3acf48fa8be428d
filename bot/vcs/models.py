"""Small frozen values the bot works with; PyGithub objects never leave the adapter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class StatusContext(StrEnum):
    GOVERNANCE = "intentops/governance"
    SPEC = "intentops/spec"
    TESTS = "intentops/tests"
    DEPLOY = "intentops/deploy"

    def of_file(self, path: str) -> str:
        """The context of one intent file on a default-branch commit (`intentops/governance: intents/a.yaml`),
        so each failing file of a push shows on the commit, as Atlantis names one per project."""
        return f"{self.value}: {path}"


class StatusState(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"


class ReviewState(StrEnum):
    APPROVED = "APPROVED"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    COMMENTED = "COMMENTED"
    DISMISSED = "DISMISSED"
    PENDING = "PENDING"


class DeploymentState(StrEnum):
    IN_PROGRESS = "in_progress"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    body: str
    state: str
    head_ref: str
    head_sha: str
    base_ref: str
    author: str
    merged: bool
    merge_commit_sha: str | None
    html_url: str
    base_sha: str = ""
    """The base branch's head as the forge last computed it (what a policy change is compared against)."""


@dataclass(frozen=True)
class Review:
    id: int
    reviewer: str
    state: ReviewState
    commit_id: str
    body: str = ""
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class FileDiff:
    """One file a pull request (or a comparison) changes, with its unified diff hunks."""

    path: str
    status: str
    """added, modified, removed, renamed (GitHub's words)."""
    additions: int
    deletions: int
    patch: str
    """The hunks (`@@ -1,3 +1,4 @@` ...); empty for a binary file or one too large to show."""
    previous_path: str = ""


@dataclass(frozen=True)
class Comparison:
    """Two commits compared: GitHub's status (ahead, behind, diverged, identical) and the files."""

    status: str
    files: tuple[FileDiff, ...]


@dataclass(frozen=True)
class Comment:
    """A comment on an issue or a pull request's conversation."""

    id: int
    author: str
    body: str
    created_at: datetime | None
    html_url: str


@dataclass(frozen=True)
class MergeOutcome:
    merged: bool
    sha: str | None
    message: str


@dataclass(frozen=True)
class LineNote:
    """Something said about a line of a file (a check run's annotation); `line` and `column` are 1-based,
    0 for the whole file."""

    path: str
    line: int
    column: int
    message: str
    title: str = ""
