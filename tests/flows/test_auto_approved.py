"""An auto-approved intent: pushed, built, PR opened, merged by the bot, deployed, then undeployed.

Offline, alignment is the lexical scorer's, which never grants auto-approval; a policy that does not read
alignment can (words in the intent cannot change its outcome): the rig's repository has one for the smoke
test (`tests.fixtures.line.SMOKE_POLICY`).
"""

from __future__ import annotations

import httpx
import pytest

from pipeline.ledger import IntentState, Outcome, Stage
from tests.conftest import EXAMPLES
from tests.fixtures.line import BOT, REPO, Rig

PATH = "intents/hello-world.yaml"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]


def test_pushed_intent_ends_as_a_running_registered_service(rig: Rig) -> None:
    rig.push({PATH: (EXAMPLES / "intents" / "hello-world.yaml").read_text()}, "Add hello-world")
    record = rig.wait_for(PATH, IntentState.DEPLOYED, IntentState.DEPLOY_FAILED, IntentState.NEEDS_HUMAN)
    assert record.state is IntentState.DEPLOYED, rig.ledger.history(record.id)

    repo = rig.github(BOT).get_repo(REPO)
    pull = repo.get_pull(record.pr_number)
    assert pull.merged and pull.head.ref == "intentops/hello-world"
    assert "auto_approve" in pull.body and "Auto-approve the smoke test" in pull.body
    combined = repo.get_commit(record.head_sha).get_combined_status().statuses
    statuses = {s.context: s.state for s in combined}
    details = {s.target_url for s in combined}
    assert details == {f"{rig.url}/dashboard/intents/{record.id}"}
    page = httpx.get(details.pop(), timeout=10, follow_redirects=False)
    assert page.is_redirect and "/signin" in page.headers["location"], "a browser is asked to sign in"
    assert statuses == {
        "intentops/governance": "success",
        "intentops/spec": "success",
        "intentops/tests": "success",
    }
    files = {f.filename for f in pull.get_files()}
    assert {"services/hello-world/SPEC.md", "services/hello-world/app/main.py"} <= files

    assert httpx.get(f"{record.service_url}/hello", timeout=10).status_code == 200
    entry = rig.bot.line.registry.get("hello-world")
    assert entry is not None and entry.url == record.service_url
    assert entry.provenance.pr_number == record.pr_number
    assert entry.provenance.commit_sha == pull.merge_commit_sha
    (deployment,) = list(repo.get_deployments())
    assert deployment.sha == pull.merge_commit_sha and deployment.environment == "intentops-hello-world"
    assert [s.state for s in deployment.get_statuses()][::-1] == ["in_progress", "success"]
    comments = [c.body for c in repo.get_issue(record.pr_number).get_comments()]
    assert any(record.service_url in body for body in comments)

    ended = {(e.stage, e.outcome) for e in rig.ledger.history(record.id)}
    for stage in (Stage.GOVERNED, Stage.SPEC, Stage.CODE, Stage.TESTS, Stage.PR, Stage.SIGNOFF, Stage.MERGED):
        assert (stage, Outcome.SUCCEEDED) in ended, stage
    assert (Stage.DEPLOYED, Outcome.SUCCEEDED) in ended
    timed = {e.stage for e in rig.ledger.history(record.id) if e.duration_ms is not None}
    assert {Stage.SIGNOFF, Stage.MERGED} <= timed, "the waits for sign-off and merge are measured too"

    rig.push({PATH: None}, "Remove hello-world")
    rig.wait_for(PATH, IntentState.UNDEPLOYED)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{record.service_url}/health", timeout=3)
    gone = rig.bot.line.registry.get("hello-world")
    assert gone is None or gone.status.value == "gone"
