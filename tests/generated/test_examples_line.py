"""Every example intent through the real line in one push: each that says what it does reaches a PR
offline, is signed off (hello-world is the rig's auto-approved smoke test), merged and deployed, and the
deployed service answers with the data its hints promise, one check per kind of endpoint; a free-text
example stays below the gate and is not deployed."""

from __future__ import annotations

import httpx
import pytest

from pipeline.ledger import IntentRecord, IntentState
from tests.conftest import EXAMPLES
from tests.fixtures.generated import STRUCTURED
from tests.fixtures.line import REPO, Rig

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]

FREE_TEXT = "spec-analyzer"
FREE_TEXT_INTENT = f"service_name: {FREE_TEXT}\npurpose: Analyze SPEC quality trends and suggest fixes\n"
"""spec-analyzer as free text (the example itself declares the data it reads and what it reports)."""
SIGNED_OFF = tuple(name for name in STRUCTURED if name != "hello-world")
DONE = (IntentState.DEPLOYED, IntentState.DEPLOY_FAILED, IntentState.NEEDS_HUMAN, IntentState.FAILED)


def path_of(name: str) -> str:
    return f"intents/{name}.yaml"


def sign_off(rig: Rig, name: str) -> None:
    record = rig.wait_for(path_of(name), IntentState.AWAITING_SIGNOFF, timeout=300)
    repo = rig.github("bob").get_repo(REPO)
    assert record.pr_number is not None and record.head_sha is not None
    repo.get_pull(record.pr_number).create_review(commit=repo.get_commit(record.head_sha), event="APPROVE")


def deployed(rig: Rig, name: str) -> str:
    record: IntentRecord = rig.wait_for(path_of(name), *DONE, timeout=300)
    assert record.state is IntentState.DEPLOYED, (name, rig.ledger.history(record.id))
    assert record.service_url
    return record.service_url


def test_every_example_reaches_a_running_service_that_does_what_its_hints_say(line_rig: Rig) -> None:
    rig = line_rig
    files = {path_of(n): (EXAMPLES / "intents" / f"{n}.yaml").read_text() for n in STRUCTURED}
    rig.push({**files, path_of(FREE_TEXT): FREE_TEXT_INTENT}, "Add the examples")
    for name in SIGNED_OFF:
        sign_off(rig, name)

    check_static_answers_and_seed(deployed(rig, "hello-world"))
    check_queries_and_actions(deployed(rig, "todo"))
    check_redirects_and_counts(deployed(rig, "links"))
    check_relations(deployed(rig, "notebooks"))
    check_aggregates(deployed(rig, "bookmarks"))

    below = rig.wait_for(path_of(FREE_TEXT), IntentState.NEEDS_HUMAN, timeout=300)
    assert below.pr_number is None and not below.service_url
    assert rig.bot.line.registry.get(FREE_TEXT) is None


def check_static_answers_and_seed(url: str) -> None:
    assert httpx.get(f"{url}/hello").json() == {"language": "en", "message": "Hello, world!"}
    assert httpx.get(f"{url}/languages").json() == ["en", "fr", "es", "de", "ja"]
    french = httpx.get(f"{url}/hello/fr").json()
    assert (french["language"], french["message"]) == ("fr", "Bonjour, le monde !")
    assert httpx.get(f"{url}/hello/ja").json()["message"] == "こんにちは、世界！"
    assert httpx.get(f"{url}/hello/xx").status_code == 404


def post(url: str, body: dict[str, object]) -> dict[str, object]:
    response = httpx.post(url, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def check_queries_and_actions(url: str) -> None:
    late = post(f"{url}/tasks", {"title": "late", "owner": "ann", "due": "2001-01-01T00:00:00Z"})
    later = post(f"{url}/tasks", {"title": "later", "owner": "ann", "due": "2999-01-01T00:00:00Z"})
    post(f"{url}/tasks", {"title": "done late", "owner": "ann", "due": "2000-06-01T00:00:00Z", "done": True})
    post(f"{url}/tasks", {"title": "bob's", "owner": "bob", "due": "2002-01-01T00:00:00Z"})
    overdue = httpx.get(f"{url}/tasks/overdue").json()
    assert [t["title"] for t in overdue] == ["late", "bob's"]  # oldest due first, done ones left out
    assert [t["id"] for t in httpx.get(f"{url}/tasks/by-owner/ann").json()] == [late["id"], later["id"]]
    done = httpx.post(f"{url}/tasks/{late['id']}/done")
    assert done.status_code == 200 and done.json()["done"] is True and done.json()["done_at"]
    assert [t["title"] for t in httpx.get(f"{url}/tasks/overdue").json()] == ["bob's"]
    assert httpx.get(f"{url}/tasks/{late['id']}").json()["done"] is True  # /tasks/{id} still reads by id


def check_redirects_and_counts(url: str) -> None:
    post(f"{url}/links", {"code": "docs", "target": "https://example.org/docs"})
    post(f"{url}/links", {"code": "quiet", "target": "https://example.org/quiet"})
    assert httpx.post(f"{url}/links", json={"code": "x", "target": "javascript:alert(1)"}).status_code == 422
    for _ in range(2):
        followed = httpx.get(f"{url}/r/docs", follow_redirects=False)
        assert followed.status_code == 302 and followed.headers["location"] == "https://example.org/docs"
    popular = httpx.get(f"{url}/links/popular").json()
    assert [(link["code"], link["visits"]) for link in popular] == [("docs", 2)]
    assert httpx.get(f"{url}/r/nothing", follow_redirects=False).status_code == 404


def check_relations(url: str) -> None:
    ideas = post(f"{url}/notebooks", {"title": "ideas"})
    other = post(f"{url}/notebooks", {"title": "other"})
    pinned = post(f"{url}/notes", {"title": "pinned", "notebook_id": ideas["id"], "pinned": True})
    loose = post(f"{url}/notes", {"title": "loose", "notebook_id": ideas["id"]})
    post(f"{url}/notes", {"title": "elsewhere", "notebook_id": other["id"], "pinned": True})
    notes = httpx.get(f"{url}/notebooks/{ideas['id']}/notes").json()
    assert [n["id"] for n in notes] == [pinned["id"], loose["id"]]
    assert [n["id"] for n in httpx.get(f"{url}/notebooks/{ideas['id']}/pinned").json()] == [pinned["id"]]
    assert httpx.post(f"{url}/notes", json={"title": "orphan", "notebook_id": 999999}).status_code == 422
    assert httpx.delete(f"{url}/notebooks/{ideas['id']}").status_code == 204  # cascade
    assert httpx.get(f"{url}/notes/{pinned['id']}").status_code == 404
    assert [n["title"] for n in httpx.get(f"{url}/notes").json()] == ["elsewhere"]


def check_aggregates(url: str) -> None:
    post(f"{url}/bookmarks", {"url": "https://a.example", "title": "a", "tags": "python", "stars": 3})
    post(f"{url}/bookmarks", {"url": "https://b.example", "title": "b", "tags": "python", "stars": 4})
    post(
        f"{url}/bookmarks",
        {"url": "https://c.example", "title": "c", "tags": "go", "stars": 5, "archived": True},
    )
    assert httpx.get(f"{url}/bookmarks/count").json() == {"count": 2}
    stars = httpx.get(f"{url}/bookmarks/stars-by-tag").json()
    assert stars == [{"tags": "go", "sum": 5}, {"tags": "python", "sum": 7}]
