"""The demo repository `intentops up` and `intentops demo` create: nobody merges an intent's PR before
governance is satisfied and the line has passed its SPEC and tests, and people still push intents to main."""

from __future__ import annotations

import pytest
from github import GithubException

from bot.cli import stack
from forge.admin import Account
from tests.fixtures.forge import ForgeKit


def test_the_demo_repo_refuses_a_merge_until_governance_and_tests_pass(forge_kit: ForgeKit) -> None:
    credentials = stack._people(forge_kit.server)
    author = Account(stack.AUTHOR, credentials.tokens[stack.AUTHOR])
    bot = Account(stack.BOT, credentials.tokens[stack.BOT])
    clone = forge_kit.clone(stack.REPO, author)
    forge_kit.commit(clone, {"intents/notes.yaml": "service_name: notes\n"}, "Add notes")
    forge_kit.git(clone, "push", "--quiet", "origin", "HEAD:main")  # pushing intents stays open
    head = forge_kit.push_branch(clone, "intentops/notes", {"services/notes/app.py": "x = 1\n"}, "Build")
    repo = forge_kit.github(author).get_repo(stack.REPO)
    pull = repo.create_pull(title="notes", body="", head="intentops/notes", base="main")
    forge_kit.github(bot).get_repo(stack.REPO).get_commit(head).create_status(
        "pending", description="waiting for sign-off", context="intentops/governance"
    )

    with pytest.raises(GithubException) as refused:
        pull.merge(merge_method="merge")
    assert refused.value.status == 405 and "intentops/governance" in str(refused.value.data)

    commit = forge_kit.github(bot).get_repo(stack.REPO).get_commit(head)
    commit.create_status("success", description="signed off by bob", context="intentops/governance")
    commit.create_status("failure", description="1 failed", context="intentops/tests")
    commit.create_status("success", description="SPEC 100/100", context="intentops/spec")
    with pytest.raises(GithubException) as failing:
        pull.merge(merge_method="merge")
    assert failing.value.status == 405 and "intentops/tests" in str(failing.value.data)

    commit.create_status("success", description="12 tests passed", context="intentops/tests")
    assert pull.merge(merge_method="merge").merged
