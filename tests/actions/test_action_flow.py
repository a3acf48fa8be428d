"""The line from GitHub Actions runs only: each event a person causes becomes one `intentops action` run,
with no webhook bot and no state but the repository's. The scenario of the webhook flow tests
(tests/flows/test_signoff.py) must end with the same pull request, statuses and deploy: push -> PR with
checks -> approval -> merge by the line -> deploy in the deploy job."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.actions.rig import ActionsRig, action_args
from tests.fixtures.line import BOT, REPO
from tests.fixtures.line import NOTES_INTENT as NOTES

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("actions")]

PATH = "intents/notes.yaml"
STATE_BRANCH = "intentops/state"
LINE_JOB = action_args("line")
"""What the shipped template's jobs run: `--hold-deploys` in the line job, nothing more in the deploy job."""
DEPLOY_JOB = action_args("deploy")


def environments_serving(url: str) -> list[bytes]:
    """The environment of each process whose command line serves `url`'s port (the deployed service)."""
    port = url.rstrip("/").rsplit(":", 1)[1]
    found = []
    for process in Path("/proc").iterdir():
        try:
            argv = (process / "cmdline").read_bytes().split(b"\0")
            if b"--port" in argv and argv[argv.index(b"--port") + 1] == port.encode():
                found.append((process / "environ").read_bytes())
        except (OSError, IndexError):
            continue  # gone, or not ours to read
    assert found, f"no process serves port {port}"
    return found


def test_push_review_merge_deploy_from_workflow_runs_alone(actions_rig: ActionsRig) -> None:
    rig = actions_rig
    repo = rig.github(BOT).get_repo(REPO)

    rig.push({PATH: NOTES}, "Add notes")
    pushed = rig.action("push", rig.next_event("push"), *LINE_JOB)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    (pull,) = list(repo.get_pulls(state="open"))
    assert pull.head.ref == "intentops/notes" and "requires_approval" in pull.body
    statuses = {s.context: s.state for s in repo.get_commit(pull.head.sha).get_combined_status().statuses}
    assert statuses == {
        "intentops/governance": "pending",
        "intentops/spec": "success",
        "intentops/tests": "success",
    }
    assert "`intents/notes.yaml` | awaiting_signoff" in pushed.summary
    assert pushed.outputs["pull-requests"] == str(pull.number)
    state = repo.get_branch(STATE_BRANCH).commit
    assert state.parents == [] and [f.filename for f in state.files] == ["state.db"]

    reviewer = rig.github("bob").get_repo(REPO)
    reviewer.get_pull(pull.number).create_review(commit=reviewer.get_commit(pull.head.sha), event="APPROVE")
    approval = rig.next_event("pull_request_review")
    approved = rig.action("pull_request_review", approval, *LINE_JOB)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    merged = repo.get_pull(pull.number)
    assert merged.merged, "the line merges a signed-off, tested pull request"
    assert approved.outputs["held-deploys"] == "1" and list(repo.get_deployments()) == []

    # The deploy job of the same workflow run: a fresh runner, the same event, the environment's reviewers.
    deployed = rig.action("pull_request_review", approval, *DEPLOY_JOB, run_id=approved.run_id)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    (deployment,) = list(repo.get_deployments())
    assert deployment.sha == merged.merge_commit_sha and deployment.environment == "intentops-notes"
    assert [s.state for s in deployment.get_statuses()][::-1] == ["in_progress", "success"]
    url = next(s.environment_url for s in deployment.get_statuses() if s.state == "success")
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    token = rig.accounts[BOT].token.encode()
    assert all(token not in environ for environ in environments_serving(url)), "the service never sees it"
    assert "`intents/notes.yaml` | deployed" in deployed.summary and deployed.outputs["held-deploys"] == "0"
    comments = [c.body for c in repo.get_issue(pull.number).get_comments()]
    assert any(url in body for body in comments)

    # A push whose run was skipped: a manual dispatch reads every intent on the default branch again.
    rig.push({"intents/wiki.yaml": "service_name: wiki\npurpose: A team wiki\nowner: me\n"}, "Add wiki")
    dispatch = {"ref": "refs/heads/main", "inputs": {}, "sender": {"login": "bob"}}
    caught_up = rig.action("workflow_dispatch", dispatch, *LINE_JOB)
    assert caught_up.returncode == 1, "the invalid intent it found fails the run"
    assert "`intents/wiki.yaml` | invalid" in caught_up.summary
    assert "intents/notes.yaml" not in caught_up.summary, "what was built and deployed stays as it is"
    wiki = rig.ledger().find(REPO, "intents/wiki.yaml")
    assert wiki is not None and wiki.author == "alice", "its commit's author, not bob who dispatched"
    assert len(list(repo.get_pulls(state="all"))) == 1 and len(list(repo.get_deployments())) == 1
