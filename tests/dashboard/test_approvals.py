"""Approve and reject act on the forge as the signed-in user; the server checks who may, every time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import requests

from forge.admin import Account
from tests.dashboard.rig import REPO, OpenedPull, Rig, csrf_of


@contextmanager
def signed_in(rig: Rig, account: Account) -> Iterator[httpx.Client]:
    with rig.client() as client:
        rig.sign_in(client, account)
        yield client


def approve(client: httpx.Client, pull: OpenedPull, *, head: str | None = None) -> httpx.Response:
    page = client.get("/approvals")
    return client.post(
        f"/approvals/{pull.intent_id}/approve",
        data={"csrf_token": csrf_of(page.text), "head_sha": head or pull.head_sha},
    )


def reviews(rig: Rig, pull: OpenedPull) -> list[tuple[str, str, str]]:
    gh_pull = rig.github(rig.people.owner).get_repo(REPO).get_pull(pull.number)
    return [(r.user.login, r.state, r.commit_id) for r in gh_pull.get_reviews()]


def test_an_approver_sees_the_diff_and_the_spec_before_the_buttons(rig: Rig) -> None:
    pull = rig.open_pull("greeter")
    with signed_in(rig, rig.people.approver) as client:
        page = client.get("/approvals").text
    card = page[page.index('id="approval-') :]
    button = card.index("Approve greeter")
    assert card.index("services/greeter/app.py") < button
    for part in (
        "Goal. A service that greets people.",
        "FR-001 The service MUST serve GET /hello with a greeting.",
        "<code>EP-001 GET /hello</code>",
        f'href="/approvals/{pull.intent_id}/spec"',
    ):
        assert card.index(part) < button, part
    assert "+1" in card and "services/greeter/SPEC.md" in card
    assert f'name="head_sha" value="{pull.head_sha}"' in card


def forge_requests(monkeypatch: pytest.MonkeyPatch, rig: Rig) -> list[str]:
    """Every request sent to the forge's API from this process from now on, as `METHOD path`."""
    seen: list[str] = []
    send = requests.Session.send

    def counting(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        if str(request.url).startswith(rig.kit.api_url):
            seen.append(f"{request.method} {str(request.url).removeprefix(rig.kit.api_url)}")
        return send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", counting)
    return seen


def test_the_approvals_page_asks_the_forge_each_question_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per pending intent: the pull request, the user's permission, its files with their patches, its
    reviews and, once per commit, its SPEC, and once per content, the intent file."""
    pulls = [rig.open_pull(f"asked-{n}") for n in range(3)]
    with signed_in(rig, rig.people.approver) as client:
        seen = forge_requests(monkeypatch, rig)
        first = client.get("/approvals").text
        cold = list(seen)
        for pull in pulls:
            rig.server.app.state.forge_cache.forget("alice", pull.intent_id)
        seen.clear()
        second = client.get("/approvals").text
    assert all(f"Approve {p.service}" in first and f"Approve {p.service}" in second for p in pulls)
    assert len(cold) == 6 * len(pulls), cold
    assert len(seen) == 4 * len(pulls), seen
    assert not any("contents" in request for request in seen), "the SPEC and the intent are read once"


def test_the_spec_page_shows_the_spec_of_the_current_head_with_the_buttons(rig: Rig) -> None:
    pull = rig.open_pull("spec-reader")
    with signed_in(rig, rig.people.approver) as client:
        page = client.get(f"/approvals/{pull.intent_id}/spec").text
    assert page.index("<h1>SPEC: spec-reader</h1>") < page.index("Approve spec-reader")
    with signed_in(rig, rig.people.reader) as client:
        as_reader = client.get(f"/approvals/{pull.intent_id}/spec").text
    assert "<h1>SPEC: spec-reader</h1>" in as_reader and "Approve spec-reader" not in as_reader
    assert "rita does not have write permission" in as_reader


def test_one_click_approve_submits_a_real_review_on_the_current_head(rig: Rig) -> None:
    pull = rig.open_pull("approve-me")
    with signed_in(rig, rig.people.approver) as client:
        response = approve(client, pull)
        after = client.get(response.headers["location"])
    assert response.status_code == 303
    assert reviews(rig, pull) == [("alice", "APPROVED", pull.head_sha)]
    assert "You approved approve-me" in after.text
    assert "You approved this commit" in after.text and "Approve approve-me" not in after.text


def test_approving_twice_leaves_one_review(rig: Rig) -> None:
    pull = rig.open_pull("twice")
    with signed_in(rig, rig.people.approver) as client:
        approve(client, pull)
        second = approve(client, pull)
    assert second.status_code == 303
    assert len(reviews(rig, pull)) == 1


def test_a_pull_request_that_moved_since_the_page_was_read_is_not_approved(rig: Rig) -> None:
    pull = rig.open_pull("moving")
    with signed_in(rig, rig.people.approver) as client:
        response = approve(client, pull, head="0" * 40)
    assert response.status_code == 409
    assert "changed since you looked" in response.text
    assert reviews(rig, pull) == []


def test_a_reader_sees_no_button_and_a_forged_post_is_refused(rig: Rig) -> None:
    pull = rig.open_pull("not-for-rita")
    with signed_in(rig, rig.people.reader) as client:
        page = client.get("/approvals")
        forged = approve(client, pull)
    assert "Approve not-for-rita" not in page.text
    assert "does not have write permission" in page.text
    assert forged.status_code == 403
    assert "rita does not have write permission" in forged.text
    assert reviews(rig, pull) == []


def test_someone_outside_the_repository_gets_403(rig: Rig) -> None:
    pull = rig.open_pull("private-one")
    with signed_in(rig, rig.people.outsider) as client:
        page = client.get("/approvals").text
        spec = client.get(f"/approvals/{pull.intent_id}/spec")
        forged = approve(client, pull)
    assert "Approve private-one" not in page and "oscar cannot read the repository acme/intents" in page
    assert spec.status_code == 404 and "SPEC: private-one" not in spec.text
    assert forged.status_code == 403
    assert "You cannot sign off on this intent: oscar cannot read the repository acme/intents" in forged.text
    assert reviews(rig, pull) == []


def test_the_bot_cannot_sign_off_its_own_pull_request(rig: Rig) -> None:
    pull = rig.open_pull("bot-made")
    with signed_in(rig, rig.people.bot) as client:
        forged = approve(client, pull)
    assert forged.status_code == 403
    assert reviews(rig, pull) == []


def test_the_person_who_asked_for_the_intent_cannot_sign_it_off(rig: Rig) -> None:
    pull = rig.open_pull("my-own")
    with signed_in(rig, rig.people.requester) as client:
        page = client.get("/approvals")
        forged = approve(client, pull)
    assert "Approve my-own" not in page.text
    assert forged.status_code == 403 and "asked for this change" in forged.text
    assert reviews(rig, pull) == []


def test_when_the_policy_names_approvers_only_they_get_the_button(rig: Rig) -> None:
    pull = rig.open_pull("core-change", approvers=("acme",))
    with signed_in(rig, rig.people.approver) as client:
        page = client.get("/approvals")
        forged = approve(client, pull)
    assert "Approve core-change" not in page.text
    assert "is not one of the policy" in forged.text and forged.status_code == 403
    with signed_in(rig, rig.people.owner) as client:
        assert "Approve core-change" in client.get("/approvals").text
        assert approve(client, pull).status_code == 303
    assert reviews(rig, pull) == [("acme", "APPROVED", pull.head_sha)]


def test_a_post_without_the_csrf_token_fails_and_changes_nothing(rig: Rig) -> None:
    pull = rig.open_pull("no-csrf")
    with signed_in(rig, rig.people.approver) as client:
        response = client.post(f"/approvals/{pull.intent_id}/approve", data={"head_sha": pull.head_sha})
        wrong = client.post(
            f"/approvals/{pull.intent_id}/approve", data={"head_sha": pull.head_sha, "csrf_token": "x" * 43}
        )
    assert response.status_code == 403 and wrong.status_code == 403
    assert reviews(rig, pull) == []


def test_reject_asks_first_then_closes_the_pull_request_with_the_reason(rig: Rig) -> None:
    pull = rig.open_pull("rejected")
    reason = "Duplicates the greeter service <b>@acme</b>"
    with signed_in(rig, rig.people.approver) as client:
        page = client.get("/approvals")
        asked = client.post(
            f"/approvals/{pull.intent_id}/reject", data={"csrf_token": csrf_of(page.text), "reason": reason}
        )
        assert asked.status_code == 200
        assert "Reject rejected?" in asked.text and f"closes pull request #{pull.number}" in asked.text
        assert "Duplicates the greeter service &lt;b&gt;@acme&lt;/b&gt;" in asked.text
        assert rig.github(rig.people.owner).get_repo(REPO).get_pull(pull.number).state == "open"
        confirm = asked.text[asked.text.index('name="confirmed"') - 300 :]
        assert f'value="{reason}"'.replace("<", "&lt;").replace(">", "&gt;") in confirm
        response = client.post(
            f"/approvals/{pull.intent_id}/reject",
            data={"csrf_token": csrf_of(asked.text), "reason": reason, "confirmed": "yes"},
        )
    assert response.status_code == 303
    gh_pull = rig.github(rig.people.owner).get_repo(REPO).get_pull(pull.number)
    assert gh_pull.state == "closed" and not gh_pull.merged
    comments = [c.body for c in gh_pull.as_issue().get_comments()]
    assert any("alice" in c and "Duplicates the greeter service &lt;b&gt;@\u200dacme" in c for c in comments)


def test_reject_needs_a_reason(rig: Rig) -> None:
    pull = rig.open_pull("why-not")
    with signed_in(rig, rig.people.approver) as client:
        page = client.get("/approvals")
        response = client.post(
            f"/approvals/{pull.intent_id}/reject", data={"csrf_token": csrf_of(page.text), "reason": "  "}
        )
    assert response.status_code == 422
    assert "Say why" in response.text
    assert rig.github(rig.people.owner).get_repo(REPO).get_pull(pull.number).state == "open"


def test_an_unknown_intent_is_404(rig: Rig) -> None:
    with signed_in(rig, rig.people.approver) as client:
        page = client.get("/approvals")
        response = client.post("/approvals/999/approve", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 404
    assert re.search(r"no intent 999", response.text)
