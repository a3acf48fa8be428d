"""Fixtures for the bot's intake and queue tests: GitHub's real payload examples, signed requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from pipeline.state import Database
from tests.conftest import SHARED
from tests.fixtures.database import on_every_engine
from tests.fixtures.servers import serve_app

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


# Every bot test on the state database (tests/fixtures/database.py) runs on SQLite and on a real PostgreSQL.
pytest_generate_tests = on_every_engine


@pytest.fixture
def database_url(database: Database) -> str:
    return database.url


SECRET = "It's a Secret to Everybody"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def delivery_headers(
    event: str, body: bytes, *, delivery: str | None = None, hook_id: str = "109948940", secret: str = SECRET
) -> dict[str, str]:
    """The headers GitHub sends (see ../shared/github/webhook-headers.md), signed with `secret`."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": hook_id,
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        "X-GitHub-Hook-Installation-Target-ID": "79929171",
        "X-Hub-Signature-256": sign(body, secret),
    }


@pytest.fixture
def bot_settings(tmp_path: Path) -> Settings:
    return Settings(
        **{
            "INTENTOPS_WEBHOOK_SECRET": SECRET,
            "INTENTOPS_DATA_DIR": str(tmp_path / "data"),
            "INTENTOPS_BOT_LOGIN": "intentops[bot]",
            "INTENTOPS_WEBHOOK_MAX_BYTES": 256 * 1024,
            "INTENTOPS_JOB_LEASE_SECONDS": 5,
            "INTENTOPS_JOB_BACKOFF_SECONDS": 0.05,
        }
    )


def serving(app: Any) -> AbstractContextManager[str]:
    """Serve `app` with uvicorn on 127.0.0.1 and a free port; yields its base URL."""
    return serve_app(app)


def wait_for(condition: Callable[[], bool], *, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)
