"""The bot as one GitHub App on many installations, against the forge's App endpoints: each repository is
worked on with its own installation's token, the installation an event names is the one used, and
`installation_repositories` events add and remove repositories. GitHub Enterprise Cloud hosts get their
git URL."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.line import git_base_url
from bot.server import Bot, build_bot
from bot.settings import Settings
from bot.vcs.errors import NotFound
from bot.vcs.github import git_password
from bot.worker import Worker
from forge.core import token_digest
from forge.models import AppToken
from tests.conftest import SHARED
from tests.fixtures.forge import ForgeKit
from tests.fixtures.servers import serve_app

SECRET = "app-installations-secret"
ACME, GLOBEX = "acme/intents", "globex/intents"
PAYLOADS = SHARED / "github" / "webhooks" / "payload-examples" / "installation_repositories"


@dataclass
class TwoInstallations:
    kit: ForgeKit
    bot: Bot
    url: str
    installations: dict[str, int]

    def installation_of_token(self, token: str) -> int:
        with self.kit.admin.forge.db.session() as session:
            row = session.scalar(select(AppToken).where(AppToken.digest == token_digest(token)))
        assert row is not None, "the forge never issued this token"
        return int(row.installation_id)

    def deliver(self, event: str, payload: dict[str, object]) -> None:
        """A signed delivery through the bot's webhook, then its jobs worked off."""
        body = json.dumps(payload).encode()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json",
        }
        assert httpx.post(f"{self.url}/webhook", content=body, headers=headers).status_code == 202
        worker = Worker(self.bot.app.state.context, self.bot.app.state.routes, name="test")
        while worker.run_once():
            pass


@pytest.fixture
def two(forge_kit: ForgeKit, app_key: tuple[str, str], tmp_path: Path) -> Iterator[TwoInstallations]:
    kit = forge_kit
    for owner in ("acme", "globex"):
        kit.user(owner)
    for name in (ACME, GLOBEX):
        kit.repo(name, files={"README.md": f"{name}\n".encode()})
    private, public = app_key
    app_id = kit.admin.register_app("acme", "intentops", public)
    installations = {name: kit.admin.install_app(app_id, name) for name in (ACME, GLOBEX)}
    settings = Settings(
        GITHUB_APP_ID=app_id,
        GITHUB_PRIVATE_KEY=private,
        GITHUB_BASE_URL=kit.api_url,
        INTENTOPS_WEBHOOK_SECRET=SECRET,
        INTENTOPS_DATA_DIR=str(tmp_path / "bot"),
        INTENTOPS_DASHBOARD_SECRET="app-installations-dashboard-secret-0123",
    )
    bot = build_bot(settings, worker_threads=0)
    try:
        with serve_app(bot.app) as url:
            yield TwoInstallations(kit, bot, url, installations)
    finally:
        bot.database.dispose()


def test_each_installation_gets_its_own_token(two: TwoInstallations) -> None:
    line = two.bot.line
    assert line.app is not None and line.bot_login == "intentops[bot]"
    assert two.installations[ACME] != two.installations[GLOBEX]
    tokens = {}
    for name in (ACME, GLOBEX):
        assert line.repo(name).default_branch() == "main"
        tokens[name] = git_password(line.app.connection_for(name))
        assert two.installation_of_token(tokens[name]) == two.installations[name]
    assert tokens[ACME] != tokens[GLOBEX]
    sha = line.workspace(GLOBEX).publish(
        branch="intentops/demo", base="main", folder="services/demo", files={"a.txt": b"1\n"}, message="m"
    )
    assert sha is not None and line.repo(GLOBEX).branch_head("intentops/demo") == sha


def test_installation_events_say_which_installation_answers(two: TwoInstallations) -> None:
    app = two.bot.line.app
    assert app is not None
    acme = two.installations[ACME]
    added = json.loads((PAYLOADS / "added.payload.json").read_text(encoding="utf-8"))
    added["installation"]["id"] = acme
    added["repositories_added"] = [{"id": 9, "name": "tools", "full_name": "acme/tools", "private": False}]
    two.deliver("installation_repositories", added)
    # Known from the event alone: the forge has no acme/tools, so asking it would fail.
    assert app.installation_for("acme/tools") == acme

    push = json.loads((PAYLOADS.parent / "push" / "payload.json").read_text(encoding="utf-8"))
    push["installation"] = {
        "id": two.installations[GLOBEX],
        "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u",
    }
    push["repository"]["full_name"] = "globex/elsewhere"
    two.deliver("push", push)
    # The event's installation is the one used for its repository, without asking anyone.
    assert app.installation_for("globex/elsewhere") == two.installations[GLOBEX]

    removed = json.loads((PAYLOADS / "removed.payload.json").read_text(encoding="utf-8"))
    removed["installation"]["id"] = acme
    removed["repositories_removed"] = [
        {"id": 9, "name": "tools", "full_name": "acme/tools", "private": False}
    ]
    two.deliver("installation_repositories", removed)
    with pytest.raises(NotFound):
        app.installation_for("acme/tools")


def test_github_enterprise_cloud_and_server_git_urls() -> None:
    assert git_base_url("https://api.octocorp.ghe.com") == "https://octocorp.ghe.com"
    assert git_base_url("https://ghe.example.com/api/v3") == "https://ghe.example.com"
    assert git_base_url("https://api.github.com") == "https://github.com"
