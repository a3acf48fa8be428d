"""Invalid and blocked intents fail alone, with a failing status and a note naming file, line and reason."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from pipeline.governance import PolicyAction
from pipeline.ledger import IntentState
from tests.fixtures.line import BOT, REPO, Rig

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]

INVALID = "service_name: broken\npurpose: A service\npriority: urgent\n"
BLOCKED = (
    "service_name: miner\npurpose: Run a cryptocurrency mining rig controller on spare servers for profit.\n"
)


def issue_about(rig: Rig, path: str, timeout: float = 30.0) -> str:
    repo = rig.github(BOT).get_repo(REPO)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = rig.ledger.find(REPO, path)
        if record is not None and record.issue_number:
            return str(repo.get_issue(record.issue_number).body)
        time.sleep(0.2)
    raise AssertionError(f"no issue was opened about {path}")


def test_bad_intents_fail_alone_and_say_why(rig: Rig) -> None:
    sha = rig.push({"intents/broken.yaml": INVALID, "intents/miner.yaml": BLOCKED}, "Two bad intents")
    invalid = rig.wait_for("intents/broken.yaml", IntentState.INVALID)
    blocked = rig.wait_for("intents/miner.yaml", IntentState.BLOCKED)

    assert "intents/broken.yaml:3:11" in issue_about(rig, "intents/broken.yaml")
    assert "priority" in invalid.waiting_for
    blocked_note = issue_about(rig, "intents/miner.yaml")
    assert "Block anything misaligned" in blocked_note and "0.00 (lexical)" in blocked_note
    assert re.search(r"Block anything misaligned\*\* .*\(`policies/seed\.json:\d+:\d+`\)", blocked_note), (
        "the note names the file and line of the policy that blocked it"
    )

    repo = rig.github(BOT).get_repo(REPO)
    status = repo.get_commit(sha).get_combined_status()
    assert status.state == "failure"
    # One status per intent file: both failures show on the commit, not only the last one reported.
    by_context = {s.context: s.description for s in status.statuses}
    assert by_context["intentops/governance: intents/broken.yaml"].startswith("invalid intent")
    assert by_context["intentops/governance: intents/miner.yaml"].startswith("blocked")
    assert list(repo.get_pulls(state="all")) == [], "nothing was built from either"
    assert blocked.decision is not None and blocked.decision.action is PolicyAction.BLOCKED


def test_a_broken_intent_does_not_stop_the_others_in_its_push(rig: Rig) -> None:
    good = "service_name: board\npurpose: A status board for the team's shared internal tools.\ntier: 1\n"
    good += "resources:\n  - name: item\n    fields: {title: string}\n    required: [title]\n"
    rig.push({"intents/broken.yaml": INVALID, "intents/board.yaml": good}, "One bad, one good")
    rig.wait_for("intents/broken.yaml", IntentState.INVALID)
    record = rig.wait_for("intents/board.yaml", IntentState.AWAITING_SIGNOFF)
    assert record.pr_number is not None


def test_work_that_keeps_failing_is_reported_and_can_be_retried(rig: Rig, tmp_path: Path) -> None:
    # No wheelhouse and no cached venv: the sandbox cannot install the service's test dependencies.
    wheelhouse, venvs = rig.bot.line.wheelhouse, rig.bot.line.venv_cache
    rig.bot.line.wheelhouse = tmp_path / "no-wheelhouse"
    rig.bot.line.venv_cache = tmp_path / "no-venvs"
    good = "service_name: board\npurpose: A status board for the team's shared internal tools.\ntier: 1\n"
    good += "resources:\n  - name: item\n    fields: {title: string}\n    required: [title]\n"
    sha = rig.push({"intents/board.yaml": good}, "Add board")
    record = rig.wait_for("intents/board.yaml", IntentState.FAILED)
    assert "/intentops retry" in record.waiting_for and "wheelhouse" in record.waiting_for
    note = issue_about(rig, "intents/board.yaml")
    assert "gave up on `intent.build`" in note and "after 5 attempt(s)" in note
    statuses = rig.github(BOT).get_repo(REPO).get_commit(sha).get_combined_status().statuses
    assert any(s.state == "failure" and s.description.startswith("gave up") for s in statuses)

    # The cause is fixed; a person asks for a retry on the issue that reported the failure.
    rig.bot.line.wheelhouse, rig.bot.line.venv_cache = wheelhouse, venvs
    issue = rig.github("alice").get_repo(REPO).get_issue(rig.ledger.get(record.id).issue_number)
    issue.create_comment("/intentops retry")
    deadline = time.monotonic() + 60
    while not any("queued again" in c.body for c in issue.get_comments() if c.user.login == BOT):
        assert time.monotonic() < deadline, "no answer to /intentops retry"
        time.sleep(0.3)
    retried = rig.wait_for("intents/board.yaml", IntentState.AWAITING_SIGNOFF)
    assert retried.pr_number is not None
