"""Attacks on what a reviewer reads, each against a real dashboard and a real embedded forge:

- test_a_spec_cannot_run_script_on_the_spec_page: a SPEC (written by a model, or pushed to the intent's
  branch by anyone who can write) holding a <script>, an image whose onerror runs script, an HTML comment
  hiding text and a javascript: link, for the dashboard to render as a document.
- test_a_diff_cannot_run_script_on_the_approvals_card: a generated file whose lines are HTML, shown in the
  highlighted diff before the Approve button.
- test_a_comment_cannot_run_script_on_the_intent_page: a pull request comment (anyone who can read may
  comment) with HTML and a javascript: link, shown in the intent page's conversation.
- test_forge_pages_show_html_in_bodies_and_comments_as_text: the same in a pull request's body and comments
  on the forge's own pages, and a <details> with an event handler slipped between the tags they keep.
- test_forge_pages_of_a_private_repository_show_nothing_to_nobody_and_strangers: reading a private
  repository's pull request pages without a token, with a wrong one, or as someone not let in.
- test_search_does_not_reveal_the_purpose_of_an_intent_you_cannot_read: finding (and so learning about)
  an intent of a repository you cannot read by a word of its purpose, after someone who can read it made
  the dashboard read that purpose.
- test_the_intent_page_does_not_show_a_purpose_you_cannot_read: the same on the intent's own page.
- test_a_forged_confirmation_without_the_form_token_rejects_nothing: posting Reject's confirmation
  (confirmed=yes) from another site, without the session's CSRF token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from forge.admin import Account
from tests.dashboard.rig import REPO, People, Rig, csrf_of, make_people, start_rig
from tests.fixtures.forge import ForgeKit

HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> <!-- hidden --> "
    '[click](javascript:alert(3)) <a href="javascript:alert(4)">a</a>'
)
SCRIPT = re.compile(r"<script|onerror=|javascript:", re.IGNORECASE)


OWN_SCRIPTS = re.compile(r'<script src="/static/(?:htmx\.min|live)\.js" defer>')


def live_markup(html: str) -> list[str]:
    """Script a browser would run: script tags (but the dashboard's own two), event handlers in tags,
    javascript: addresses in links."""
    tags = re.findall(r"<[a-zA-Z][^>]*>", html)
    return [tag for tag in tags if SCRIPT.search(tag) and not OWN_SCRIPTS.fullmatch(tag)]


@pytest.fixture(scope="module")
def people(module_forge_kit: ForgeKit) -> People:
    return make_people(module_forge_kit)


@pytest.fixture
def rig(module_forge_kit: ForgeKit, people: People, tmp_path: Path) -> Iterator[Rig]:
    rig = start_rig(module_forge_kit, people, tmp_path)
    yield rig
    rig.server.stop()
    rig.db.dispose()


@contextmanager
def signed_in(rig: Rig, account: Account) -> Iterator[httpx.Client]:
    with rig.client() as client:
        rig.sign_in(client, account)
        yield client


def test_a_spec_cannot_run_script_on_the_spec_page(rig: Rig) -> None:
    pull = rig.open_pull("spec-attack")
    repo = rig.github(rig.people.bot).get_repo(REPO)
    spec = repo.get_contents("services/spec-attack/SPEC.md", ref="intentops/spec-attack")
    assert not isinstance(spec, list)
    text = f"# SPEC: spec-attack\n\n## 1. Overview and scope\n\n{HOSTILE}\n\n<div>{HOSTILE}</div>\n"
    repo.update_file(spec.path, "spec", text, spec.sha, branch="intentops/spec-attack")
    with signed_in(rig, rig.people.approver) as client:
        page = client.get(f"/approvals/{pull.intent_id}/spec").text
    assert "Overview and scope</h2>" in page, "the SPEC was rendered"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert live_markup(page) == []


def test_a_diff_cannot_run_script_on_the_approvals_card(rig: Rig) -> None:
    pull = rig.open_pull("diff-attack")
    repo = rig.github(rig.people.bot).get_repo(REPO)
    repo.create_file("services/diff-attack/tests/page.html", "t", HOSTILE, branch="intentops/diff-attack")
    with signed_in(rig, rig.people.approver) as client:
        page = client.get("/approvals").text
    card = page[page.index(f'id="approval-{pull.intent_id}"') :]
    assert "services/diff-attack/tests/page.html" in card
    assert live_markup(card) == []


def test_a_comment_cannot_run_script_on_the_intent_page(rig: Rig) -> None:
    pull = rig.open_pull("comment-attack")
    rig.github(rig.people.reader).get_repo(REPO).get_issue(pull.number).create_comment(HOSTILE)
    with signed_in(rig, rig.people.approver) as client:
        page = client.get(f"/intents/{pull.intent_id}").text
    conversation = page[page.index("Conversation") :]
    assert "rita" in conversation and "&lt;script&gt;" in conversation
    assert live_markup(page) == []


def test_forge_pages_show_html_in_bodies_and_comments_as_text(rig: Rig) -> None:
    pull = rig.open_pull("forge-attack")
    repo = rig.github(rig.people.reader).get_repo(REPO)
    repo.get_issue(pull.number).create_comment(f"<details ontoggle=alert(5)><summary>x</summary>{HOSTILE}")
    rig.github(rig.people.bot).get_repo(REPO).get_pull(pull.number).edit(body=HOSTILE)
    url = f"{rig.kit.url}/{REPO}/pull/{pull.number}"
    page = httpx.get(url, auth=(rig.people.reader.login, rig.people.reader.token)).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;details ontoggle=alert(5)&gt;" in page
    assert live_markup(page) == []


def test_forge_pages_of_a_private_repository_show_nothing_to_nobody_and_strangers(rig: Rig) -> None:
    pull = rig.open_pull("forge-private")
    url = f"{rig.kit.url}/{REPO}/pull/{pull.number}"
    title = f"intentops: {pull.service}"
    for auth in (None, ("oscar", "ghp_guess"), (rig.people.outsider.login, rig.people.outsider.token)):
        response = httpx.get(url, auth=auth)
        assert response.status_code in (401, 404), auth
        assert title not in response.text and "services/forge-private" not in response.text
    assert httpx.get(f"{rig.kit.url}/{REPO}/commit/{pull.head_sha}").status_code == 401


def test_search_does_not_reveal_the_purpose_of_an_intent_you_cannot_read(rig: Rig) -> None:
    rig.open_pull("secretive", purpose="Move the quarterly zanzibar ledger to the new bank.")
    with signed_in(rig, rig.people.approver) as alice:
        found = alice.get("/", params={"q": "zanzibar"}).text
    assert 'data-service="secretive"' in found, "alice, who may read it, finds it by its purpose"
    with signed_in(rig, rig.people.outsider) as oscar:
        hidden = oscar.get("/", params={"q": "zanzibar"}).text
        by_name = oscar.get("/", params={"q": "secretive"}).text
    assert 'data-service="secretive"' not in hidden and "No intent matches" in hidden
    assert 'data-service="secretive"' in by_name, "the queue shows names to everyone, as before"


def test_the_intent_page_does_not_show_a_purpose_you_cannot_read(rig: Rig) -> None:
    pull = rig.open_pull("private-purpose", purpose="Pay the invoices of the zanzibar office.")
    with signed_in(rig, rig.people.approver) as alice:
        assert "zanzibar office" in alice.get(f"/intents/{pull.intent_id}").text
    with signed_in(rig, rig.people.outsider) as oscar:
        page = oscar.get(f"/intents/{pull.intent_id}").text
    assert "zanzibar" not in page


def test_a_forged_confirmation_without_the_form_token_rejects_nothing(rig: Rig) -> None:
    pull = rig.open_pull("forged-reject")
    with signed_in(rig, rig.people.approver) as client:
        forged = client.post(
            f"/approvals/{pull.intent_id}/reject", data={"reason": "gone", "confirmed": "yes"}
        )
        assert forged.status_code == 403
        page = client.get("/approvals")
        assert csrf_of(page.text)
    assert rig.github(rig.people.owner).get_repo(REPO).get_pull(pull.number).state == "open"
