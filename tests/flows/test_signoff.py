"""An intent that needs a person: only a valid approval on the current head signs it off."""

from __future__ import annotations

import time

import pytest

from pipeline.ledger import IntentState, Outcome, Stage
from tests.fixtures.line import BOT, REPO, Rig
from tests.fixtures.line import NOTES_INTENT as NOTES

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]

PATH = "intents/notes.yaml"


def approve(rig: Rig, login: str, number: int, sha: str) -> None:
    repo = rig.github(login).get_repo(REPO)
    repo.get_pull(number).create_review(commit=repo.get_commit(sha), event="APPROVE")


def comment(rig: Rig, login: str, number: int, body: str) -> None:
    rig.github(login).get_repo(REPO).get_issue(number).create_comment(body)


def wait_for_reply(rig: Rig, number: int, needle: str, timeout: float = 60.0) -> str:
    issue = rig.github(BOT).get_repo(REPO).get_issue(number)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in issue.get_comments():
            if item.user.login == BOT and needle in item.body:
                return str(item.body)
        time.sleep(0.3)
    raise AssertionError(f"no reply containing {needle!r} on #{number}")


def governance_status(rig: Rig, sha: str) -> tuple[str, str]:
    statuses = rig.github(BOT).get_repo(REPO).get_commit(sha).get_combined_status().statuses
    status = next(s for s in statuses if s.context == "intentops/governance")
    return status.state, status.description


def test_only_a_valid_approval_on_the_current_head_signs_off(rig: Rig) -> None:
    rig.bot.line.merge_on_signoff = False  # a person merges (INTENTOPS_MERGE_ON_SIGNOFF=false)
    rig.push({PATH: NOTES}, "Add notes")
    first = rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF)
    assert first.pr_number is not None
    state, description = governance_status(rig, first.head_sha)
    assert state == "pending" and "1 more approval" in description

    # Approvals that must not count: the intent's author, a reader, and the commands from them.
    approve(rig, "alice", first.pr_number, first.head_sha)
    approve(rig, "carol", first.pr_number, first.head_sha)
    comment(rig, "carol", first.pr_number, "/intentops approve")
    assert "carol does not have write permission" in wait_for_reply(rig, first.pr_number, "carol")
    assert rig.ledger.get(first.id).state is IntentState.AWAITING_SIGNOFF

    # A valid approval on the first head, then a change to the intent: the approval goes stale.
    approve(rig, "bob", first.pr_number, first.head_sha)
    rig.wait_for(PATH, IntentState.APPROVED)
    rig.push({PATH: NOTES.replace("short team notes", "short notes")}, "Reword notes")
    second = rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF)
    assert second.head_sha != first.head_sha and second.pr_number == first.pr_number
    assert governance_status(rig, second.head_sha)[0] == "pending"

    approve(rig, "bob", second.pr_number, second.head_sha)
    approved = rig.wait_for(PATH, IntentState.APPROVED)
    assert governance_status(rig, approved.head_sha) == ("success", "signed off by bob")

    comment(rig, "alice", approved.pr_number, "/intentops explain")
    explanation = wait_for_reply(rig, approved.pr_number, "Why `intents/notes.yaml`")
    assert "requires_approval" in explanation and "bob" in explanation

    rig.github("bob").get_repo(REPO).get_pull(approved.pr_number).merge(merge_method="merge")
    deployed = rig.wait_for(PATH, IntentState.DEPLOYED, IntentState.DEPLOY_FAILED)
    assert deployed.state is IntentState.DEPLOYED
    entry = rig.bot.line.registry.get("notes")
    assert entry is not None and entry.provenance.approvers == ("bob",)
    repos = rig.github(BOT).get_repo(REPO).get_pulls(state="all", head="acme:intentops/notes")
    assert len(list(repos)) == 1, "a changed intent updates its PR, never opens a second one"


def test_a_pull_request_closed_without_merging_rejects_the_intent(rig: Rig) -> None:
    rig.push({PATH: NOTES}, "Add notes")
    record = rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF)
    rig.github("bob").get_repo(REPO).get_pull(record.pr_number).edit(state="closed")
    rejected = rig.wait_for(PATH, IntentState.REJECTED)
    assert rejected.service_url == "" and rig.bot.line.registry.get("notes") is None
    merged = [e for e in rig.ledger.history(rejected.id) if e.stage is Stage.MERGED]
    assert [e.outcome for e in merged] == [Outcome.SKIPPED], "a rejection is not a failed merge"


def review(rig: Rig, login: str, number: int, sha: str, event: str) -> None:
    repo = rig.github(login).get_repo(REPO)
    repo.get_pull(number).create_review(commit=repo.get_commit(sha), event=event, body="see inline")


def test_a_withdrawn_approval_stops_counting(rig: Rig) -> None:
    rig.bot.line.merge_on_signoff = False
    rig.push({PATH: NOTES}, "Add notes")
    record = rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF)
    assert record.pr_number is not None
    approve(rig, "bob", record.pr_number, record.head_sha)
    rig.wait_for(PATH, IntentState.APPROVED)
    assert governance_status(rig, record.head_sha) == ("success", "signed off by bob")

    review(rig, "bob", record.pr_number, record.head_sha, "REQUEST_CHANGES")
    waiting = rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF)
    assert waiting.waiting_for == "1 more approval from someone with write permission"
    assert governance_status(rig, record.head_sha)[0] == "pending"

    # A command approval is withdrawn by its own command.
    comment(rig, "bob", record.pr_number, "/intentops approve")
    rig.wait_for(PATH, IntentState.APPROVED)
    comment(rig, "bob", record.pr_number, "/intentops unapprove")
    wait_for_reply(rig, record.pr_number, "@bob: your `/intentops approve` is withdrawn")
    rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF)
    assert governance_status(rig, record.head_sha)[0] == "pending"


def test_a_signed_off_intent_is_merged_and_deployed_by_the_bot(rig: Rig) -> None:
    rig.push({PATH: NOTES}, "Add notes")
    record = rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF)
    assert record.pr_number is not None
    approve(rig, "bob", record.pr_number, record.head_sha)
    deployed = rig.wait_for(PATH, IntentState.DEPLOYED, IntentState.DEPLOY_FAILED)
    assert deployed.state is IntentState.DEPLOYED
    pull = rig.github(BOT).get_repo(REPO).get_pull(record.pr_number)
    assert pull.merged and pull.merged_by.login == BOT
    entry = rig.bot.line.registry.get("notes")
    assert entry is not None and entry.provenance.approvers == ("bob",)


def test_a_merge_without_sign_off_deploys_nothing_until_signed_off_and_retried(rig: Rig) -> None:
    rig.push({PATH: NOTES}, "Add notes")
    record = rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF)
    assert record.pr_number is not None
    # The intent's author merges her own PR while governance is pending (no branch protection here).
    assert rig.github("alice").get_repo(REPO).get_pull(record.pr_number).merge(merge_method="merge").merged
    why = wait_for_reply(rig, record.pr_number, "was not deployed")
    assert "without a complete sign-off" in why and "/intentops retry" in why
    merged = rig.wait_for(PATH, IntentState.MERGED)
    assert "sign-off" in merged.waiting_for and "/intentops retry" in merged.waiting_for
    assert rig.bot.line.registry.get("notes") is None
    assert list(rig.github(BOT).get_repo(REPO).get_deployments()) == []

    comment(rig, "alice", record.pr_number, "/intentops approve")
    assert "alice asked for this change" in wait_for_reply(rig, record.pr_number, "@alice: your approval")
    comment(rig, "bob", record.pr_number, "/intentops approve")
    assert "/intentops retry" in wait_for_reply(rig, record.pr_number, "@bob: your sign-off counts")
    comment(rig, "bob", record.pr_number, "/intentops retry")
    deployed = rig.wait_for(PATH, IntentState.DEPLOYED, IntentState.DEPLOY_FAILED)
    assert deployed.state is IntentState.DEPLOYED
    entry = rig.bot.line.registry.get("notes")
    assert entry is not None and entry.provenance.approvers == ("bob",)


PLATFORM_POLICY = """\
- name: Platform reviews notes
  rule: service_name == 'notes'
  action: requires_approval
  approvers: ["@acme/platform"]
  reason: The platform team owns shared services.
"""


def test_team_approvers_the_forge_cannot_resolve_are_said_so(rig: Rig) -> None:
    rig.push({"policies/platform.yaml": PLATFORM_POLICY}, "Platform reviews notes")
    rig.push({PATH: NOTES}, "Add notes")
    record = rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF)
    assert record.pr_number is not None
    approve(rig, "bob", record.pr_number, record.head_sha)  # a writer, but not in the team's sight
    rig.wait_until_idle()
    waiting = rig.ledger.get(record.id)
    assert waiting.state is IntentState.AWAITING_SIGNOFF
    assert "1 more approval from @acme/platform (policy Platform reviews" in waiting.waiting_for
    assert "the forge cannot say who is in @acme/platform: name approvers by login" in waiting.waiting_for
    state, description = governance_status(rig, record.head_sha)
    assert state == "pending" and "@acme/platform" in description
