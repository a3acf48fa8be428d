"""`POST /intents/submit`: an existing service changes only with its current content hash (If-Match), a
retried request stays idempotent, and every refusal has the body the OpenAPI documents for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.intents.serialize import content_hash
from pipeline.ledger import IntentState
from tests.fixtures.api import ApiRig
from tests.fixtures.records import enter

SUBMIT = "/intents/submit"


def intent(name: str, purpose: str = "Keep the team's notes in one place.") -> dict[str, Any]:
    return {"service_name": name, "purpose": purpose, "priority": "low", "tier": 3}


def pushed(name: str, purpose: str = "Alice's own notes service, pushed by hand.") -> str:
    return f"service_name: {name}\npurpose: {purpose}\ntier: 3\n"


def test_a_new_service_is_created_without_a_precondition_and_answers_its_hash(api: ApiRig) -> None:
    response = api.submit("alice", intent("fresh-notes"))
    assert response.status_code == 202, response.text
    body = response.json()
    committed = api.read("intents/fresh-notes.yaml")
    assert committed is not None and body["content_hash"] == content_hash(committed)
    assert response.headers["etag"] == f'"{body["content_hash"]}"'
    shown = api.client.get(f"/intents/{body['id']}", headers=api.auth("alice"))
    assert shown.headers["etag"] == response.headers["etag"]
    assert shown.json()["content_hash"] == body["content_hash"]


def test_changing_an_existing_service_needs_its_current_content_hash(api: ApiRig) -> None:
    first = api.submit("alice", intent("team-wiki")).json()
    change = intent("team-wiki", "Keep the team's wiki pages, with history.")

    refused = api.submit("bob", change)

    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert detail["path"] == "intents/team-wiki.yaml" and detail["content_hash"] == first["content_hash"]
    assert detail["if_match"] == f'"{first["content_hash"]}"'
    assert f'If-Match: "{first["content_hash"]}"' in detail["message"]
    assert b"with history" not in (api.read("intents/team-wiki.yaml") or b"")

    accepted = api.submit("bob", change, if_match=f'"{first["content_hash"]}"')

    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["id"] == first["id"] and accepted.json()["commit_sha"]
    assert b"with history" in (api.read("intents/team-wiki.yaml") or b"")
    stale = api.submit("alice", intent("team-wiki", "Back to notes."), if_match=f'"{first["content_hash"]}"')
    assert (
        stale.status_code == 409 and "changed since the version you sent" in stale.json()["detail"]["message"]
    )
    assert stale.json()["detail"]["content_hash"] == accepted.json()["content_hash"]


def test_a_retried_identical_request_is_accepted_unchanged_without_a_precondition(api: ApiRig) -> None:
    first = api.submit("alice", intent("retried-notes"))
    again = api.submit("alice", intent("retried-notes"))
    assert again.status_code == 202, again.text
    assert again.json()["unchanged"] is True and again.json()["commit_sha"] is None
    assert again.json()["id"] == first.json()["id"]
    # The retry of a change that did go through carries the hash it was sent with, now stale: still fine.
    change = intent("retried-notes", "Notes, now with tags.")
    changed = api.submit("alice", change, if_match=first.headers["etag"])
    retried = api.submit("alice", change, if_match=first.headers["etag"])
    assert changed.status_code == 202 and retried.status_code == 202
    assert retried.json()["unchanged"] is True and retried.headers["etag"] == changed.headers["etag"]


def test_a_service_living_in_another_file_is_changed_there(api: ApiRig) -> None:
    api.push("alice", "intents/team/handbook.yaml", pushed("handbook"))
    current = content_hash(pushed("handbook").encode())

    refused = api.submit("bob", intent("handbook"))

    assert refused.status_code == 409
    assert refused.json()["detail"]["path"] == "intents/team/handbook.yaml"
    assert refused.json()["detail"]["content_hash"] == current
    accepted = api.submit("bob", intent("handbook"), if_match=f'"{current}"')
    assert accepted.status_code == 202 and accepted.json()["path"] == "intents/team/handbook.yaml"
    assert api.read("intents/handbook.yaml") is None, "no second file for the same service"


def test_the_owner_is_the_oldest_file_the_line_took_as_valid(api: ApiRig) -> None:
    earlier = api.push("alice", "intents/a-gizmo.yaml", pushed("gizmo"))
    enter(api.bot.line.ledger, earlier.id, IntentState.INVALID, waiting_for="a fix")
    api.push("bob", "intents/gizmo.yaml", pushed("gizmo", "Bob's gizmo, built and running."))

    refused = api.submit("alice", intent("gizmo"))

    assert refused.status_code == 409
    assert refused.json()["detail"]["path"] == "intents/gizmo.yaml"


def test_the_usual_path_holding_another_services_file_needs_its_hash_too(api: ApiRig) -> None:
    api.push("alice", "intents/kb.yaml", pushed("knowledge-base"))
    refused = api.submit("bob", intent("kb"))
    assert refused.status_code == 409
    assert refused.json()["detail"]["content_hash"] == content_hash(pushed("knowledge-base").encode())
    assert b"knowledge-base" in (api.read("intents/kb.yaml") or b"")


@pytest.mark.parametrize(
    ("if_match", "words"),
    [("*", "If-Match: * is not enough"), ("W/", "changed since"), ('"0000"', "changed since")],
    ids=["wildcard", "weak", "wrong"],
)
def test_a_wildcard_or_weak_or_wrong_tag_is_not_the_current_hash(
    api: ApiRig, if_match: str, words: str
) -> None:
    name = f"tagged-{len(if_match)}"
    current = api.submit("alice", intent(name)).headers["etag"]
    if_match = if_match + current if if_match == "W/" else if_match
    refused = api.submit("bob", intent(name, "Someone else's idea of it."), if_match=if_match)
    assert refused.status_code == 409 and words in refused.json()["detail"]["message"]


def test_a_precondition_on_a_service_that_does_not_exist_is_refused(api: ApiRig) -> None:
    refused = api.submit("alice", intent("never-was"), if_match='"' + "a" * 64 + '"')
    assert refused.status_code == 409
    assert "send the request without If-Match" in refused.json()["detail"]["message"]
    assert api.read("intents/never-was.yaml") is None


def chunks(data: bytes) -> Iterator[bytes]:
    yield data


@pytest.mark.parametrize(
    ("status", "login", "send"),
    [
        (401, None, {"json": intent("refused-a")}),
        (403, "carol", {"json": intent("refused-b")}),
        (411, "alice", {"content": chunks(b'{"service_name": "refused-c"}')}),
        (413, "alice", {"json": intent("refused-d", "x" * 70_000)}),
        (422, "alice", {"json": {**intent("refused-e"), "owner": "me"}}),
        (422, "alice", {"content": b'{"service_name": ', "headers": {"content-type": "application/json"}}),
        (422, "alice", {"json": ["not", "a", "mapping"]}),
    ],
    ids=["no-token", "reader", "no-length", "too-large", "unknown-field", "not-json", "a-list"],
)
def test_every_refusal_has_the_body_the_openapi_documents(
    api: ApiRig, status: int, login: str | None, send: dict[str, Any]
) -> None:
    headers = {**(api.auth(login) if login else {}), **send.pop("headers", {})}
    response = api.client.post(SUBMIT, headers=headers, **send)
    assert response.status_code == status, response.text
    api.documented("POST", SUBMIT, status).validate(response.json())


def test_the_conflict_body_is_the_documented_one(api: ApiRig) -> None:
    api.submit("alice", intent("documented-conflict"))
    response = api.submit("bob", intent("documented-conflict", "Another purpose."))
    assert response.status_code == 409
    api.documented("POST", SUBMIT, 409).validate(response.json())


def test_an_invalid_intent_names_every_problem_with_its_field(api: ApiRig) -> None:
    response = api.submit("alice", {"service_name": "../x", "purpose": "ok purpose", "tier": 9})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {p["field"] for p in detail["problems"]} == {"service_name", "tier"}
    assert detail["message"].startswith("the intent is invalid: request body")
