"""Work on an intent's pull request beyond the happy path: a merge whose service cannot start, and
`/intentops rebuild`."""

from __future__ import annotations

import time

import pytest

from pipeline.ledger import IntentState, Outcome, Stage
from tests.fixtures.line import BOT, NOTES_INTENT, REPO, Rig
from tests.flows.test_signoff import approve, comment, wait_for_reply

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]

PATH = "intents/notes.yaml"
BRANCH = "intentops/notes"
# Passes its tests in the sandbox (so the line lets it through), then cannot start when deployed.
BROKEN = (
    "\nimport sys as _sys\n\n"
    "if 'pytest' not in _sys.modules:\n"
    "    raise SystemExit('notes cannot start: broken on purpose')\n"
)


def break_the_service(rig: Rig) -> str:
    """The author pushes a change to the PR that stops the service from starting (its tests still pass);
    returns the new head."""
    clone = rig.clone
    rig.kit.git(clone, "fetch", "--quiet", "origin")
    rig.kit.git(clone, "checkout", "--quiet", "-B", BRANCH, f"origin/{BRANCH}")
    main = clone / "services" / "notes" / "app" / "main.py"
    sha = rig.kit.commit(clone, {str(main.relative_to(clone)): main.read_text() + BROKEN}, "Break notes")
    rig.kit.git(clone, "push", "--quiet", "origin", f"HEAD:{BRANCH}")
    return sha


def merge_when_signed_off(rig: Rig, number: int, intent_id: int) -> None:
    """Once bob's sign-off counts the bot merges (INTENTOPS_MERGE_ON_SIGNOFF), or else bob does."""
    pull = rig.github("bob").get_repo(REPO).get_pull(number)
    deadline = time.monotonic() + 30
    while True:
        pull.update()
        if pull.merged:
            return
        signed = rig.ledger.get(intent_id).state is IntentState.APPROVED
        if signed and not rig.bot.line.merge_on_signoff:
            assert pull.merge(merge_method="merge").merged
            return
        assert time.monotonic() < deadline, "bob's approval of the new head did not lead to a merge"
        time.sleep(0.2)


def test_a_merge_whose_service_cannot_start_fails_its_deployment_with_the_log_tail(rig: Rig) -> None:
    rig.push({PATH: NOTES_INTENT}, "Add notes")
    record = rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF)
    assert record.pr_number is not None
    head = break_the_service(rig)
    approve(rig, "bob", record.pr_number, head)
    merge_when_signed_off(rig, record.pr_number, record.id)

    failed = rig.wait_for(PATH, IntentState.DEPLOY_FAILED, timeout=60)
    note = wait_for_reply(rig, record.pr_number, "failed to deploy")
    assert "Last log lines" in note and "broken on purpose" in note
    assert "Nothing was serving before" in note
    deployments = list(rig.github(BOT).get_repo(REPO).get_deployments(environment="intentops-notes"))
    assert [s.state for s in deployments[0].get_statuses()][0] == "failure"
    deployed = [e for e in rig.ledger.history(failed.id) if e.stage is Stage.DEPLOYED]
    assert deployed[-1].outcome is Outcome.FAILED and "broken on purpose" in str(deployed[-1].detail)
    assert rig.bot.line.deployer.running() == []


def test_rebuild_builds_the_intent_again_from_the_default_branch(rig: Rig) -> None:
    rig.push({PATH: NOTES_INTENT}, "Add notes")
    record = rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF)
    assert record.pr_number is not None
    builds = rig.job_counts()["intent.build"]

    comment(rig, "carol", record.pr_number, "/intentops rebuild")
    assert "needs write permission" in wait_for_reply(rig, record.pr_number, "carol")
    comment(rig, "bob", record.pr_number, "/intentops rebuild")
    assert "Rebuilding `notes`" in wait_for_reply(rig, record.pr_number, "Rebuilding")
    rig.wait_until_idle()
    assert rig.job_counts()["intent.build"] == builds + 1
    history = rig.ledger.history(record.id)
    assert [e.outcome for e in history if e.stage is Stage.PR].count(Outcome.SUCCEEDED) == 2
    again = rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF)
    assert again.pr_number == record.pr_number, "the same pull request, updated"
    assert len(list(rig.github(BOT).get_repo(REPO).get_pulls(state="all"))) == 1
