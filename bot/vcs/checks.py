"""Check runs where the forge allows them: a GitHub App's connection reports each status context as a check
run (with a summary, and annotations on the lines of files), a personal token keeps commit statuses.

GitHub (and the embedded forge) refuse check runs to personal tokens; `repo_client` picks the adapter from
the connection, so handlers call `set_status` and `annotate` the same way for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from github import Auth
from github.CheckRun import CheckRun

from bot.vcs.github import STATUS_DESCRIPTION_LIMIT, Connection, GithubRepoClient, translated
from bot.vcs.models import LineNote, StatusState

MAX_ANNOTATIONS = 50
"""GitHub takes at most 50 annotations per request; the first 50 of a report are sent."""
SUMMARY = "{description}\n\n[Details]({url})"
CONCLUSIONS = {
    StatusState.SUCCESS: "success",
    StatusState.FAILURE: "failure",
    StatusState.ERROR: "failure",
}


def uses_check_runs(connection: Connection) -> bool:
    """Whether the connection is a GitHub App's installation (the only kind that may write check runs)."""
    return isinstance(connection.auth, Auth.AppInstallationAuth)


def repo_client(connection: Connection, full_name: str) -> GithubRepoClient:
    """The bot's client for `full_name`: check runs for an App, commit statuses for a token."""
    if uses_check_runs(connection):
        return GithubChecksClient(connection, full_name)
    return GithubRepoClient(connection, full_name)


def _annotation(note: LineNote) -> dict[str, Any]:
    line = max(note.line, 1)
    annotation: dict[str, Any] = {
        "path": note.path,
        "start_line": line,
        "end_line": line,
        "annotation_level": "failure",
        "message": note.message,
    }
    if note.column > 0:
        annotation["start_column"] = annotation["end_column"] = note.column
    if note.title:
        annotation["title"] = note.title
    return annotation


class GithubChecksClient(GithubRepoClient):
    """A GitHub App's client: each status context is the check run of that name on the commit."""

    def _check_run(self, sha: str, name: str) -> CheckRun | None:
        """The newest check run `name` on `sha` (the forge may ignore `check_name`: filtered here too)."""
        runs = self._repo.get_commit(sha).get_check_runs(check_name=name)
        return next((run for run in runs if run.name == name), None)

    @translated
    def set_status(
        self, sha: str, context: str, state: StatusState, description: str, target_url: str | None = None
    ) -> None:
        title = description[:STATUS_DESCRIPTION_LIMIT]
        summary = SUMMARY.format(description=description, url=target_url) if target_url else description
        fields: dict[str, Any] = {"output": {"title": title, "summary": summary}}
        if target_url:
            fields["details_url"] = target_url
        if state is StatusState.PENDING:
            fields["status"] = "in_progress"
        else:
            fields["conclusion"] = CONCLUSIONS[state]
        existing = self._check_run(sha, context)
        if existing is None:
            self._repo.create_check_run(name=context, head_sha=sha, **fields)
        else:
            if state is StatusState.PENDING and existing.status == "completed":
                self._repo.create_check_run(name=context, head_sha=sha, **fields)  # a re-run on the commit
                return
            existing.edit(**fields)

    @translated
    def annotate(self, sha: str, context: str, notes: Sequence[LineNote]) -> None:
        """Add `notes` to the check run `context` on `sha` (made by `set_status` before)."""
        run = self._check_run(sha, context)
        if run is None or not notes:
            return
        annotations = [_annotation(note) for note in notes[:MAX_ANNOTATIONS]]
        output = {
            "title": run.output.title or context,
            "summary": run.output.summary or "",
            "annotations": annotations,
        }
        run.edit(output=output)
