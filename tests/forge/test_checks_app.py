"""The webhook bot as a GitHub App reports with check runs: an invalid intent is annotated on its file and
line; governance, spec and tests are check runs with a summary (commit statuses stay for tokens: the flow
tests). The issue opened about the invalid version is closed once the fix has its pull request."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from github import Auth, Github

from bot.server import build_bot
from bot.settings import Settings
from pipeline.wheelhouse import prepare_wheelhouse
from tests.actions.rig import repo_files
from tests.fixtures.forge import ForgeKit
from tests.fixtures.line import NOTES_INTENT, REPO, SHARED_DATA
from tests.fixtures.servers import free_port, serve_app

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("actions")]

SECRET = "checks-app-webhook-secret"
T = TypeVar("T")


BUILT_CHECKS = ("intentops/spec", "intentops/tests")
"""Completed once the build is done; governance stays in progress until the sign-off."""


def eventually(probe: Callable[[], T | None], what: str, timeout: float = 90.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout}s")


def test_an_app_gets_check_runs_with_annotations(
    forge_kit: ForgeKit, app_key: tuple[str, str], tmp_path: Path
) -> None:
    kit = forge_kit
    private, public = app_key
    kit.user("acme")
    alice = kit.user("alice")
    kit.repo(REPO, files=repo_files(), collaborators={"alice": "write"})
    app_id = kit.admin.register_app("acme", "intentops", public)
    kit.admin.install_app(app_id, REPO)
    prepare_wheelhouse(SHARED_DATA / "wheelhouse")
    data = tmp_path / "bot"
    data.mkdir()
    (data / "wheelhouse").symlink_to(SHARED_DATA / "wheelhouse")
    port = free_port()
    settings = Settings(
        INTENTOPS_WEBHOOK_SECRET=SECRET,
        GITHUB_APP_ID=app_id,
        GITHUB_PRIVATE_KEY=private,
        GITHUB_BASE_URL=kit.api_url,
        INTENTOPS_DATA_DIR=str(data),
        INTENTOPS_PUBLIC_URL=f"http://127.0.0.1:{port}",
        INTENTOPS_REPO=REPO,
        INTENTOPS_WORKER_THREADS=2,
        INTENTOPS_DASHBOARD_SECRET="checks-app-dashboard-secret-0123456789",
    )
    bot = build_bot(settings)
    bot.line.venv_cache = SHARED_DATA / "venvs"
    reader = Github(auth=Auth.Token(alice.token), base_url=kit.api_url, retry=None).get_repo(REPO)
    with serve_app(bot.app, port=port) as url:
        kit.admin.add_webhook(REPO, f"{url}/webhook", secret=SECRET)
        clone = kit.clone(REPO, alice)
        bad = kit.commit(clone, {"intents/notes.yaml": NOTES_INTENT + "owner: me\n"}, "Add notes")
        kit.git(clone, "push", "--quiet", "origin", "HEAD:main")

        name = "intentops/governance: intents/notes.yaml"
        run = eventually(lambda: next(iter(reader.get_commit(bad).get_check_runs()), None), "check run")
        assert (run.name, run.conclusion) == (name, "failure")
        annotated = eventually(
            lambda: [
                (a.path, a.start_line, a.message) for a in reader.get_check_run(run.id).get_annotations()
            ],
            "annotations",
        )
        ((path, line, message),) = annotated
        assert (path, line) == ("intents/notes.yaml", 8)
        assert message.startswith("owner: unknown field 'owner'")
        assert reader.get_commit(bad).get_combined_status().statuses == [], "no commit statuses for an App"

        kit.commit(clone, {"intents/notes.yaml": NOTES_INTENT}, "Fix notes")
        kit.git(clone, "push", "--quiet", "origin", "HEAD:main")
        pull = eventually(lambda: next(iter(reader.get_pulls(state="open")), None), "pull request")
        # The issue opened about the invalid version, closed by the fix (the issues API lists PRs too).
        (issue,) = [found for found in reader.get_issues(state="all") if found.pull_request is None]
        assert issue.title == "intentops: intents/notes.yaml needs attention"
        eventually(lambda: reader.get_issue(issue.number).state == "closed", "the issue closed")
        closing = reader.get_issue(issue.number).get_comments()[0].body
        assert f"has its pull request now, #{pull.number}" in closing
        head = pull.head.sha

        def runs() -> dict[str, tuple[str, str | None, str]] | None:
            found = {
                r.name: (r.status, r.conclusion, r.output.summary)
                for r in reader.get_commit(head).get_check_runs()
            }
            built = all(found.get(name, ("",))[0] == "completed" for name in BUILT_CHECKS)
            return found if len(found) == 3 and built else None

        checks = eventually(runs, "three check runs, the spec and tests ones completed")
        assert {name: state[:2] for name, state in checks.items()} == {
            "intentops/governance": ("in_progress", None),
            "intentops/spec": ("completed", "success"),
            "intentops/tests": ("completed", "success"),
        }
        assert all(f"{url}/dashboard/intents/" in summary for _, _, summary in checks.values())
    bot.database.dispose()
