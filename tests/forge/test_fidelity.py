"""Every REST response the bot uses validates against GitHub's OpenAPI description, and every webhook
payload against GitHub's payload schemas (../shared/github)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.fixtures.forge import ForgeKit, HookReceiver
from tests.forge.schemas import validate_hook, validate_rest

HOOK_EVENTS = {
    ("ping", None),
    ("push", None),
    ("pull_request", "opened"),
    ("pull_request", "synchronize"),
    ("pull_request", "edited"),
    ("pull_request", "closed"),
    ("pull_request", "reopened"),
    ("pull_request_review", "submitted"),
    ("pull_request_review", "dismissed"),
    ("issue_comment", "created"),
    ("issues", "opened"),
    ("status", None),
    ("deployment", "created"),
    ("deployment_status", "created"),
}


@dataclass
class Recorder:
    """Calls the forge over HTTP and keeps (method, documented path, status, body) of each response."""

    client: httpx.Client
    calls: list[tuple[str, str, int, Any]] = field(default_factory=list)

    def __call__(self, method: str, template: str, expect: int, json: Any = None, **params: Any) -> Any:
        url = template.format(**params)
        query = params.pop("query", None)
        response = self.client.request(method, url, json=json, params=query)
        assert response.status_code == expect, f"{method} {url}: {response.status_code} {response.text}"
        body = response.json() if response.content else None
        self.calls.append((method, template, response.status_code, body))
        return body


def _scenario(kit: ForgeKit, receiver: HookReceiver) -> Recorder:
    owner, reviewer = kit.user("octo"), kit.user("reviewer")
    kit.repo("octo/app", collaborators={"reviewer": "write"})
    client = httpx.Client(base_url=kit.api_url, headers={"Authorization": f"token {owner.token}"})
    call = Recorder(client)
    repo = {"owner": "octo", "repo": "app"}
    call(
        "POST",
        "/repos/{owner}/{repo}/hooks",
        201,
        {"config": {"url": receiver.url, "content_type": "json", "secret": "s3cret"}, "events": ["*"]},
        **repo,
    )
    call("GET", "/repos/{owner}/{repo}/hooks", 200, **repo)
    call("GET", "/repos/{owner}/{repo}", 200, **repo)
    call("PATCH", "/repos/{owner}/{repo}", 200, {"description": "demo"}, **repo)
    call("GET", "/user", 200)
    call("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", 200, username="reviewer", **repo)
    main = call("GET", "/repos/{owner}/{repo}/git/ref/{ref}", 200, ref="heads/main", **repo)
    call(
        "POST",
        "/repos/{owner}/{repo}/git/refs",
        201,
        {"ref": "refs/heads/feature", "sha": main["object"]["sha"]},
        **repo,
    )
    content = base64.b64encode(b"hello\n").decode()
    put = call(
        "PUT",
        "/repos/{owner}/{repo}/contents/{path}",
        201,
        {"message": "add hello", "content": content, "branch": "feature"},
        path="hello.txt",
        **repo,
    )
    call(
        "PUT",
        "/repos/{owner}/{repo}/contents/{path}",
        200,
        {
            "message": "edit hello",
            "content": base64.b64encode(b"hello, world\n").decode(),
            "sha": put["content"]["sha"],
            "branch": "feature",
        },
        path="hello.txt",
        **repo,
    )
    call(
        "GET",
        "/repos/{owner}/{repo}/contents/{path}",
        200,
        path="hello.txt",
        query={"ref": "feature"},
        **repo,
    )
    call("GET", "/repos/{owner}/{repo}/branches/{branch}", 200, branch="feature", **repo)
    call("GET", "/repos/{owner}/{repo}/compare/{basehead}", 200, basehead="main...feature", **repo)
    pr = call(
        "POST",
        "/repos/{owner}/{repo}/pulls",
        201,
        {"title": "Add hello", "head": "feature", "base": "main", "body": "please"},
        **repo,
    )
    number = pr["number"]
    call("GET", "/repos/{owner}/{repo}/pulls", 200, query={"head": "octo:feature", "state": "open"}, **repo)
    call("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", 200, pull_number=number, **repo)
    call(
        "PATCH",
        "/repos/{owner}/{repo}/pulls/{pull_number}",
        200,
        {"title": "Add a greeting"},
        pull_number=number,
        **repo,
    )
    call("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files", 200, pull_number=number, **repo)
    call("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", 404, pull_number=number, **repo)
    head = pr["head"]["sha"]
    call(
        "POST",
        "/repos/{owner}/{repo}/statuses/{sha}",
        201,
        {"state": "success", "context": "intentops/governance", "description": "ok"},
        sha=head,
        **repo,
    )
    call("GET", "/repos/{owner}/{repo}/commits/{ref}/status", 200, ref=head, **repo)
    call.client.headers["Authorization"] = f"token {kit.app_token('octo/app')}"  # check runs: apps only
    run = call(
        "POST",
        "/repos/{owner}/{repo}/check-runs",
        201,
        {"name": "tests", "head_sha": head, "status": "in_progress"},
        **repo,
    )
    call(
        "PATCH",
        "/repos/{owner}/{repo}/check-runs/{check_run_id}",
        200,
        {
            "conclusion": "success",
            "output": {
                "title": "ok",
                "summary": "all good",
                "annotations": [
                    {
                        "path": "hello.txt",
                        "start_line": 1,
                        "end_line": 1,
                        "annotation_level": "notice",
                        "message": "fine",
                    }
                ],
            },
        },
        check_run_id=run["id"],
        **repo,
    )
    call.client.headers["Authorization"] = f"token {owner.token}"
    call(
        "POST",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        201,
        {"body": "/intentops explain"},
        issue_number=number,
        **repo,
    )
    call("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", 200, issue_number=number, **repo)
    call(
        "POST",
        "/repos/{owner}/{repo}/issues/{issue_number}/labels",
        200,
        {"labels": ["intentops"]},
        issue_number=number,
        **repo,
    )
    call(
        "PUT",
        "/repos/{owner}/{repo}/issues/{issue_number}/labels",
        200,
        {"labels": ["intentops", "tier-3"]},
        issue_number=number,
        **repo,
    )
    call("GET", "/repos/{owner}/{repo}/issues/{issue_number}/labels", 200, issue_number=number, **repo)
    call("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels", 204, issue_number=number, **repo)
    reviewer_client = httpx.Client(
        base_url=kit.api_url, headers={"Authorization": f"Bearer {reviewer.token}"}
    )
    as_reviewer = Recorder(reviewer_client, call.calls)
    as_reviewer(
        "POST",
        "/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
        200,
        {"event": "APPROVE", "commit_id": head, "body": ""},
        pull_number=number,
        **repo,
    )
    as_reviewer("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", 200, pull_number=number, **repo)
    call(
        "PUT",
        "/repos/{owner}/{repo}/pulls/{pull_number}/merge",
        200,
        {"merge_method": "squash", "sha": head},
        pull_number=number,
        **repo,
    )
    call("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", 204, pull_number=number, **repo)
    dep = call(
        "POST",
        "/repos/{owner}/{repo}/deployments",
        201,
        {"ref": "main", "environment": "production", "payload": {"service": "hello"}, "description": "d"},
        **repo,
    )
    call("GET", "/repos/{owner}/{repo}/deployments", 200, **repo)
    call(
        "POST",
        "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
        201,
        {"state": "success", "environment_url": "http://127.0.0.1:9/", "description": "live"},
        deployment_id=dep["id"],
        **repo,
    )
    call(
        "GET",
        "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
        200,
        deployment_id=dep["id"],
        **repo,
    )
    issue = call(
        "POST", "/repos/{owner}/{repo}/issues", 201, {"title": "New intent: hello", "body": "x"}, **repo
    )
    call("GET", "/repos/{owner}/{repo}/issues/{issue_number}", 200, issue_number=issue["number"], **repo)
    call(
        "PATCH",
        "/repos/{owner}/{repo}/issues/{issue_number}",
        200,
        {"state": "closed"},
        issue_number=issue["number"],
        **repo,
    )
    _second_pull(call, as_reviewer, repo)
    call(
        "PATCH",
        "/repos/{owner}/{repo}/git/refs/{ref}",
        422,
        {"sha": main["object"]["sha"]},
        ref="heads/main",
        **repo,
    )
    call("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}", 204, ref="heads/feature", **repo)
    call("GET", "/repos/{owner}/{repo}/git/ref/{ref}", 404, ref="heads/feature", **repo)
    call("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", 404, pull_number=999, **repo)
    call("GET", "/repos/{owner}/{repo}/contents/{path}", 200, path="", **repo)
    call("GET", "/repos/{owner}/{repo}/contents/{path}", 404, path="missing.txt", **repo)
    client.post("/user/repos", json={"name": "scratch"}).raise_for_status()
    call("DELETE", "/repos/{owner}/{repo}", 204, owner="octo", repo="scratch")
    call("GET", "/repos/{owner}/{repo}", 404, owner="octo", repo="scratch")
    return call


def _second_pull(call: Recorder, as_reviewer: Recorder, repo: dict[str, str]) -> None:
    """Close, reopen, a new push (synchronize), a change request and its dismissal."""
    main = call("GET", "/repos/{owner}/{repo}/git/ref/{ref}", 200, ref="heads/main", **repo)
    call(
        "POST",
        "/repos/{owner}/{repo}/git/refs",
        201,
        {"ref": "refs/heads/second", "sha": main["object"]["sha"]},
        **repo,
    )
    put = {"message": "second", "content": base64.b64encode(b"two\n").decode(), "branch": "second"}
    call("PUT", "/repos/{owner}/{repo}/contents/{path}", 201, put, path="two.txt", **repo)
    pr = call(
        "POST",
        "/repos/{owner}/{repo}/pulls",
        201,
        {"title": "Second", "head": "second", "base": "main"},
        **repo,
    )
    number = pr["number"]
    call(
        "PATCH",
        "/repos/{owner}/{repo}/pulls/{pull_number}",
        200,
        {"state": "closed"},
        pull_number=number,
        **repo,
    )
    call(
        "PATCH",
        "/repos/{owner}/{repo}/pulls/{pull_number}",
        200,
        {"state": "open"},
        pull_number=number,
        **repo,
    )
    call(
        "PUT",
        "/repos/{owner}/{repo}/contents/{path}",
        201,
        dict(put, message="third"),
        path="three.txt",
        **repo,
    )
    review = as_reviewer(
        "POST",
        "/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
        200,
        {"event": "REQUEST_CHANGES", "body": "not yet"},
        pull_number=number,
        **repo,
    )
    call(
        "PUT",
        "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/dismissals",
        200,
        {"message": "stale"},
        pull_number=number,
        review_id=review["id"],
        **repo,
    )


@pytest.fixture(scope="module")
def scenario(module_forge_kit: ForgeKit) -> tuple[Recorder, list[Any]]:
    # A module-scoped receiver: the scenario runs once and both tests read its results.
    from tests.fixtures.forge import _start_receiver

    receiver, stop = _start_receiver()
    try:
        call = _scenario(module_forge_kit, receiver)
        for event, action in sorted(HOOK_EVENTS, key=str):
            receiver.wait_for(event, action)
        yield call, list(receiver.received)
    finally:
        stop()


def test_every_rest_response_validates_against_the_openapi_description(
    scenario: tuple[Recorder, Any],
) -> None:
    call, _hooks = scenario
    problems = {}
    for method, template, status, body in call.calls:
        if template.endswith("/dismissals"):
            continue  # not in the OpenAPI subset; its body is a review, checked by the review calls
        errors = validate_rest(method, template, status, body)
        if errors:
            problems[f"{method} {template} {status}"] = errors[:5]
    assert not problems, "\n".join(f"{call}: {errors}" for call, errors in problems.items())
    documented = {(m, t) for m, t, _s, _b in call.calls}
    assert len(documented) >= 38


def test_every_webhook_payload_validates_against_githubs_schema(scenario: tuple[Recorder, Any]) -> None:
    _call, hooks = scenario
    seen = {(h.event, h.action) for h in hooks}
    assert seen >= HOOK_EVENTS
    problems = {}
    for hook in hooks:
        errors = validate_hook(hook.event, hook.payload)
        if errors:
            problems[f"{hook.event}/{hook.action}"] = errors[:5]
    assert not problems, "\n".join(f"{event}: {errors}" for event, errors in problems.items())
