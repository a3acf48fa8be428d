"""Git smart HTTP through `git http-backend`: clone, fetch and push with tokens, refusals, push webhooks."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from github import GithubException

from forge.git import ZERO_SHA
from tests.fixtures.forge import GIT_ENV, ForgeKit, HookReceiver

SECRET = "it's a secret to everybody"


def _git(cwd: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), **GIT_ENV, **(extra_env or {})}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_clone_push_and_fetch_over_protocol_v2(forge_kit: ForgeKit, tmp_path: Path) -> None:
    alice = forge_kit.user("alice")
    forge_kit.repo("alice/app")
    first = forge_kit.clone("alice/app", alice)
    assert (first / "README.md").read_text() == "# app\n"
    sha = forge_kit.push_branch(first, "feature", {"src/app.py": "print('hi')\n"}, "Add app")

    second = forge_kit.clone("alice/app", alice)
    traced = _git(second, "-c", "protocol.version=2", "fetch", "origin", extra_env={"GIT_TRACE_PACKET": "1"})
    assert traced.returncode == 0, traced.stderr
    assert "version 2" in traced.stderr
    assert _git(second, "rev-parse", "origin/feature").stdout.strip() == sha


def test_push_sends_a_signed_push_event_with_the_files_of_each_commit(
    forge_kit: ForgeKit, hook_receiver: HookReceiver
) -> None:
    alice = forge_kit.user("alice")
    info = forge_kit.repo("alice/app", files={"keep.txt": b"1\n", "old.txt": b"x\n"})
    forge_kit.admin.add_webhook("alice/app", hook_receiver.url, secret=SECRET, events_=["push"])
    clone = forge_kit.clone("alice/app", alice)
    one = forge_kit.commit(clone, {"new.txt": "new\n", "keep.txt": "2\n"}, "First")
    two = forge_kit.commit(clone, {"old.txt": None}, "Second")
    forge_kit.git(clone, "push", "--quiet", "origin", "main")

    (delivery,) = hook_receiver.wait_for("push")
    expected = "sha256=" + hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["x-hub-signature-256"] == expected
    assert delivery.headers["user-agent"].startswith("GitHub-Hookshot/")
    payload = delivery.payload
    assert (payload["ref"], payload["before"], payload["after"]) == ("refs/heads/main", info.head_sha, two)
    assert [c["id"] for c in payload["commits"]] == [one, two]
    assert payload["commits"][0]["added"] == ["new.txt"]
    assert payload["commits"][0]["modified"] == ["keep.txt"]
    assert payload["commits"][1]["removed"] == ["old.txt"]
    assert payload["head_commit"]["id"] == two
    assert payload["pusher"]["name"] == "alice"
    assert (payload["created"], payload["deleted"], payload["forced"]) == (False, False, False)


def test_branch_creation_force_push_and_deletion_are_reported(
    forge_kit: ForgeKit, hook_receiver: HookReceiver
) -> None:
    alice = forge_kit.user("alice")
    forge_kit.repo("alice/app")
    forge_kit.admin.add_webhook("alice/app", hook_receiver.url, events_=["push"])
    clone = forge_kit.clone("alice/app", alice)
    first = forge_kit.push_branch(clone, "topic", {"a.txt": "a\n"}, "A")
    forge_kit.git(clone, "commit", "--quiet", "--amend", "-m", "A, amended")
    amended = forge_kit.git(clone, "rev-parse", "HEAD").stdout.strip()
    forge_kit.git(clone, "push", "--quiet", "--force", "origin", "topic")
    forge_kit.git(clone, "push", "--quiet", "origin", "--delete", "topic")

    created, forced, deleted = (h.payload for h in hook_receiver.wait_for("push", count=3))
    assert (created["created"], created["before"], created["after"]) == (True, ZERO_SHA, first)
    assert [c["message"] for c in created["commits"]] == ["A"]
    assert (forced["forced"], forced["before"], forced["after"]) == (True, first, amended)
    assert (deleted["deleted"], deleted["after"], deleted["head_commit"], deleted["commits"]) == (
        True,
        ZERO_SHA,
        None,
        [],
    )


def test_clone_refusals_name_the_reason(forge_kit: ForgeKit, tmp_path: Path) -> None:
    alice, bob, carol = forge_kit.user("alice"), forge_kit.user("bob"), forge_kit.user("carol")
    forge_kit.repo("alice/app", collaborators={"bob": "read"})
    url = forge_kit.clone_url("alice/app", None)

    anonymous = _git(tmp_path, "clone", url, str(tmp_path / "anon"))
    # A 401 challenge: git asks for credentials (and may not prompt here).
    assert anonymous.returncode != 0 and "could not read Username" in anonymous.stderr
    bad = _git(tmp_path, "clone", url.replace("http://", "http://alice:ghp_wrong@"), str(tmp_path / "bad"))
    assert bad.returncode != 0 and "Authentication" in bad.stderr
    stranger = _git(tmp_path, "clone", forge_kit.clone_url("alice/app", carol), str(tmp_path / "carol"))
    assert stranger.returncode != 0 and "not found" in stranger.stderr
    nope = forge_kit.clone_url("alice/app", alice).replace("/app.git", "/nope.git")
    missing = _git(tmp_path, "clone", nope, str(tmp_path / "nope"))
    assert missing.returncode != 0 and "not found" in missing.stderr

    reader = forge_kit.clone("alice/app", bob)
    forge_kit.commit(reader, {"x.txt": "x\n"}, "X")
    refused = _git(reader, "push", "origin", "main")
    assert refused.returncode != 0 and "403" in refused.stderr
    assert forge_kit.admin.repo_info("alice/app").head_sha != _git(reader, "rev-parse", "HEAD").stdout.strip()


def test_concurrent_clones_all_succeed(forge_kit: ForgeKit, tmp_path: Path) -> None:
    alice = forge_kit.user("alice")
    info = forge_kit.repo("alice/app")
    url = forge_kit.clone_url("alice/app", alice)

    def clone(i: int) -> str:
        dest = tmp_path / f"c{i}"
        result = _git(tmp_path, "clone", "--quiet", url, str(dest))
        assert result.returncode == 0, result.stderr
        return _git(dest, "rev-parse", "HEAD").stdout.strip()

    with ThreadPoolExecutor(max_workers=10) as pool:
        heads = list(pool.map(clone, range(10)))
    assert heads == [info.head_sha] * 10


def test_protected_branches_refuse_direct_pushes_from_non_admins(forge_kit: ForgeKit) -> None:
    owner, writer = forge_kit.user("owner"), forge_kit.user("writer")
    info = forge_kit.repo("owner/app", collaborators={"writer": "write"})
    forge_kit.admin.protect_branch("owner/app", "main", required_approvals=1)
    clone = forge_kit.clone("owner/app", writer)
    forge_kit.commit(clone, {"direct.txt": "x\n"}, "Direct")
    refused = _git(clone, "push", "origin", "main")
    assert refused.returncode != 0
    assert "GH006: Protected branch update failed for refs/heads/main." in refused.stderr
    assert forge_kit.admin.repo_info("owner/app").head_sha == info.head_sha
    assert _git(clone, "push", "origin", "main:topic").returncode == 0  # other branches are open

    api = forge_kit.github(writer).get_repo("owner/app")
    with pytest.raises(GithubException) as via_api:
        api.create_file("direct.txt", "Direct", "x\n", branch="main")
    assert via_api.value.status == 422
    assert forge_kit.admin.repo_info("owner/app").head_sha == info.head_sha

    admin_clone = forge_kit.clone("owner/app", owner)
    sha = forge_kit.commit(admin_clone, {"admin.txt": "x\n"}, "Admin")
    assert _git(admin_clone, "push", "origin", "main").returncode == 0
    assert forge_kit.admin.repo_info("owner/app").head_sha == sha


def test_the_token_may_also_be_the_user_name(forge_kit: ForgeKit, tmp_path: Path) -> None:
    alice = forge_kit.user("alice")
    forge_kit.repo("alice/app")
    url = forge_kit.clone_url("alice/app", None).replace("http://", f"http://{alice.token}:x-oauth-basic@")
    result = _git(tmp_path, "clone", "--quiet", url, str(tmp_path / "app"))
    assert result.returncode == 0, result.stderr
