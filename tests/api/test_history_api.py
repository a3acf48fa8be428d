"""The read API over the line's history: token-protected, paginated by a cursor, as documented; and
spec-analyzer's reading of it (the findings that cost the most rounds, the hints that would avoid them)."""

from __future__ import annotations

import pytest

from pipeline.intents import load_intent
from tests.fixtures.api import REPO, ApiRig
from tests.fixtures.line_history import seed_high_rounds


@pytest.fixture(scope="module")
def seeded(api: ApiRig) -> ApiRig:
    seed_high_rounds(api.bot.line.ledger, REPO, count=5)
    return api


def test_the_history_comes_in_pages_that_follow_one_another(seeded: ApiRig) -> None:
    api, seen, url = seeded, [], f"/history/intents?repo={REPO}&limit=2"
    while url:
        response = api.client.get(url, headers=api.auth("carol"))
        assert response.status_code == 200, response.text
        api.documented("GET", "/history/intents", 200).validate(response.json())
        body = response.json()
        seen.extend(
            item["service_name"] for item in body["items"] if item["service_name"].startswith("tool-")
        )
        assert len(body["items"]) <= 2
        url = response.headers.get("link", "").partition(">")[0].lstrip("<")
        assert (body["next_cursor"] is None) == (url == "")
    assert seen == [f"tool-{n}" for n in range(5)]
    first = api.client.get(f"/history/intents?repo={REPO}&limit=1", headers=api.auth("carol")).json()
    spec = first["items"][0]["spec"]
    assert spec["optimizer_rounds"] == 2 and [r["round"] for r in spec["rounds"]] == [0, 1, 2]
    assert spec["findings"][0]["code"] == "vague-word" and first["items"][0]["outcome"] == "undecided"
    assert [s["stage"] for s in first["items"][0]["stages"]] == ["received", "spec"]


def test_spec_analysis_names_the_costliest_findings_and_suggests_a_spec_builder(seeded: ApiRig) -> None:
    response = seeded.client.get(f"/history/spec-analysis?repo={REPO}", headers=seeded.auth("alice"))
    assert response.status_code == 200, response.text
    seeded.documented("GET", "/history/spec-analysis", 200).validate(response.json())
    analysis = response.json()
    assert analysis["specs"] == 5 and analysis["weeks"][0]["mean_rounds"] == 2.4
    assert analysis["findings"][0] == {"code": "vague-word", "rounds": 12, "repairs": 12, "left": 5}
    assert analysis["answers"] == ["vague-word"]
    intent = load_intent(analysis["suggested_intent"], source="intents/spec-builder-v2.yaml")
    assert intent.implements == "spec-builder@1"
    assert set(intent.stage_hints.wording) == {"fast", "easily", "quick"}  # type: ignore[union-attr]


@pytest.mark.parametrize("path", ["/history/intents", "/history/spec-analysis"])
def test_the_history_needs_a_token(api: ApiRig, path: str) -> None:
    assert api.client.get(path).status_code == 401
    refused = api.client.get(path, headers={"Authorization": "Bearer not-a-token-anyone-has"})
    assert refused.status_code == 401
    api.documented("GET", path, 401).validate(refused.json())


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "after=-1", "repo=a/b/c"])
def test_a_page_out_of_range_is_a_clear_422(api: ApiRig, query: str) -> None:
    response = api.client.get(f"/history/intents?{query}", headers=api.auth("alice"))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "query"
