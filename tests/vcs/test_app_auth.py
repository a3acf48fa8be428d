"""The bot as a GitHub App: installation found for the repository, REST and git with installation tokens."""

from __future__ import annotations

from pathlib import Path

from bot.server import build_bot
from bot.settings import Settings
from tests.fixtures.forge import ForgeKit

REPO = "acme/intents"


def test_the_bot_works_as_an_installed_github_app(
    forge_kit: ForgeKit, app_key: tuple[str, str], tmp_path: Path
) -> None:
    kit = forge_kit
    kit.user("acme")
    kit.repo(REPO, files={"README.md": b"intents\n"})
    private, public = app_key
    app_id = kit.admin.register_app("acme", "intentops", public)
    kit.admin.install_app(app_id, REPO)
    settings = Settings(
        GITHUB_APP_ID=app_id,
        GITHUB_PRIVATE_KEY=private,
        GITHUB_BASE_URL=kit.api_url,
        INTENTOPS_REPO=REPO,
        INTENTOPS_WEBHOOK_SECRET="app-test-secret",
        INTENTOPS_DATA_DIR=str(tmp_path / "bot"),
        INTENTOPS_DASHBOARD_SECRET="app-test-dashboard-secret-0123456789",
    )
    bot = build_bot(settings, worker_threads=0)
    try:
        line = bot.line
        assert line.bot_login == "intentops[bot]"
        repo = line.repo(REPO)
        assert repo.default_branch() == "main"
        sha = line.workspace(REPO).publish(
            branch="intentops/demo", base="main", folder="services/demo", files={"a.txt": b"1\n"}, message="m"
        )
        assert sha is not None and repo.branch_head("intentops/demo") == sha
        assert repo.read_file("services/demo/a.txt", "intentops/demo") == b"1\n"
        config = (tmp_path / "bot" / "bot" / "repos" / REPO / ".git" / "config").read_text()
        assert "x-access-token" not in config and "Authorization" not in config
    finally:
        bot.database.dispose()
