"""`GET /intents/{id}` and `GET /intents`: integer inputs are bounded, so no id or limit reaches the
database out of its range (2^63 was a 500), and each refusal is the documented one with a clear message."""

from __future__ import annotations

import pytest

from bot.api.intents import MAX_INTENT_ID
from tests.fixtures.api import ApiRig


@pytest.mark.parametrize(
    ("intent_id", "words"),
    [
        (2**63, "less than or equal to 2147483647"),
        (2**64 + 1, "less than or equal to 2147483647"),
        (MAX_INTENT_ID + 1, "less than or equal to 2147483647"),
        (0, "greater than or equal to 1"),
        (-(2**63) - 1, "greater than or equal to 1"),
    ],
    ids=["2^63", "2^64+1", "max+1", "zero", "below-int64"],
)
def test_an_id_out_of_range_is_a_clear_422(api: ApiRig, intent_id: int, words: str) -> None:
    response = api.client.get(f"/intents/{intent_id}", headers=api.auth("alice"))
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["path", "intent_id"] and words in error["msg"]
    api.documented("GET", "/intents/{intent_id}", 422).validate(response.json())


def test_an_id_in_range_that_no_intent_has_is_a_documented_404(api: ApiRig) -> None:
    response = api.client.get(f"/intents/{MAX_INTENT_ID}", headers=api.auth("alice"))
    assert response.status_code == 404
    assert response.json() == {"detail": f"no intent {MAX_INTENT_ID}"}
    api.documented("GET", "/intents/{intent_id}", 404).validate(response.json())


def test_an_unknown_caller_is_refused_before_the_id_is_looked_at(api: ApiRig) -> None:
    response = api.client.get(f"/intents/{2**63}")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    api.documented("GET", "/intents/{intent_id}", 401).validate(response.json())


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=501", "limit"), (f"limit={2**63}", "limit"), ("state=lost", "state")],
)
def test_list_filters_out_of_range_are_a_clear_422(api: ApiRig, query: str, field: str) -> None:
    response = api.client.get(f"/intents?{query}", headers=api.auth("alice"))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_list_gives_intents_as_documented(api: ApiRig) -> None:
    api.submit("alice", {"service_name": "listed-notes", "purpose": "Listed notes for the team."})
    response = api.client.get("/intents?limit=500&priority=normal", headers=api.auth("alice"))
    assert response.status_code == 200
    assert "listed-notes" in {item["service_name"] for item in response.json()}
    api.documented("GET", "/intents", 200).validate(response.json())
