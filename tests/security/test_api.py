"""Attacks on the bot's HTTP API (the whole bot as served, on a real forge, called in process).

- A writer submits, through `POST /intents/submit`, an intent for a service someone else already runs,
  to overwrite it without having seen it: the file where it lives, or a second file for the same name.
- An intent id past 2^63 (SQLite's integers), to make `GET /intents/{id}` fail with a server error.
"""

from __future__ import annotations

import pytest

from pipeline.intents.serialize import content_hash
from tests.fixtures.api import ApiRig, api

__all__ = ["api"]

ALICES = (
    "service_name: payroll-export\npurpose: Export the payroll figures for finance, every month.\ntier: 2\n"
)
TAKEOVER = {
    "service_name": "payroll-export",
    "purpose": "Export the payroll figures to an address of my choosing.",
    "priority": "critical",
}


def test_submitting_over_another_writers_service_is_refused_without_its_hash(api: ApiRig) -> None:
    api.push("alice", "intents/payroll-export.yaml", ALICES)

    response = api.submit("bob", TAKEOVER)

    assert response.status_code == 409
    assert response.json()["detail"]["content_hash"] == content_hash(ALICES.encode())
    assert api.read("intents/payroll-export.yaml") == ALICES.encode(), "alice's intent is untouched"


def test_submitting_cannot_add_a_second_file_for_a_service_that_lives_elsewhere(api: ApiRig) -> None:
    api.push("alice", "intents/finance/ledger-sync.yaml", ALICES.replace("payroll-export", "ledger-sync"))

    response = api.submit("bob", {**TAKEOVER, "service_name": "ledger-sync"})

    assert response.status_code == 409
    assert response.json()["detail"]["path"] == "intents/finance/ledger-sync.yaml"
    assert api.read("intents/ledger-sync.yaml") is None, "no second intent file took the name"


@pytest.mark.parametrize("intent_id", [2**63, 2**63 - 1 + 2**31, 2**64, 10**30, -(2**63) - 1])
def test_an_id_past_the_database_integers_is_refused_not_a_server_error(api: ApiRig, intent_id: int) -> None:
    response = api.client.get(f"/intents/{intent_id}", headers=api.auth("alice"))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["path", "intent_id"]
