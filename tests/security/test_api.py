"""Attacks on the bot's HTTP API (the whole bot as served, on a real forge, called in process).

- A writer submits, through `POST /intents/submit`, an intent for a service someone else already runs,
  to overwrite it without having seen it: the file where it lives, or a second file for the same name.
- A push racing the API's write of the same file, to be silently overwritten.
- An intent id past 2^63 (SQLite's integers), to make `GET /intents/{id}` fail with a server error.
"""

from __future__ import annotations

import pytest

from bot.vcs.errors import Conflict
from bot.vcs.github import GithubRepoClient, token_connection
from pipeline.intents.serialize import content_hash
from tests.fixtures.api import REPO, ApiRig, api

__all__ = ["api"]

ALICES = (
    "service_name: payroll-export\npurpose: Export the payroll figures for finance, every month.\ntier: 2\n"
)
ARCHIVE = ALICES.replace("payroll-export", "payroll-archive")
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


def test_a_write_racing_another_push_to_the_same_file_is_refused(api: ApiRig) -> None:
    """The check of the current content and the write are two requests: a push landing between them must
    not be overwritten (the write names the blob it replaces, and the forge refuses a stale one)."""
    api.push("alice", "intents/payroll-archive.yaml", ARCHIVE)
    raced = ARCHIVE.replace("every month", "every week")
    acme = api.kit.github(api.accounts["acme"]).get_repo(REPO)
    current = acme.get_contents("intents/payroll-archive.yaml")
    acme.update_file(current.path, "weekly", raced, current.sha)  # lands after bob's client read ARCHIVE
    bobs = GithubRepoClient(token_connection(api.accounts["bob"].token, api.kit.api_url), REPO)

    with pytest.raises(Conflict) as refused:
        bobs.commit_file(
            "intents/payroll-archive.yaml",
            b"service_name: payroll-archive\n",
            "overwrite",
            "main",
            replacing=ARCHIVE.encode(),
        )

    assert refused.value.status == 409
    assert api.read("intents/payroll-archive.yaml") == raced.encode()
