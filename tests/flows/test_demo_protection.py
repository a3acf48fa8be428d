"""The demo repository `intentops up` and `intentops demo` create: nobody merges an intent's PR before
governance is satisfied, and people still push intents to main."""

from __future__ import annotations

import pytest
from github import GithubException

from bot.cli import stack
from forge.admin import Account
from tests.fixtures.forge import ForgeKit


def test_the_demo_repo_refuses_a_merge_while_governance_is_pending(forge_kit: ForgeKit) -> None:
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

    forge_kit.github(bot).get_repo(stack.REPO).get_commit(head).create_status(
        "success", description="signed off by bob", context="intentops/governance"
    )
    assert pull.merge(merge_method="merge").merged
