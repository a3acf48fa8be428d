"""Comments edited in place: the forge's PATCH /repos/{o}/{r}/issues/comments/{id} (author or writer only,
an `edited` event with the old body), and the bot's one report comment per kind and PR."""

from __future__ import annotations

import pytest
from github import GithubException

from bot.dashboard.markdown import render_markdown
from bot.vcs.github import GithubRepoClient, token_connection
from tests.fixtures.forge import ForgeKit, HookReceiver

REPO = "acme/edits"


def test_comments_edit_in_place_and_only_by_their_author_or_a_writer(
    forge_kit: ForgeKit, hook_receiver: HookReceiver
) -> None:
    kit = forge_kit
    acme, bot, alice, carol = (kit.user(login) for login in ("acme", "edits-bot", "alice", "carol"))
    kit.repo(
        REPO,
        files={"README.md": b"x"},
        collaborators={"edits-bot": "write", "alice": "write", "carol": "read"},
    )
    kit.admin.add_webhook(REPO, hook_receiver.url)
    issue = kit.github(alice).get_repo(REPO).create_issue(title="a question")
    mine = issue.create_comment("first words")

    mine.edit("better words")
    assert kit.github(alice).get_repo(REPO).get_issue(issue.number).get_comments()[0].body == "better words"
    (edited,) = hook_receiver.wait_for("issue_comment", "edited")
    assert edited.payload["changes"] == {"body": {"from": "first words"}}
    assert edited.payload["comment"]["body"] == "better words"

    theirs = kit.github(carol).get_repo(REPO).get_issue(issue.number).get_comment(mine.id)
    with pytest.raises(GithubException) as refused:
        theirs.edit("carol was here")
    assert refused.value.status == 403

    # The bot's report of a kind: created once, then edited; a person's comment with the marker is left.
    client = GithubRepoClient(token_connection(bot.token, kit.api_url), REPO)
    issue.create_comment("[//]: # (intentops-report deploy)\n\nforged by alice")
    client.report(issue.number, kind="deploy", body="deploy refused", author="edits-bot")
    client.report(issue.number, kind="deploy", body="deployed at http://x", author="edits-bot")
    client.report(issue.number, kind="blocked", body="blocked", author="edits-bot")
    bodies = [
        (c.user.login, c.body) for c in kit.github(acme).get_repo(REPO).get_issue(issue.number).get_comments()
    ]
    assert bodies == [
        ("alice", "better words"),
        ("alice", "[//]: # (intentops-report deploy)\n\nforged by alice"),
        ("edits-bot", "[//]: # (intentops-report deploy)\n\ndeployed at http://x"),
        ("edits-bot", "[//]: # (intentops-report blocked)\n\nblocked"),
    ]
    assert str(render_markdown(bodies[2][1])) == "<p>deployed at http://x</p>\n", "the marker shows nowhere"
