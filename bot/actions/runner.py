"""What a GitHub Actions runner gives a step (`GITHUB_*`, `RUNNER_TEMP`), read once and checked.

Only the variables named here are read, from the mapping passed in; nothing else of the environment.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPPORTED_EVENTS: dict[str, str] = {
    "push": "push",
    "pull_request": "pull_request",
    "pull_request_review": "pull_request_review",
    "issue_comment": "issue_comment",
    "issues": "issues",
    "workflow_dispatch": "workflow_dispatch",
}
"""A workflow's event name -> the webhook event whose handlers it runs."""
REFUSED_EVENTS = {
    "pull_request_target": (
        "the line refuses pull_request_target: it runs a fork's pull request with the base repository's "
        "write token; trigger it on pull_request"
    ),
}
"""Events the line will not run for, and why."""

GITHUB_API = "https://api.github.com"
ACTIONS_BOT = "github-actions[bot]"
"""Who the workflow's GITHUB_TOKEN acts as; the API refuses it GET /user, so its login is known here."""

MISSING = "{name} is not set: run `intentops action` as a step of a GitHub Actions job (or set it)"
UNSUPPORTED = "the {event} event is not one the line handles; trigger the workflow on: {supported}"
NO_EVENT_FILE = "GITHUB_EVENT_PATH {path}: {reason}"
BAD_EVENT_FILE = "GITHUB_EVENT_PATH {path} is not a JSON object of the {event} event: {reason}"
BAD_REPOSITORY = "GITHUB_REPOSITORY {value!r} is not owner/name"
MAX_EVENT_BYTES = 25 * 1024 * 1024
"""GitHub caps webhook payloads at 25 MB; an event file larger than that was not written by a runner."""


class RunnerError(ValueError):
    """The runner's environment cannot be used; the message names the variable and what to do."""


@dataclass(frozen=True)
class RunnerEvent:
    """One workflow run's event, as the runner described it."""

    workflow_event: str
    """The workflow's event name (GITHUB_EVENT_NAME)."""
    payload: dict[str, Any]
    body: bytes
    repository: str
    sha: str
    api_url: str
    server_url: str
    run_id: str
    run_attempt: str

    @property
    def webhook_event(self) -> str:
        return SUPPORTED_EVENTS[self.workflow_event]

    @property
    def delivery_id(self) -> str:
        """One per run attempt: a job re-run with the same attempt is a duplicate, a new attempt is not."""
        if self.run_id:
            return f"actions-{self.run_id}-{self.run_attempt or '1'}"
        return "actions-" + hashlib.sha256(self.body).hexdigest()[:32]

    @property
    def run_url(self) -> str:
        if not self.run_id:
            return ""
        return f"{self.server_url.rstrip('/')}/{self.repository}/actions/runs/{self.run_id}"


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise RunnerError(MISSING.format(name=name))
    return value


def _load_event(path: Path, event: str) -> tuple[dict[str, Any], bytes]:
    try:
        if path.stat().st_size > MAX_EVENT_BYTES:
            raise RunnerError(NO_EVENT_FILE.format(path=path, reason=f"larger than {MAX_EVENT_BYTES} bytes"))
        body = path.read_bytes()
    except OSError as exc:
        raise RunnerError(NO_EVENT_FILE.format(path=path, reason=exc.strerror or str(exc))) from None
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunnerError(BAD_EVENT_FILE.format(path=path, event=event, reason=str(exc))) from None
    if not isinstance(payload, dict):
        reason = f"it is a JSON {type(payload).__name__}"
        raise RunnerError(BAD_EVENT_FILE.format(path=path, event=event, reason=reason))
    return payload, body


def read_runner_event(env: Mapping[str, str]) -> RunnerEvent:
    """The run's event from the runner's variables; RunnerError says which one is missing or wrong."""
    event = _required(env, "GITHUB_EVENT_NAME")
    if event in REFUSED_EVENTS:
        raise RunnerError(REFUSED_EVENTS[event])
    if event not in SUPPORTED_EVENTS:
        raise RunnerError(UNSUPPORTED.format(event=event, supported=", ".join(SUPPORTED_EVENTS)))
    repository = _required(env, "GITHUB_REPOSITORY")
    owner, _, name = repository.partition("/")
    if not owner or not name or "/" in name:
        raise RunnerError(BAD_REPOSITORY.format(value=repository))
    payload, body = _load_event(Path(_required(env, "GITHUB_EVENT_PATH")), event)
    return RunnerEvent(
        workflow_event=event,
        payload=payload,
        body=body,
        repository=repository,
        sha=env.get("GITHUB_SHA", ""),
        api_url=(env.get("GITHUB_API_URL") or GITHUB_API).rstrip("/"),
        server_url=(env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/"),
        run_id=env.get("GITHUB_RUN_ID", ""),
        run_attempt=env.get("GITHUB_RUN_ATTEMPT", ""),
    )


def data_dir_for(env: Mapping[str, str]) -> Path | None:
    """Where the line keeps its files in a run: INTENTOPS_DATA_DIR, else under RUNNER_TEMP (emptied after
    each job); None outside a runner, leaving the settings' default."""
    if env.get("INTENTOPS_DATA_DIR"):
        return None
    temp = env.get("RUNNER_TEMP", "").strip()
    return Path(temp) / "intentops" if temp else None
