"""Other ways in: the HTTP API commits the intent (git stays the truth), and the issue form opens a PR."""

from __future__ import annotations

import time

import httpx
import pytest

from pipeline.ledger import IntentState
from tests.fixtures.line import BOT, REPO, Rig

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]

SUBMISSION = {
    "service_name": "status-page",
    "purpose": "Show the status of the team's shared internal tools on one page.",
    "priority": "low",
    "tier": 1,
    "resources": [{"name": "check", "fields": {"tool": "string", "up": "boolean"}, "required": ["tool"]}],
}


def test_submit_commits_the_intent_and_reports_its_progress(rig: Rig) -> None:
    token = rig.accounts["alice"].token
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.post(f"{rig.url}/intents/submit", json=SUBMISSION, headers=headers, timeout=30)
    assert response.status_code == 202, response.text
    submitted = response.json()
    assert submitted["path"] == "intents/status-page.yaml" and submitted["commit_sha"]

    repo = rig.github(BOT).get_repo(REPO)
    commit = repo.get_commit(submitted["commit_sha"])
    assert commit.commit.author.name == "alice", "the intent is committed as the person who submitted it"
    assert b"service_name: status-page" in repo.get_contents("intents/status-page.yaml").decoded_content

    again = httpx.post(f"{rig.url}/intents/submit", json=SUBMISSION, headers=headers, timeout=30)
    assert again.status_code == 202 and again.json()["unchanged"] is True
    assert again.json()["id"] == submitted["id"], "a retried request neither commits nor records twice"

    rig.wait_for("intents/status-page.yaml", IntentState.AWAITING_SIGNOFF)
    status = httpx.get(submitted["status_url"], headers=headers, timeout=10).json()
    assert status["state"] == "awaiting_signoff"
    stages = [event["stage"] for event in status["history"]]
    assert stages[0] == "received" and {"governed", "spec", "code", "tests", "pr"} <= set(stages)
    assert status["decisions"][-1]["action"] == "requires_approval"


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, 401), ({"Authorization": "Bearer not-a-token"}, 401)],
    ids=["no-token", "bad-token"],
)
def test_submit_refuses_unknown_callers(rig: Rig, headers: dict[str, str], code: int) -> None:
    response = httpx.post(f"{rig.url}/intents/submit", json=SUBMISSION, headers=headers, timeout=30)
    assert response.status_code == code
    assert httpx.get(f"{rig.url}/intents/1", headers=headers, timeout=10).status_code == code


def test_submit_refuses_readers_and_bad_intents_without_committing(rig: Rig) -> None:
    reader = {"Authorization": f"Bearer {rig.accounts['carol'].token}"}
    refused = httpx.post(f"{rig.url}/intents/submit", json=SUBMISSION, headers=reader, timeout=30)
    assert refused.status_code == 403 and "carol cannot write" in refused.text
    writer = {"Authorization": f"Bearer {rig.accounts['alice'].token}"}
    bad = httpx.post(
        f"{rig.url}/intents/submit", json={**SUBMISSION, "service_name": "../x"}, headers=writer, timeout=30
    )
    assert bad.status_code == 422
    assert bad.json()["detail"]["problems"][0]["field"] == "service_name"
    repo = rig.github(BOT).get_repo(REPO)
    assert "intents" not in {c.path for c in repo.get_contents("")}


FORM_BODY = """### Service name

greeter

### Purpose

Greet visitors of the team's internal tools.

### Priority

low

### Tier

3

### Blueprint context

_No response_

### Auto build

- [X] Build as soon as governance allows

### Structured hints

_No response_
"""


def test_an_issue_from_the_form_becomes_a_pull_request(rig: Rig) -> None:
    # As `intentops up` protects main: nothing merges without intentops/governance.
    rig.kit.admin.protect_branch(
        REPO, "main", required_approvals=0, required_contexts=["intentops/governance"]
    )
    repo = rig.github("alice").get_repo(REPO)
    issue = repo.create_issue(title="intent: greeter", body=FORM_BODY, labels=["intent"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = [c.body for c in issue.get_comments() if c.user.login == BOT]
        if replies:
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the bot did not answer the issue")
    pulls = list(rig.github(BOT).get_repo(REPO).get_pulls(state="open", head="acme:intentops/issue-1"))
    assert len(pulls) == 1 and f"#{pulls[0].number}" in replies[0]
    files = {f.filename: f for f in pulls[0].get_files()}
    assert list(files) == ["intents/greeter.yaml"]
    # The PR only adds a valid intent: it can be merged, and then the intent is governed and built.
    merged = rig.github("bob").get_repo(REPO).get_pull(pulls[0].number).merge(merge_method="merge")
    assert merged.merged
    governed = rig.wait_for("intents/greeter.yaml", IntentState.NEEDS_HUMAN, IntentState.AWAITING_SIGNOFF)
    assert governed.decision is not None  # on main now: governed, then built like any pushed intent
