"""The Stages page: what serves each stage of the line, its lineage, suspensions and live errors."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from markupsafe import escape

from pipeline.adoption.health import StageHealth
from pipeline.adoption.history import StageHistory
from pipeline.adoption.stagefile import StageFile, StageRoute
from pipeline.factory.builtin import builtin_stages
from pipeline.factory.contracts import Stage
from pipeline.shadow import Referees, ShadowStore, evaluate
from tests.dashboard.rig import Rig
from tests.shadow.candidates import ConstantVerifier
from tests.shadow.conftest import HISTORY


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
    assert re.search(r'<a href="[^"]*/stages" aria-current="page">Stages</a>', page), "the nav links the page"


def test_a_shadow_report_opens_from_the_stages_page_with_every_metric_and_its_rows(
    rig: Rig, client: httpx.Client
) -> None:
    """A verifier that gives every SPEC 100 (gaming its own metric) is judged worse; its report shows why."""
    stages = builtin_stages()
    report = evaluate(
        Stage.SPEC_VERIFIER,
        incumbent=stages.verifier,
        candidate=ConstantVerifier(100),
        cases=HISTORY[:3],
        referees=Referees.of(stages),
        candidate_name="verifier-100",
    )
    stored = ShadowStore(rig.db).save(report, repo="acme/intents", candidate_version="d" * 40)
    v100 = StageRoute(Stage.SPEC_VERIFIER, "verifier-100", version="d" * 40, shadow=stored.id)
    StageHistory(rig.db).record_change(
        "acme/intents", StageFile(), StageFile().with_route(v100), commit_sha="e" * 40
    )

    stages_page = client.get("/stages").text
    link = f'/stages/shadow/{stored.id}">#{stored.id}</a>'
    assert link in stages_page.split('id="stage-spec-verifier"')[1].split("</tr>")[0], (
        "the served row links it"
    )
    assert "verifier-100" in stages_page.split("Shadow evaluations in")[1], "the recent reports list it"

    page = client.get(f"/stages/shadow/{stored.id}")
    assert page.status_code == 200
    text = page.text
    assert f"Shadow evaluation #{stored.id}" in text and "worse" in text and escape(report.rule) in text
    for result in report.metrics:
        assert f'id="metric-{result.metric.name}"' in text
    known_bad = report.metric("known_bad_low")
    assert known_bad.rows and 'id="rows-known_bad_low"' in text
    assert escape(known_bad.rows[0].case) in text, "each metric's per-item rows are on the page"
    for case in report.cases:
        assert escape(case.id) in text

    assert client.get("/stages/shadow/999").status_code == 404
    assert "no shadow evaluation #0" in client.get("/stages/shadow/0").text.lower()
