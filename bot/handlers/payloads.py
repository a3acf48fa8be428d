"""One frozen payload type per job kind: built when a job is enqueued, validated again when a worker claims
it (`bot.routing.Routes.job(..., payload=...)`), so a malformed or foreign payload dead-letters with the
field named instead of failing later with a KeyError.

The queue stores payloads as JSON; `of(job)` reads one back in a handler.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.queue import Job
from bot.routing import MALFORMED_PAYLOAD, PermanentJobError, payload_problem


class JobPayload(BaseModel):
    """What every job carries: the repository it is about."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    repo: str = Field(min_length=3, max_length=200, pattern=r"^[\w.-]+/[\w.-]+$")

    @classmethod
    def of(cls, job: Job) -> Self:
        """The job's payload as this type; PermanentJobError (retrying cannot help) when it is not one."""
        try:
            return cls.model_validate(job.payload)
        except ValidationError as exc:
            raise PermanentJobError(
                MALFORMED_PAYLOAD.format(kind=job.kind, problem=payload_problem(exc))
            ) from None


class IntentPayload(JobPayload):
    """An intent file at a commit of the default branch (read, build, undeploy)."""

    path: str = Field(min_length=1, max_length=500)
    sha: str = Field(min_length=1, max_length=64)
    base: str = Field(default="", max_length=64)
    """The default branch before the push: its policies and blueprint govern the intent ("" when none)."""
    author: str = ""
    changed_files: tuple[str, ...] = ()
    content_hash: str = ""
    """Set for builds: the content the build is for (part of the build's idempotency key)."""
    rebuild: bool = False
    """`/intentops rebuild`: build again even after a merge."""


class CommitPayload(JobPayload):
    """A commit of the default branch, and the one before it ("" when the branch was new)."""

    sha: str = Field(min_length=1, max_length=64)
    base: str = Field(default="", max_length=64)


class ShadowPayload(JobPayload):
    """A stage service deployed from a merge: its intent file and the version (merge commit) deployed."""

    path: str = Field(min_length=1, max_length=500)
    sha: str = Field(min_length=1, max_length=64)
    number: int = Field(ge=1, le=2**31 - 1)
    """The stage service's pull request, where the report is commented."""


class PullPayload(JobPayload):
    """A pull request (or an issue) of the repository."""

    number: int = Field(ge=1, le=2**31 - 1)


class DeployPayload(PullPayload):
    sha: str = Field(min_length=1, max_length=64)
    """The merge commit to deploy."""


class ChangedPayload(PullPayload):
    head_sha: str = Field(min_length=1, max_length=64)
    pusher: str = ""
    """Who pushed `head_sha` (the event's sender): their approval of it does not count."""


class CommandPayload(PullPayload):
    command: str = Field(min_length=1, max_length=40)
    login: str = Field(min_length=1, max_length=100)


class IssuePayload(PullPayload):
    body: str = ""
    author: str = ""
