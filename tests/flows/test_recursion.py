"""The line improves itself, through the whole line: a person commits `spec-builder-v2`, two people approve
it, it is built as a stage service, deployed and registered; the line proves it on recent work beside the
built-in spec-builder and, when it is better, opens the adoption pull request. Adoption takes effect only
with two approvals; then the next intent's SPEC is built by the new stage, and a stage service that
breaks mid-build falls back to the built-in without failing the intent; after three failures the line stops
routing to it and opens an issue and the pull request that routes the stage back. A candidate that is not
better is reported and never proposed."""

from __future__ import annotations

import os
import signal
import time

import pytest

from pipeline.ledger import IntentState, Stage
from tests.conftest import EXAMPLES
from tests.fixtures.line import BOT, NOTES_INTENT, REPO, Rig
from tests.flows.test_signoff import approve, wait_for_reply
from tests.security.test_trust_flows import BOARD_INTENT, wait_for_status

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]

STAGE_PATH = "intents/spec-builder-v2.yaml"
ADOPT_BRANCH = "intentops/adopt-spec-builder"


def adoption_pull(rig: Rig, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    repo = rig.github(BOT).get_repo(REPO)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in repo.get_pulls(state="open") if p.head.ref == ADOPT_BRANCH]
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError("the line opened no adoption pull request")


def served_spec_by(rig: Rig, path: str) -> dict[str, str]:
    record = rig.ledger.find(REPO, path)
    assert record is not None
    spec = [e for e in rig.ledger.history(record.id) if e.stage is Stage.SPEC and e.detail]
    return dict(spec[-1].detail["served_by"])  # type: ignore[index]


def test_a_better_spec_builder_is_proved_adopted_by_two_people_and_then_builds_the_specs(
    line_rig: Rig,
) -> None:
    rig = line_rig
    rig.push({STAGE_PATH: (EXAMPLES / "intents" / "spec-builder-v2.yaml").read_text()}, "spec-builder-v2")
    built = rig.wait_for(STAGE_PATH, IntentState.AWAITING_SIGNOFF, timeout=300)
    assert built.pr_number is not None
    approve(rig, "bob", built.pr_number, built.head_sha)
    approve(rig, "acme", built.pr_number, built.head_sha)  # a self-modification: two people
    rig.wait_for(STAGE_PATH, IntentState.DEPLOYED, timeout=120)

    report = wait_for_reply(rig, built.pr_number, "Shadow evaluation", timeout=180)
    assert "spec-builder-v2" in report and "**better** than `builtin`" in report, report
    pull = adoption_pull(rig)
    assert "line/stages.yaml" in {f.filename for f in pull.get_files()}

    # One approval, merged by a writer anyway: recorded, but the line keeps its built-in spec-builder.
    approve(rig, "bob", pull.number, pull.head.sha)
    rig.github("acme").get_repo(REPO).get_pull(pull.number).merge(merge_method="merge")
    assert "without a complete sign-off" in wait_for_reply(rig, pull.number, "without a complete sign-off")
    rig.push({"intents/notes.yaml": NOTES_INTENT}, "notes")
    rig.wait_for("intents/notes.yaml", IntentState.AWAITING_SIGNOFF)
    assert served_spec_by(rig, "intents/notes.yaml")["spec-builder"] == "builtin"


def test_an_adoption_two_people_approve_builds_the_next_specs_and_a_crash_falls_back(line_rig: Rig) -> None:
    rig = line_rig
    rig.push({STAGE_PATH: (EXAMPLES / "intents" / "spec-builder-v2.yaml").read_text()}, "spec-builder-v2")
    built = rig.wait_for(STAGE_PATH, IntentState.AWAITING_SIGNOFF, timeout=300)
    assert built.pr_number is not None
    approve(rig, "bob", built.pr_number, built.head_sha)
    approve(rig, "acme", built.pr_number, built.head_sha)
    pull = adoption_pull(rig)
    approve(rig, "bob", pull.number, pull.head.sha)
    approve(rig, "acme", pull.number, pull.head.sha)
    wait_for_status(rig, pull.head.sha, "intentops/governance", "success", timeout=60)
    rig.github("acme").get_repo(REPO).get_pull(pull.number).merge(merge_method="merge")
    assert "Signed off by bob, acme" in wait_for_reply(rig, pull.number, "Signed off by")

    rig.push({"intents/notes.yaml": NOTES_INTENT}, "notes")
    rig.wait_for("intents/notes.yaml", IntentState.AWAITING_SIGNOFF)
    assert served_spec_by(rig, "intents/notes.yaml")["spec-builder"] == "spec-builder-v2"

    # The adopted service dies; the next build falls back to the built-in for that call, and goes on.
    (instance,) = [i for i in rig.bot.line.deployer.running() if i.name == "spec-builder-v2"]
    os.kill(int(instance.handle), signal.SIGKILL)
    rig.push({"intents/board.yaml": BOARD_INTENT}, "board")
    rig.wait_for("intents/board.yaml", IntentState.AWAITING_SIGNOFF)
    assert served_spec_by(rig, "intents/board.yaml")["spec-builder"].startswith(
        "builtin (fell back: spec-builder-v2 unreachable)"
    )

    # Two more builds fail the same way: three failures within the window suspend the service. The line
    # opens the pull request that routes the stage back to the built-in for good, and an issue that links it.
    rig.push({"intents/links.yaml": LINKS_INTENT, "intents/recipes.yaml": RECIPES_INTENT}, "two more")
    for path in ("intents/links.yaml", "intents/recipes.yaml"):
        rig.wait_for(path, IntentState.AWAITING_SIGNOFF)
    repo = rig.github(BOT).get_repo(REPO)
    issue = wait_for_issue(rig, "back on the built-in")
    assert "spec-builder-v2" in issue.title and "3 failed calls" in issue.body, issue.body
    revert = [p for p in repo.get_pulls(state="open") if p.head.ref == "intentops/revert-spec-builder"]
    assert len(revert) == 1 and f"#{revert[0].number}" in issue.body
    routed = repo.get_contents("line/stages.yaml", ref=revert[0].head.sha).decoded_content.decode()
    assert "spec-builder-v2" not in routed, "the revert routes spec-builder to the built-in"
    assert len([i for i in repo.get_issues(state="open") if "back on the built-in" in i.title]) == 1


def test_a_candidate_that_is_not_better_is_reported_and_never_proposed(line_rig: Rig) -> None:
    rig = line_rig
    rig.push({PLAIN_PATH: PLAIN_STAGE_INTENT}, "spec-builder-plain")
    built = rig.wait_for(PLAIN_PATH, IntentState.AWAITING_SIGNOFF, timeout=300)
    assert built.pr_number is not None
    approve(rig, "bob", built.pr_number, built.head_sha)
    approve(rig, "acme", built.pr_number, built.head_sha)
    rig.wait_for(PLAIN_PATH, IntentState.DEPLOYED, timeout=120)

    report = wait_for_reply(rig, built.pr_number, "Shadow evaluation", timeout=180)
    assert "**better**" not in report and "not proposed for adoption" in report, report
    repo = rig.github(BOT).get_repo(REPO)
    assert [
        p.head.ref for p in repo.get_pulls(state="all") if p.head.ref.startswith("intentops/adopt-")
    ] == []


PLAIN_PATH = "intents/spec-builder-plain.yaml"
PLAIN_STAGE_INTENT = """\
# A spec-builder with no hints: it builds SPECs exactly as the built-in does, so it is no better.
service_name: spec-builder-plain
purpose: Build SPECs the way the built-in spec-builder does, as a service of its own.
implements: spec-builder@1
"""

LINKS_INTENT = """\
service_name: links
purpose: Keep the links the team shares, so knowledge is found again.
resources:
  - name: link
    fields: {url: url, title: string}
    required: [url]
"""
RECIPES_INTENT = """\
service_name: recipes
purpose: Keep the team's recipes with their ingredients, so lunches are planned together.
resources:
  - name: recipe
    fields: {title: string, ingredients: string}
    required: [title]
"""


def wait_for_issue(rig: Rig, title: str, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    repo = rig.github(BOT).get_repo(REPO)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [i for i in repo.get_issues(state="open") if title in i.title]
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"no issue titled '{title}'")
