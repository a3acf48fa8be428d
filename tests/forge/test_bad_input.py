"""Bad input gets GitHub's status and error shape, and changes nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from forge.admin import Account
from tests.fixtures.forge import ForgeKit, HookReceiver

DOCS_KEYS = {"message", "documentation_url"}


@pytest.fixture(scope="module")
def api(module_forge_kit: ForgeKit) -> Iterator[tuple[ForgeKit, httpx.Client, Account]]:
    # One forge for the module: every test here checks that its requests changed nothing.
    forge_kit = module_forge_kit
    owner = forge_kit.user("owner")
    forge_kit.user("reader")
    forge_kit.repo("owner/app", collaborators={"reader": "read"})
    clone = forge_kit.clone("owner/app", owner)
    forge_kit.push_branch(clone, "feature", {"f.txt": "f\n"}, "F")
    with httpx.Client(
        base_url=forge_kit.api_url, headers={"Authorization": f"token {owner.token}"}
    ) as client:
        yield forge_kit, client, owner


def _state(kit: ForgeKit, client: httpx.Client) -> tuple[object, ...]:
    """Everything a bad request could have changed."""
    pulls = client.get("/repos/owner/app/pulls", params={"state": "all"}).json()
    issues = client.get("/repos/owner/app/issues", params={"state": "all"}).json()
    hooks = client.get("/repos/owner/app/hooks").json()
    refs = kit.server.forge.bare_refs("owner/app")
    return len(pulls), len(issues), len(hooks), refs


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body: dict[str, object] = response.json()
    assert body.keys() >= DOCS_KEYS
    return body


def test_malformed_json_is_400_and_creates_nothing(api: tuple[ForgeKit, httpx.Client, Account]) -> None:
    kit, client, _owner = api
    before = _state(kit, client)
    body = _error(client.post("/repos/owner/app/pulls", content=b'{"title": "x", "head": '), 400)
    assert body["message"] == "Problems parsing JSON"
    _error(client.post("/repos/owner/app/issues", content=b"not json"), 400)
    assert _state(kit, client) == before


@pytest.mark.parametrize(
    ("path", "payload", "needle"),
    [
        ("/repos/owner/app/pulls", {"title": "x", "base": "main"}, '"head" wasn\'t supplied'),
        ("/repos/owner/app/statuses/" + "0" * 40, {"state": "great"}, "state"),
        ("/repos/owner/app/hooks", {"config": {"url": "ftp://example"}}, "valid http(s) URL"),
        ("/repos/owner/app/pulls", {"title": "x", "head": "nope", "base": "main"}, "head"),
        ("/repos/owner/app/git/refs", {"ref": "refs/heads/x", "sha": "f" * 40}, "Object does not exist"),
        ("/repos/owner/app/git/refs", {"ref": "heads/x", "sha": "f" * 40}, "not valid"),
    ],
)
def test_invalid_fields_are_422_and_create_nothing(
    api: tuple[ForgeKit, httpx.Client, Account], path: str, payload: dict[str, object], needle: str
) -> None:
    kit, client, _owner = api
    before = _state(kit, client)
    body = _error(client.post(path, json=payload), 422)
    assert needle in str(body["message"]) + str(body.get("errors"))
    assert _state(kit, client) == before


@pytest.mark.parametrize(
    "path",
    [
        "/repos/owner/nope",
        "/repos/nobody/app",
        "/repos/owner/app/git/ref/heads/nope",
        "/repos/owner/app/branches/nope",
        "/repos/owner/app/pulls/99",
        "/repos/owner/app/pulls/not-a-number",
        "/repos/owner/app/compare/main...nope",
        "/repos/owner/app/contents/README.md?ref=nope",
        "/repos/owner/app/contents/missing.txt",
        "/repos/owner/app/commits/nope/status",
        "/repos/owner/app/no-such-endpoint",
    ],
)
def test_unknown_things_are_404(api: tuple[ForgeKit, httpx.Client, Account], path: str) -> None:
    _kit, client, _owner = api
    assert _error(client.get(path), 404)["message"] in {
        "Not Found",
        "Branch not found",
        "No commit found for SHA: nope",
    }


@pytest.mark.parametrize(
    "path", ["..%2F..%2Fforge.db", "%2E%2E/%2E%2E/forge.db", "a/%2E/b", "/etc/passwd%00"]
)
def test_path_traversal_in_contents_reads_nothing_and_writes_nothing(
    api: tuple[ForgeKit, httpx.Client, Account], path: str
) -> None:
    kit, client, _owner = api
    before = _state(kit, client)
    _error(client.get(f"/repos/owner/app/contents/{path}"), 404)
    write = {"message": "escape", "content": base64.b64encode(b"x").decode()}
    assert client.put(f"/repos/owner/app/contents/{path}", json=write).status_code in {404, 422}
    assert _state(kit, client) == before


def test_oversized_bodies_are_413_and_change_nothing(api: tuple[ForgeKit, httpx.Client, Account]) -> None:
    kit, client, _owner = api
    before = _state(kit, client)
    huge = base64.b64encode(b"x" * (7 * 1024 * 1024)).decode()
    body = _error(
        client.put("/repos/owner/app/contents/big.bin", json={"message": "big", "content": huge}), 413
    )
    assert body["message"] == "Payload too large"
    assert _state(kit, client) == before


def test_authentication_and_permission_refusals(api: tuple[ForgeKit, httpx.Client, Account]) -> None:
    kit, client, _owner = api
    anonymous = httpx.Client(base_url=kit.api_url)
    assert _error(anonymous.get("/user"), 401)["message"] == "Requires authentication"
    assert _error(anonymous.get("/repos/owner/app"), 404)["message"] == "Not Found"  # private: not revealed
    bad = httpx.Client(base_url=kit.api_url, headers={"Authorization": "token ghp_not-a-token"})
    assert _error(bad.get("/repos/owner/app"), 401)["message"] == "Bad credentials"
    reader = kit.admin.issue_token("reader")
    as_reader = httpx.Client(base_url=kit.api_url, headers={"Authorization": f"Bearer {reader}"})
    before = _state(kit, client)
    refused = as_reader.post("/repos/owner/app/pulls", json={"title": "x", "head": "feature", "base": "main"})
    assert _error(refused, 403)["message"] == "Resource not accessible by personal access token"
    assert _error(as_reader.post("/repos/owner/app/hooks", json={"config": {"url": "http://x/"}}), 403)
    assert _state(kit, client) == before


def test_merging_a_closed_pull_request_is_405(api: tuple[ForgeKit, httpx.Client, Account]) -> None:
    kit, client, _owner = api
    number = client.post(
        "/repos/owner/app/pulls", json={"title": "x", "head": "feature", "base": "main"}
    ).json()["number"]
    client.patch(f"/repos/owner/app/pulls/{number}", json={"state": "closed"})
    before = _state(kit, client)
    assert _error(client.put(f"/repos/owner/app/pulls/{number}/merge", json={}), 405)["message"] == (
        "Pull Request is not mergeable"
    )
    assert _state(kit, client) == before


GIT_DIR_PATHS = [".git/config", ".GIT/hooks/pre-receive", "x/.git/y", "docs/.Git", ".git./x", "GIT~1/config"]


def test_contents_writes_into_a_git_directory_are_422_and_commit_nothing(
    forge_kit: ForgeKit, hook_receiver: HookReceiver
) -> None:
    owner = forge_kit.user("owner")
    forge_kit.repo("owner/app")
    forge_kit.admin.add_webhook("owner/app", hook_receiver.url, events_=["push"])
    refs = forge_kit.server.forge.bare_refs("owner/app")
    client = httpx.Client(base_url=forge_kit.api_url, headers={"Authorization": f"token {owner.token}"})
    write = {"message": "sneak", "content": base64.b64encode(b"[core]\n").decode()}
    for path in GIT_DIR_PATHS:
        body = _error(client.put(f"/repos/owner/app/contents/{path}", json=write), 422)
        assert body["errors"] == [
            {
                "resource": "Content",
                "field": "path",
                "code": "invalid",
                "message": "path contains a malformed path component",
            }
        ], path
        _error(client.get(f"/repos/owner/app/contents/{path}"), 404)
    assert forge_kit.server.forge.bare_refs("owner/app") == refs

    # Deliveries go out in order: the push of this write is the first and only one.
    assert client.put("/repos/owner/app/contents/notes.txt", json=write).status_code == 201
    assert len(hook_receiver.wait_for("push")) == 1
    forge_kit.settled_deliveries("owner/app", 2)
    assert [d.event for d in forge_kit.admin.deliveries("owner/app")] == ["ping", "push"]


def test_writing_the_same_content_again_is_a_commit_that_keeps_the_file(forge_kit: ForgeKit) -> None:
    owner = forge_kit.user("owner")
    forge_kit.repo("owner/app", files={"a.txt": b"a\n"})
    client = httpx.Client(base_url=forge_kit.api_url, headers={"Authorization": f"token {owner.token}"})
    current = client.get("/repos/owner/app/contents/a.txt").json()
    same = {"message": "again", "content": base64.b64encode(b"a\n").decode(), "sha": current["sha"]}
    answer = client.put("/repos/owner/app/contents/a.txt", json=same)
    assert answer.status_code == 200, answer.text
    # As GitHub does: a commit on top of the tip, with the file (unchanged) in it.
    assert answer.json()["content"]["sha"] == current["sha"]
    commit = client.get(f"/repos/owner/app/commits/{answer.json()['commit']['sha']}").json()
    assert commit["files"] == [] and commit["commit"]["message"] == "again"
