"""The seed's self-improvements through the whole line (the real forge, bot, workers and ledger).

spec-analyzer's reading of the line's history comes from the bot's read API, over HTTP with the line's token.

governance-v2, the alignment scorer learned from a generated history, is built as a stage service, signed
off by two people, deployed and proved beside the line's scorer on decisions it never saw: it holds every
adversarial pair but agrees less with people, so the line reports it, with the figures, and proposes nothing.

The assembly-line monitor: given a history where the optimizer needs more than 1.5 rounds a SPEC, the line
files one pull request adding a spec-builder improvement intent, with the evidence, governed like any change
of the line (two approvals; the monitor never approves or merges); as the line moves on it files no second
one for that rule while the first is open, and its own pull request's events never set it off again.
"""

from __future__ import annotations

import time

import httpx
import pytest

from bot.handlers.monitor import MONITOR_JOB
from pipeline.intents import load_intent
from pipeline.ledger import IntentState
from tests.conftest import EXAMPLES
from tests.fixtures.line import BOT, REPO, STAGE_TOKEN, Rig
from tests.fixtures.line_history import seed_built, seed_high_rounds, spec_report
from tests.flows.test_signoff import approve, wait_for_reply
from tests.security.test_trust_flows import wait_for_status

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]

MONITOR_BRANCH = "intentops/monitor-optimizer-rounds-high"


def monitor_pulls(rig: Rig, state: str = "all") -> list:  # type: ignore[type-arg]
    return [p for p in rig.github(BOT).get_repo(REPO).get_pulls(state=state) if p.head.ref == MONITOR_BRANCH]


def wait_for_monitor_pull(rig: Rig, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = monitor_pulls(rig, "open")
        if found:
            return found[0]
        time.sleep(0.3)
    raise AssertionError(f"the monitor filed nothing: {rig.job_counts()}")


def test_the_line_files_its_own_improvement_and_proves_a_learned_scorer(rig: Rig) -> None:
    """One line for both flows (a line takes seconds to start): the monitor's, then governance-v2's."""
    the_monitor_files_one_spec_builder_intent_and_no_second(rig)
    governance_v2_is_built_proved_on_held_back_decisions_and_honestly_not_proposed(rig)


def the_monitor_files_one_spec_builder_intent_and_no_second(rig: Rig) -> None:
    seed_high_rounds(rig.ledger, REPO)

    # spec-analyzer reads the same history over the bot's read API, with the token the line's services hold.
    token = {"Authorization": f"Bearer {STAGE_TOKEN}"}
    analysis = httpx.get(f"{rig.url}/history/spec-analysis", params={"repo": REPO}, headers=token, timeout=30)
    assert analysis.status_code == 200, analysis.text
    assert analysis.json()["findings"][0]["code"] == "vague-word" and analysis.json()["specs"] == 4
    assert httpx.get(f"{rig.url}/history/intents", timeout=30).status_code == 401
    rig.push({"docs/notes.md": "The team's notes.\n"}, "notes")

    pull = wait_for_monitor_pull(rig)
    assert [f.filename for f in pull.get_files()] == ["intents/spec-builder-v2.yaml"]
    added = rig.github(BOT).get_repo(REPO).get_contents("intents/spec-builder-v2.yaml", ref=pull.head.sha)
    intent = load_intent(added.decoded_content, source="intents/spec-builder-v2.yaml")
    wording = intent.stage_hints.wording  # type: ignore[union-attr]
    assert intent.implements == "spec-builder@1" and set(wording) == {"fast", "easily", "quick"}
    assert "Filed by the assembly-line monitor" in pull.body and "`intents/tool-1.yaml` | 3 |" in pull.body
    assert "median (2.5)" in pull.body or "median: 2.5" in pull.body, pull.body

    # Governed like a change of the line: one approval is not enough, two are; the bot never merges it.
    wait_for_status(rig, pull.head.sha, "intentops/governance", "pending", timeout=30)
    approve(rig, "bob", pull.number, pull.head.sha)
    wait_for_status(rig, pull.head.sha, "intentops/governance", "pending", containing="1 more", timeout=30)
    approve(rig, "alice", pull.number, pull.head.sha)
    wait_for_status(rig, pull.head.sha, "intentops/governance", "success", timeout=30)

    # The line moves on and the rule still holds: its pull request is open, so nothing more is filed.
    rig.wait_until_idle()
    looked = rig.job_counts()[MONITOR_JOB]
    assert looked == 1, "the monitor's own pull request (opened, reviewed) never set it off"
    seed_built(rig.ledger, REPO, "tool-9", spec_report("tool-9", rounds=3, words=("fast",)))
    rig.push({"docs/notes.md": "The team's notes, again.\n"}, "more notes")
    rig.wait_until_idle()
    assert rig.job_counts()[MONITOR_JOB] == looked + 1, "a new state of the ledger was looked at"
    assert len(monitor_pulls(rig)) == 1
    assert rig.github(BOT).get_repo(REPO).get_pull(pull.number).merged is False


def governance_v2_is_built_proved_on_held_back_decisions_and_honestly_not_proposed(rig: Rig) -> None:
    path = "intents/governance-v2.yaml"
    rig.push({path: (EXAMPLES / "intents" / "governance-v2.yaml").read_text()}, "governance-v2")
    built = rig.wait_for(path, IntentState.AWAITING_SIGNOFF, timeout=300)
    assert built.pr_number is not None
    approve(rig, "bob", built.pr_number, built.head_sha)
    approve(rig, "acme", built.pr_number, built.head_sha)  # a self-modification: two people
    rig.wait_for(path, IntentState.DEPLOYED, timeout=120)

    report = wait_for_reply(rig, built.pr_number, "Shadow evaluation", timeout=180)
    assert "governance-v2" in report and "not proposed for adoption" in report, report
    assert "signoff_auc" in report and "adversarial_held" in report, report
    pulls = rig.github(BOT).get_repo(REPO).get_pulls(state="all")
    assert [p.head.ref for p in pulls if p.head.ref.startswith("intentops/adopt-")] == []
