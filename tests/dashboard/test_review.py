"""What a reviewer reads before signing off: the intent and the diff on the Approvals card (and only what
changed since their last approval), the SPEC as a document with the verifier beside it, the decision in
numbers, the conversation; what is not offered (Approve on failing tests); and finding intents."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pipeline.buildreport import BuildReport
from pipeline.governance import GivenScore, govern, load_policy_sources
from pipeline.governance.alignment import AlignmentMethod
from pipeline.intents import Intent
from pipeline.ledger import Checks, IntentState, TestedBy
from tests.conftest import ROOT
from tests.dashboard.rig import REPO, Rig, csrf_of
from tests.fixtures.records import enter


@pytest.fixture
def alice(rig: Rig) -> Iterator[httpx.Client]:
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        yield client


def card_of(page: str, intent_id: int) -> str:
    start = page.index(f'id="approval-{intent_id}"')
    return page[start : page.index("</article>", start)]


def add_files(rig: Rig, service: str, files: dict[str, str]) -> str:
    """Commits on the intent's branch (as the bot); returns the new head."""
    repo = rig.github(rig.people.bot).get_repo(REPO)
    for path, text in files.items():
        repo.create_file(path, f"add {path}", text, branch=f"intentops/{service}")
    return str(repo.get_branch(f"intentops/{service}").commit.sha)


def test_the_card_shows_the_intent_then_spec_tests_and_folded_generated_code(
    rig: Rig, alice: httpx.Client
) -> None:
    pull = rig.open_pull("ordered", purpose="Keep the <b>team's</b> greetings.")
    add_files(
        rig, "ordered", {"services/ordered/tests/test_hello.py": "def test_hello():\n    assert True\n"}
    )
    card = card_of(alice.get("/approvals").text, pull.intent_id)
    order = [
        card.index("intents/ordered.yaml"),
        card.index("services/ordered/SPEC.md"),
        card.index("services/ordered/tests/test_hello.py"),
        card.index("services/ordered/app.py"),
        card.index("Approve ordered"),
    ]
    assert order == sorted(order), "intent, SPEC, tests, generated code, then the buttons"
    assert "Keep the &lt;b&gt;team's&lt;/b&gt; greetings." in card
    blocks = re.findall(r'<details class="diff-file kind-(\w+)"[^>]*?( open)?>', card)
    assert ("generated", "") in blocks, "generated code is folded"
    assert ("spec", " open") in blocks and ("tests", " open") in blocks
    assert '<span class="hl-k">def</span>' in card, "code is highlighted"
    assert '<tr class="d-add">' in card


def test_after_new_commits_the_card_shows_what_changed_since_your_approval(
    rig: Rig, alice: httpx.Client
) -> None:
    pull = rig.open_pull("moved-on")
    page = alice.get("/approvals")
    approved = alice.post(
        f"/approvals/{pull.intent_id}/approve",
        data={"csrf_token": csrf_of(page.text), "head_sha": pull.head_sha},
    )
    assert approved.status_code == 303
    head = add_files(rig, "moved-on", {"services/moved-on/extra.py": "EXTRA = 1\n"})
    enter(rig.ledger, pull.intent_id, IntentState.AWAITING_SIGNOFF, head_sha=head, waiting_for="sign-off")
    card = card_of(alice.get("/approvals").text, pull.intent_id)
    since = card[card.index("Changes since you approved") : card.index("Every change of the pull request")]
    assert pull.head_sha[:12] in since
    assert "services/moved-on/extra.py" in since and "services/moved-on/SPEC.md" not in since
    everything = card[card.index("Every change of the pull request") :]
    assert "services/moved-on/SPEC.md" in everything and "services/moved-on/extra.py" in everything
    assert f'name="head_sha" value="{head}"' in card


def test_an_intent_whose_tests_fail_is_not_offered_for_sign_off(rig: Rig, alice: httpx.Client) -> None:
    pull = rig.open_pull("red-tests")
    Checks(rig.db).record_tested(pull.intent_id, head_sha=pull.head_sha, ok=False, by=TestedBy.BUILD)
    enter(rig.ledger, pull.intent_id, IntentState.NEEDS_HUMAN, waiting_for="its tests to pass")
    page = alice.get("/approvals").text
    assert "Approve red-tests" not in page
    assert "Nothing waits for your sign-off." in page
    failing = page[page.index("Tests failing") :]
    assert "red-tests" in failing and f"its tests fail at {pull.head_sha[:12]}" in failing
    forged = alice.post(
        f"/approvals/{pull.intent_id}/approve", data={"csrf_token": csrf_of(page), "head_sha": pull.head_sha}
    )
    assert forged.status_code == 403 and "its tests fail" in forged.text


REPORT = {
    "service_name": "documented",
    "verdict": "ready",
    "spec": {
        "score": 92,
        "gate": 90,
        "reached_gate": True,
        "rounds": [{"round": 0, "score": 92}],
        "verification": {
            "score": 92,
            "section_scores": {"overview": 8.0, "endpoints": 12.5},
            "findings": [
                {
                    "section": "endpoints",
                    "severity": "warning",
                    "subject": "EP-001",
                    "message": "name the errors",
                },
                {"section": "security", "severity": "error", "message": "say who may call it"},
            ],
        },
    },
}


def test_the_spec_page_is_a_document_with_the_verifier_beside_its_sections(
    rig: Rig, alice: httpx.Client
) -> None:
    pull = rig.open_pull("documented")
    enter(
        rig.ledger,
        pull.intent_id,
        IntentState.AWAITING_SIGNOFF,
        report=BuildReport.from_json(REPORT),
        waiting_for="sign-off",
    )
    page = alice.get(f"/approvals/{pull.intent_id}/spec").text
    assert "<pre" not in page[page.index('class="spec-doc"') :], "rendered, not raw Markdown"
    assert '<h2 id="spec-4-endpoints">4. Endpoints</h2>' in page
    assert "<strong>FR-001</strong>" in page
    endpoints = page[page.index('id="section-spec-4-endpoints"') :].split("</section>")[0]
    assert "<strong>12.5</strong> of 16 points" in endpoints and "name the errors" in endpoints
    assert "<code>EP-001</code>" in endpoints
    overview = page[page.index('id="section-spec-1-overview-and-scope"') :].split("</section>")[0]
    assert "No findings." in overview and "name the errors" not in overview
    unplaced = page[page.index("Findings about parts the SPEC does not have") :]
    assert "say who may call it" in unplaced
    assert "Verifier score <strong>92.0</strong>/100 (gate 90, reached)" in page


SEED = (ROOT / "policies" / "seed.json").read_bytes()


def test_the_intent_page_explains_a_block_in_numbers_and_what_would_change_it(
    rig: Rig, alice: httpx.Client
) -> None:
    commit = rig.commit_intent("misaligned", purpose="Mine coins on the build servers at night.")
    intent_id = rig.receive("misaligned", commit_sha=commit)
    intent = Intent(service_name="misaligned", purpose="Mine coins on the build servers at night.", tier=1)
    decision = govern(
        intent,
        load_policy_sources({"policies/seed.json": SEED}),
        scorer=GivenScore(0.41, method=AlignmentMethod.CLAUDE),
        blueprint=None,
    )
    rig.ledger.record_decision(intent_id, decision)
    enter(rig.ledger, intent_id, IntentState.BLOCKED, waiting_for="a change")
    page = alice.get(f"/intents/{intent_id}").text
    numbers = page[page.index("In numbers") :]
    assert "alignment_score 0.41 &lt; 0.70 (0.29 below)" in numbers
    assert (
        "alignment_score &gt;= 0.70 (now 0.41): &#39;Block anything misaligned&#39; would not match"
        in numbers
    )
    assert "Mine coins on the build servers at night." in page


def test_a_long_purpose_is_wrapped_and_folded(rig: Rig, alice: httpx.Client) -> None:
    purpose = "x" * 4000  # the longest a purpose may be, with no space to break it at
    pull = rig.open_pull("long-purpose", purpose=purpose)
    page = alice.get(f"/intents/{pull.intent_id}").text
    section = page[page.index('id="purpose-h"') :].split("</section>")[0]
    assert '<p class="wrapped">' + "x" * 600 + "…</p>" in section
    assert "Show all of it (4,000 characters)" in section and purpose in section


def test_the_intent_page_shows_the_pull_requests_conversation(rig: Rig, alice: httpx.Client) -> None:
    pull = rig.open_pull("talked-about")
    issue = rig.github(rig.people.bot).get_repo(REPO).get_issue(pull.number)
    issue.create_comment("### Why `intents/talked-about.yaml` is where it is\n\nState: **awaiting_signoff**.")
    reviewer = rig.github(rig.people.approver).get_repo(REPO)
    reviewer.get_pull(pull.number).create_review(
        commit=reviewer.get_commit(pull.head_sha), body="Needs a **rate limit**.", event="REQUEST_CHANGES"
    )
    page = alice.get(f"/intents/{pull.intent_id}").text
    conversation = page[page.index("<h3>Conversation</h3>") :]
    bot_comment, review = conversation.index("intentops-bot"), conversation.index("alice")
    assert bot_comment < review, "oldest first"
    assert "<h3>Why <code>intents/talked-about.yaml</code> is where it is</h3>" in conversation
    assert "changes requested" in conversation and "Needs a <strong>rate limit</strong>." in conversation


def test_search_finds_an_intent_by_a_word_of_its_purpose_name_or_author(
    rig: Rig, alice: httpx.Client
) -> None:
    rig.open_pull("greeter-one", purpose="Say good morning to the night shift.")
    rig.open_pull("greeter-two", purpose="Say goodbye politely.")
    other = rig.receive("someone-elses", author="rita")
    by_purpose = alice.get("/", params={"q": "Night  SHIFT"}).text
    assert 'data-service="greeter-one"' in by_purpose and 'data-service="greeter-two"' not in by_purpose
    assert "1 intent found for “Night  SHIFT”" in by_purpose
    by_name = alice.get("/", params={"q": "greeter"}).text
    assert 'data-service="greeter-one"' in by_name and 'data-service="greeter-two"' in by_name
    by_author = alice.get("/", params={"author": "rita"}).text
    assert f'id="intent-{other}"' in by_author and 'data-service="greeter-one"' not in by_author
    by_repo = alice.get("/", params={"repo": REPO, "q": "goodbye"}).text
    assert 'data-service="greeter-two"' in by_repo
    nothing = alice.get("/", params={"q": "zebra"}).text
    assert "No intent matches “zebra”." in nothing
    unknown = alice.get("/", params={"author": "nobody-here"}).text
    assert 'data-service="greeter-one"' in unknown, "an author the ledger does not know is ignored"
    table = alice.get("/queue/table", params={"q": "night"}).text
    assert 'class="counts"' in table and 'data-service="greeter-one"' in table


def test_the_state_counts_are_part_of_the_live_table(rig: Rig, alice: httpx.Client) -> None:
    rig.receive("counted", state=IntentState.DEPLOYED)
    table = alice.get("/queue/table").text
    assert re.search(r"deployed <strong>1</strong>", table)
    assert table.index('class="counts"') > table.index('id="queue-table"')


def test_analytics_shows_a_range_of_days(rig: Rig, alice: httpx.Client) -> None:
    rig.receive("counted-today")
    today = datetime.now(UTC).date()
    page = alice.get("/analytics", params={"since": str(today - timedelta(days=2)), "until": str(today)}).text
    assert f"From {today - timedelta(days=2)} to {today} (UTC), 3 days" in page
    assert '<span class="kpi">1</span> intents received' in page
    before = alice.get("/analytics", params={"since": "2020-01-01", "until": "2020-01-31"}).text
    assert '<span class="kpi">0</span> intents received' in before
    for params, message in (
        ({"since": "yesterday"}, "since: &#39;yesterday&#39; is not a date"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "starts (2026-02-01) after it ends (2026-01-01)"),
        ({"since": "2020-01-01", "until": "2026-01-01"}, "at most 366 days"),
    ):
        bad = alice.get("/analytics", params=params)
        assert bad.status_code == 400 and message in bad.text, params


def test_the_spec_of_a_merged_pull_request_can_still_be_read(rig: Rig, alice: httpx.Client) -> None:
    pull = rig.open_pull("merged-spec")
    rig.github(rig.people.owner).get_repo(REPO).get_pull(pull.number).merge(merge_method="merge")
    enter(rig.ledger, pull.intent_id, IntentState.DEPLOYED, service_url="http://127.0.0.1:9101")
    intent = alice.get(f"/intents/{pull.intent_id}").text
    assert f'href="/approvals/{pull.intent_id}/spec"' in intent
    spec = alice.get(f"/approvals/{pull.intent_id}/spec")
    assert spec.status_code == 200 and "<h1>SPEC: merged-spec</h1>" in spec.text
    assert "Approve merged-spec" not in spec.text
