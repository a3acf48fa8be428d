"""The Stages page: what serves each stage of the line, its lineage, suspensions and live errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pipeline.adoption.health import StageHealth
from pipeline.adoption.history import StageHistory
from pipeline.adoption.stagefile import StageFile, StageRoute
from pipeline.factory.contracts import Stage
from tests.dashboard.rig import Rig


@pytest.fixture
def client(rig: Rig) -> Iterator[httpx.Client]:
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        yield client


def test_with_nothing_adopted_every_stage_is_built_in(client: httpx.Client) -> None:
    page = client.get("/stages").text
    assert "Every stage is built in" in page


def test_the_page_shows_the_lineage_the_serving_service_and_a_suspension(
    rig: Rig, client: httpx.Client
) -> None:
    history = StageHistory(rig.db)
    v2 = StageFile().with_route(
        StageRoute(Stage.SPEC_BUILDER, "spec-builder-v2", version="abc123def456", shadow=3)
    )
    history.record_change("acme/intents", StageFile(), v2, commit_sha="c" * 40)
    unsigned = client.get("/stages").text
    row = unsigned[unsigned.index('id="stage-spec-builder"') :].split("</tr>")[0]
    assert "not signed off" in row and "the built-in serves" in row, (
        "a merge with one approval takes no effect"
    )
    history.approve("acme/intents", commit_sha="c" * 40, pr_number=7, approvers=("bob", "carol"))
    health = StageHealth(rig.db, limit=1)
    health.record(
        repo="acme/intents", stage="spec-builder", service="spec-builder-v2", ok=False, failure="timeout"
    )

    page = client.get("/stages").text

    row = page[page.index('id="stage-spec-builder"') :].split("</tr>")[0]
    assert "spec-builder-v2" in row and "abc123def456" in row and "#3" in row
    assert "suspended" in row and "1 failed calls" in row and "1 of 1 calls" in row
    assert "not signed off" not in row
    assert "built in → <code>spec-builder-v2</code>" in row
    verifier = page[page.index('id="stage-spec-verifier"') :].split("</tr>")[0]
    assert "built in" in verifier
    assert 'href="/dashboard/stages"' in page or "/stages" in page
