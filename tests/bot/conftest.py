"""Fixtures for the bot's intake and queue tests: GitHub's real payload examples, signed requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED

PAYLOAD_EXAMPLES = SHARED / "github" / "webhooks" / "payload-examples"


def payload_examples() -> list[tuple[str, Path]]:
    """(event name, file) for every real example; the folder name is the event name."""
    return [(path.parent.name, path) for path in sorted(PAYLOAD_EXAMPLES.glob("*/*.json"))]


def example_id(item: tuple[str, Path]) -> str:
    return f"{item[0]}/{item[1].name}"


def load_example(event: str, name: str = "payload.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOAD_EXAMPLES / event / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture
def push_with_commits() -> dict[str, Any]:
    """GitHub's push example (a tag deletion) turned into a branch push with commits, GitHub's shape."""
    payload = load_example("push")
    payload.update(ref="refs/heads/master", after="a" * 40, deleted=False, created=False)
    author = {"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com"}
    payload["commits"] = [
        {
            "id": "1" * 40,
            "tree_id": "2" * 40,
            "distinct": True,
            "message": "Add intents",
            "timestamp": "2019-05-15T15:20:41Z",
            "url": "https://github.com/Codertocat/Hello-World/commit/" + "1" * 40,
            "author": author,
            "committer": author,
            "added": ["intents/a.yaml", "intents/b.yaml"],
            "removed": [],
            "modified": ["README.md"],
        },
        {
            "id": "a" * 40,
            "tree_id": "3" * 40,
            "distinct": True,
            "message": "Drop b, change a",
            "timestamp": "2019-05-15T15:21:41Z",
            "url": "https://github.com/Codertocat/Hello-World/commit/" + "a" * 40,
            "author": author,
            "committer": author,
            "added": [],
            "removed": ["intents/b.yaml"],
            "modified": ["intents/a.yaml"],
        },
    ]
    payload["head_commit"] = payload["commits"][-1]
    return payload
