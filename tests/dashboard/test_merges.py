"""Merge from the dashboard: only signed-off intents, only people who can write, on the head they saw."""

from __future__ import annotations

import httpx

from pipeline.ledger import IntentState
from tests.dashboard.rig import REPO, OpenedPull, Rig, csrf_of
from tests.fixtures.records import enter


def signed_off(rig: Rig, service: str) -> OpenedPull:
    pull = rig.open_pull(service)
    enter(rig.ledger, pull.intent_id, IntentState.APPROVED, waiting_for="a merge of its pull request")
    return pull


def merge(rig: Rig, client: httpx.Client, pull: OpenedPull, head: str | None = None) -> httpx.Response:
    page = client.get("/approvals")
    return client.post(
        f"/approvals/{pull.intent_id}/merge",
        data={"csrf_token": csrf_of(page.text), "head_sha": head or pull.head_sha},
    )


def merged(rig: Rig, pull: OpenedPull) -> bool:
    return bool(rig.github(rig.people.owner).get_repo(REPO).get_pull(pull.number).merged)


def test_a_writer_merges_a_signed_off_intent_with_one_click(rig: Rig) -> None:
    pull = signed_off(rig, "ready-one")
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        page = client.get("/approvals").text
        assert "Merge ready-one" in page
        response = merge(rig, client, pull)
        after = client.get("/approvals").text
    assert response.status_code == 303
    assert merged(rig, pull)
    assert "You merged ready-one" in after


def test_a_reader_gets_no_merge_button_and_a_forged_post_is_refused(rig: Rig) -> None:
    pull = signed_off(rig, "not-rita")
    with rig.client() as client:
        rig.sign_in(client, rig.people.reader)
        page = client.get("/approvals").text
        response = merge(rig, client, pull)
    assert "Merge not-rita" not in page and "rita does not have write permission" in page
    assert response.status_code == 403
    assert not merged(rig, pull)


def test_an_intent_still_waiting_for_sign_off_cannot_be_merged(rig: Rig) -> None:
    pull = rig.open_pull("too-early")
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        response = merge(rig, client, pull)
    assert response.status_code == 403 and "not signed off yet" in response.text
    assert not merged(rig, pull)


def test_a_moved_head_is_not_merged(rig: Rig) -> None:
    pull = signed_off(rig, "moved-head")
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        response = merge(rig, client, pull, head="f" * 40)
        without_csrf = client.post(f"/approvals/{pull.intent_id}/merge", data={"head_sha": pull.head_sha})
    assert response.status_code == 409 and without_csrf.status_code == 403
    assert not merged(rig, pull)
