"""Attacks on the way to production, through the whole line (forge, bot, git, sandbox, deployer).

- A second intent file saying another file's service name, to take its service over.
- A purpose padded with the blueprint's words, to be merged and deployed with no person.
- A push that brings its own policies, to be governed by them (an "approve everything" policy beside the
  intent it should let through).
- A pull request that changes the policies, hoping to merge without anybody governing it.
- Failing tests merged by a writer, hoping the merge deploys anyway.
- A writer's own commit on the intent's branch, never run in the sandbox, approved by that same writer.
- A change to the service on the default branch after the line tested it, arriving through the merge.
"""

from __future__ import annotations

import time

import pytest

from pipeline.governance import LEXICAL_ONLY_INFORMS, PolicyAction
from pipeline.ledger import IntentState, Outcome, Stage
from tests.fixtures.line import BOT, NOTES_INTENT, REPO, Rig
from tests.flows.test_refusals import issue_about
from tests.flows.test_signoff import approve, wait_for_reply
from tests.security.test_governance import GOALS, UNSEEN_HARM

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]

APPROVE_EVERYTHING = """\
policies:
  - name: Approve everything
    rule: "true"
    action: auto_approve
    reason: Let anything through.
"""
BLOCK_NOTES = """\
policies:
  - name: No more notes
    rule: service_name == 'notes'
    action: blocked
    reason: The team keeps notes elsewhere now.
"""
BOARD_INTENT = """\
service_name: board
purpose: A status board for the team's shared internal tools.
tier: 1
resources:
  - name: item
    fields: {title: string}
    required: [title]
"""
LINKS_INTENT = """\
service_name: links
purpose: Share bookmarks between the team, as a shared internal tool for knowledge.
tier: 1
resources:
  - name: bookmark
    fields: {url: string, title: string}
    required: [url]
"""
PADDED_INTENT = f"""\
service_name: team-helper
purpose: "{GOALS}{UNSEEN_HARM}"
tier: 2
resources:
  - name: note
    fields: {{title: string}}
    required: [title]
"""
FAILING_TEST = "\n\ndef test_added_by_hand() -> None:\n    assert 1 + 1 == 3\n"
HARMLESS = "\n# Reviewed by hand.\n"


def statuses(rig: Rig, sha: str) -> dict[str, tuple[str, str]]:
    combined = rig.github(BOT).get_repo(REPO).get_commit(sha).get_combined_status()
    return {s.context: (s.state, s.description) for s in combined.statuses}


def wait_for_status(
    rig: Rig, sha: str, context: str, *states: str, containing: str = "", timeout: float = 120.0
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = statuses(rig, sha).get(context)
        if found is not None and found[0] in states and containing in found[1]:
            return found[1]
        time.sleep(0.3)
    raise AssertionError(f"{context} on {sha[:12]} never became {states}: {statuses(rig, sha)}")


def push_to_branch(rig: Rig, login: str, branch: str, files: dict[str, str]) -> str:
    """`login` commits on top of `branch` as the forge has it, and pushes."""
    clone = rig.kit.clone(REPO, rig.accounts[login], rig.clone.parent / f"{login}-{branch.replace('/', '-')}")
    rig.kit.git(clone, "checkout", "--quiet", "-B", branch, f"origin/{branch}")
    changed = {path: (clone / path).read_text() + extra for path, extra in files.items()}
    sha = rig.kit.commit(clone, changed, f"{login} edits {branch}")
    rig.kit.git(clone, "push", "--quiet", "origin", f"HEAD:{branch}")
    return sha


def test_a_push_is_governed_by_the_policies_before_it_and_a_policy_pull_request_is_planned(
    line_rig: Rig,
) -> None:
    rig = line_rig
    # One push brings an "approve everything" policy and the intent it should let through.
    rig.push({"policies/allow.yaml": APPROVE_EVERYTHING, "intents/notes.yaml": NOTES_INTENT}, "Notes, my way")
    notes = rig.wait_for("intents/notes.yaml", IntentState.AWAITING_SIGNOFF)
    assert notes.decision is not None and notes.decision.action is PolicyAction.REQUIRES_APPROVAL
    assert "Approve everything" not in {p.name for p in notes.decision.evaluated}
    assert (
        notes.pr_number is not None
        and rig.github(BOT).get_repo(REPO).get_pull(notes.pr_number).merged is False
    )

    # A second file saying the same service name does not take the service over, even sorting first.
    rig.push({"intents/a-notes.yaml": NOTES_INTENT.replace("Keep short", "Replace the")}, "Take notes over")
    taken = rig.wait_for("intents/a-notes.yaml", IntentState.INVALID)
    assert "already owned by intents/notes.yaml" in taken.waiting_for
    assert "intents/a-notes.yaml:1:" in issue_about(rig, "intents/a-notes.yaml")
    assert rig.ledger.get(notes.id).state is IntentState.AWAITING_SIGNOFF

    # A pull request changing the policies gets governed by those in force, with a plan of its effect.
    alice = rig.github("alice").get_repo(REPO)
    clone = rig.kit.clone(REPO, rig.accounts["alice"], rig.clone.parent / "alice-policies")
    head = rig.kit.push_branch(clone, "block-notes", {"policies/block.yaml": BLOCK_NOTES}, "Block notes")
    pull = alice.create_pull(title="Block notes", body="", head="block-notes", base="main")
    plan = wait_for_reply(rig, pull.number, "Policy change")
    # "now" is under the policies on main today, which include the "approve everything" pushed above.
    assert "would newly block 1: notes" in plan and "`intents/notes.yaml` | auto_approve | blocked" in plan
    waiting = wait_for_status(rig, head, "intentops/governance", "pending")
    assert "policy change" in waiting and "2 more approvals" in waiting
    assert statuses(rig, head)["intentops/tests"] == ("success", "no service in this pull request")

    approve(rig, "bob", pull.number, head)
    wait_for_status(rig, head, "intentops/governance", "pending", containing="1 more approval", timeout=30)
    approve(rig, "acme", pull.number, head)
    assert "bob, acme" in wait_for_status(rig, head, "intentops/governance", "success", timeout=30)

    # Policy files that do not load fail the pull request with their file and line.
    broken = rig.kit.push_branch(clone, "broken-policy", {"policies/broken.yaml": "policies: [\n"}, "Oops")
    alice.create_pull(title="Broken policy", body="", head="broken-policy", base="main")
    failed = wait_for_status(rig, broken, "intentops/governance", "failure")
    assert "policies/broken.yaml:" in failed


def test_only_what_the_line_tested_green_is_signed_off_and_deployed(line_rig: Rig) -> None:
    rig = line_rig
    rig.bot.line.merge_on_signoff = False  # people merge here, as a writer can without branch protection
    rig.push(
        {
            "intents/notes.yaml": NOTES_INTENT,
            "intents/board.yaml": BOARD_INTENT,
            "intents/links.yaml": LINKS_INTENT,
            "intents/team-helper.yaml": PADDED_INTENT,
        },
        "Three tools, and one that pads its purpose",
    )
    # The padded intent scores high with the lexical scorer, and still waits for a person (its vague words
    # also keep its SPEC below the gate: nothing is built, let alone merged).
    padded = rig.wait_for("intents/team-helper.yaml", IntentState.AWAITING_SIGNOFF, IntentState.NEEDS_HUMAN)
    assert padded.decision is not None and padded.decision.action is PolicyAction.REQUIRES_APPROVAL
    assert padded.decision.summary == LEXICAL_ONLY_INFORMS
    assert (padded.decision.alignment.score or 0) >= 0.8, "the lexical scorer is fooled; the decision is not"
    notes = rig.wait_for("intents/notes.yaml", IntentState.AWAITING_SIGNOFF)
    board = rig.wait_for("intents/board.yaml", IntentState.AWAITING_SIGNOFF)
    links = rig.wait_for("intents/links.yaml", IntentState.AWAITING_SIGNOFF)
    assert notes.pr_number and board.pr_number and links.pr_number

    # notes: bob pushes a failing test; the line tests his head; a merge a writer forces deploys nothing.
    red = push_to_branch(
        rig, "bob", "intentops/notes", {"services/notes/tests/test_acceptance.py": FAILING_TEST}
    )
    assert "1 failed" in wait_for_status(rig, red, "intentops/tests", "failure")
    assert rig.wait_for("intents/notes.yaml", IntentState.NEEDS_HUMAN).waiting_for.startswith("its tests")
    approve(rig, "acme", notes.pr_number, red)  # signed off, as far as people go
    wait_for_status(rig, red, "intentops/governance", "success", timeout=30)
    rig.github("acme").get_repo(REPO).get_pull(notes.pr_number).merge(merge_method="merge")
    refusal = wait_for_reply(rig, notes.pr_number, "was not deployed")
    assert f"its head {red[:12]} was not tested green by the line" in refusal
    assert "notes" not in {i.name for i in rig.bot.line.deployer.running()}

    # board: bob pushes a harmless change; it is tested, and bob (who pushed it) cannot approve it.
    green = push_to_branch(rig, "bob", "intentops/board", {"services/board/app/main.py": HARMLESS})
    wait_for_status(rig, green, "intentops/tests", "success")
    approve(rig, "bob", board.pr_number, green)
    rig.wait_until_idle()
    state, description = statuses(rig, green)["intentops/governance"]
    assert state == "pending" and "1 more approval" in description
    approve(rig, "acme", board.pr_number, green)
    assert "acme" in wait_for_status(rig, green, "intentops/governance", "success", timeout=30)
    rig.github("acme").get_repo(REPO).get_pull(board.pr_number).merge(merge_method="merge")
    deployed = rig.wait_for("intents/board.yaml", IntentState.DEPLOYED, timeout=90)
    tests = [e for e in rig.ledger.history(deployed.id) if e.stage is Stage.TESTS]
    assert tests[-1].outcome is Outcome.SUCCEEDED and "pushed by bob" in tests[-1].message
    entry = rig.bot.line.registry.get("board")
    assert entry is not None and entry.provenance.approvers == ("acme",)

    # links: signed off as the line built it, then main changes the service folder before the merge.
    approve(rig, "bob", links.pr_number, links.head_sha)
    rig.wait_for("intents/links.yaml", IntentState.APPROVED, timeout=30)
    rig.push({"services/links/EXTRA.md": "Changed on main after the line tested the service.\n"}, "Sneak in")
    rig.github("acme").get_repo(REPO).get_pull(links.pr_number).merge(merge_method="merge")
    refusal = wait_for_reply(rig, links.pr_number, "was not deployed")
    assert "is not what the line tested" in refusal
    assert "links" not in {i.name for i in rig.bot.line.deployer.running()}
