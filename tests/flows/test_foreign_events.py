"""Events about repositories or pull requests the bot does not manage are dropped quietly: GitHub's real
payload examples, signed, sent to the bot of a whole line."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import httpx
import pytest

from bot.queue import JobState
from tests.bot.conftest import delivery_headers, payload_examples
from tests.fixtures.line import REPO, SECRET, Rig

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]


def about(payload: dict[str, Any], repo: str) -> dict[str, Any]:
    """The same event, about `repo` (owner and name as GitHub writes them)."""
    moved = copy.deepcopy(payload)
    if isinstance(moved.get("repository"), dict):
        owner, name = repo.split("/")
        moved["repository"].update(full_name=repo, name=name)
        if isinstance(moved["repository"].get("owner"), dict):
            moved["repository"]["owner"]["login"] = owner
    return moved


def send(rig: Rig, event: str, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(
        f"{rig.url}/webhook", content=body, headers=delivery_headers(event, body, secret=SECRET), timeout=10
    )


def test_events_about_other_repositories_and_unknown_pulls_end_quietly(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    examples = [(event, json.loads(path.read_text(encoding="utf-8"))) for event, path in payload_examples()]
    # As sent (about Codertocat/Hello-World), and about the bot's own repository, where the pull
    # requests and issues they name do not exist.
    for event, payload in examples + [(event, about(payload, REPO)) for event, payload in examples]:
        response = send(rig, event, payload)
        assert response.is_success, (event, response.status_code, response.text)
    rig.wait_until_idle()

    counts = rig.bot.app.state.context.queue.counts()
    assert counts[JobState.DEAD] == 0, rig.job_counts()
    assert "pr.signoff" in rig.job_counts(), "the reviews about the bot's repository were looked at"
    noisy = [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    assert noisy == [], [f"{r.name}: {r.getMessage()}" for r in noisy]
    dropped = [r.getMessage() for r in caplog.records if "does not manage" in r.getMessage()]
    assert dropped and all("Codertocat/Hello-World" in message for message in dropped)
    gone = [r.getMessage() for r in caplog.records if "has nothing to do" in r.getMessage()]
    assert gone and all(REPO in message for message in gone)
