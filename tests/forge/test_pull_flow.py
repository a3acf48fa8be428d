"""The bot's path, driven only through PyGithub and git: push a branch, open a PR, review it, fail a
protected merge, satisfy the protection, merge, and see each webhook arrive signed."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from github import GithubException

from tests.fixtures.forge import ForgeKit, HookReceiver

SECRET = "s3cret-for-tests"


def _signed(body: bytes, signature: str) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def test_protected_merge_refused_until_approved_and_green_then_merged(
    forge_kit: ForgeKit, hook_receiver: HookReceiver
) -> None:
    author, reviewer = forge_kit.user("author"), forge_kit.user("reviewer")
    forge_kit.repo("author/svc", collaborators={"reviewer": "write"})
    forge_kit.admin.protect_branch(
        "author/svc", "main", required_approvals=1, required_contexts=["intentops/governance"]
    )
    forge_kit.admin.add_webhook("author/svc", hook_receiver.url, secret=SECRET)
    clone = forge_kit.clone("author/svc", author)
    head = forge_kit.push_branch(
        clone, "intentops/hello", {"intents/hello.yaml": "service_name: hello\n"}, "Intent"
    )

    repo = forge_kit.github(author).get_repo("author/svc")
    pr = repo.create_pull(title="hello", body="Governance report", head="intentops/hello", base="main")
    assert (pr.number, pr.head.sha, pr.mergeable, pr.mergeable_state) == (1, head, True, "blocked")

    with pytest.raises(GithubException) as refused:
        pr.merge()
    assert refused.value.status == 405
    assert (
        refused.value.data["message"]
        == "At least 1 approving review is required by reviewers with write access."
    )

    with pytest.raises(GithubException) as own:
        pr.create_review(event="APPROVE")
    assert own.value.status == 422

    as_reviewer = forge_kit.github(reviewer).get_repo("author/svc").get_pull(pr.number)
    as_reviewer.create_review(commit=repo.get_commit(head), event="APPROVE")
    with pytest.raises(GithubException) as unchecked:
        pr.merge()
    assert unchecked.value.data["message"] == 'Required status check "intentops/governance" is expected.'

    repo.get_commit(head).create_status("failure", context="intentops/governance", description="blocked")
    with pytest.raises(GithubException) as failing:
        pr.merge()
    assert failing.value.data["message"] == 'Required status check "intentops/governance" is failing.'

    repo.get_commit(head).create_status("success", context="intentops/governance", description="approved")
    assert repo.get_pull(pr.number).mergeable_state == "clean"
    base = repo.get_branch("main").commit.sha
    result = pr.merge(merge_method="merge", sha=head)
    assert result.merged

    merged = repo.get_pull(pr.number)
    assert (merged.merged, merged.state, merged.merged_by.login) == (True, "closed", "author")
    merge_commit = repo.get_commit(result.sha)
    assert [p.sha for p in merge_commit.parents] == [base, head]
    assert repo.get_branch("main").commit.sha == result.sha
    assert repo.get_contents("intents/hello.yaml", ref="main").decoded_content == b"service_name: hello\n"

    expected = [
        ("push", None),
        ("pull_request", "opened"),
        ("pull_request_review", "submitted"),
        ("status", None),
        ("pull_request", "closed"),
    ]
    for event, action in expected:
        hook_receiver.wait_for(event, action)
    for delivery in hook_receiver.received:
        assert _signed(delivery.body, delivery.headers["x-hub-signature-256"]), delivery.event
    recorded = [(d.event, d.action) for d in forge_kit.admin.deliveries("author/svc")]
    assert recorded.count(("pull_request", "closed")) == 1
    closed = hook_receiver.events("pull_request", "closed")[0].payload
    assert closed["pull_request"]["merged"] is True
    assert closed["pull_request"]["merge_commit_sha"] == result.sha


def test_approval_of_an_older_head_does_not_count(forge_kit: ForgeKit, hook_receiver: HookReceiver) -> None:
    author, reviewer = forge_kit.user("author"), forge_kit.user("reviewer")
    forge_kit.repo("author/svc", collaborators={"reviewer": "write"})
    forge_kit.admin.protect_branch("author/svc", "main", required_approvals=1)
    forge_kit.admin.add_webhook("author/svc", hook_receiver.url, events_=["pull_request"])
    clone = forge_kit.clone("author/svc", author)
    first = forge_kit.push_branch(clone, "topic", {"a.txt": "a\n"}, "A")
    repo = forge_kit.github(author).get_repo("author/svc")
    pr = repo.create_pull(title="topic", body="", head="topic", base="main")
    forge_kit.github(reviewer).get_repo("author/svc").get_pull(pr.number).create_review(event="APPROVE")

    second = forge_kit.push_branch(clone, "topic", {"b.txt": "b\n"}, "B")
    (sync,) = hook_receiver.wait_for("pull_request", "synchronize")
    assert (sync.payload["before"], sync.payload["after"]) == (first, second)
    assert repo.get_pull(pr.number).head.sha == second

    with pytest.raises(GithubException) as stale:
        repo.get_pull(pr.number).merge()
    assert stale.value.status == 405
    forge_kit.github(reviewer).get_repo("author/svc").get_pull(pr.number).create_review(event="APPROVE")
    assert repo.get_pull(pr.number).merge().merged


def test_conflicts_and_moved_heads_are_refused_and_squash_makes_one_commit(forge_kit: ForgeKit) -> None:
    alice = forge_kit.user("alice")
    forge_kit.repo("alice/app", files={"shared.txt": b"base\n"})
    clone = forge_kit.clone("alice/app", alice)
    forge_kit.push_branch(clone, "left", {"shared.txt": "left\n"}, "Left")
    forge_kit.git(clone, "checkout", "--quiet", "main")
    forge_kit.push_branch(clone, "right", {"shared.txt": "right\n"}, "Right")
    forge_kit.git(clone, "checkout", "--quiet", "main")
    forge_kit.push_branch(clone, "extra", {"extra.txt": "1\n", "more.txt": "2\n"}, "Extra 1")
    tip = forge_kit.push_branch(clone, "extra", {"more.txt": "3\n"}, "Extra 2")

    repo = forge_kit.github(alice).get_repo("alice/app")
    left = repo.create_pull(title="left", body="", head="left", base="main")
    right = repo.create_pull(title="right", body="", head="right", base="main")
    assert left.merge().merged
    conflicted = repo.get_pull(right.number)
    assert (conflicted.mergeable, conflicted.mergeable_state) == (False, "dirty")
    with pytest.raises(GithubException) as dirty:
        conflicted.merge()
    assert (dirty.value.status, dirty.value.data["message"]) == (405, "Pull Request is not mergeable")

    extra = repo.create_pull(title="Extra files", body="", head="extra", base="main")
    assert (extra.commits, extra.changed_files) == (2, 2)
    assert sorted(f.filename for f in extra.get_files()) == ["extra.txt", "more.txt"]
    with pytest.raises(GithubException) as moved:
        extra.merge(sha=left.head.sha)
    assert moved.value.status == 409
    squashed = extra.merge(merge_method="squash", sha=tip)
    commit = repo.get_commit(squashed.sha)
    assert len(commit.parents) == 1
    assert commit.commit.message.startswith("Extra files (#3)")


def test_list_filters_update_and_reopen(forge_kit: ForgeKit, hook_receiver: HookReceiver) -> None:
    alice = forge_kit.user("alice")
    forge_kit.repo("alice/app")
    forge_kit.admin.add_webhook("alice/app", hook_receiver.url, events_=["pull_request"])
    clone = forge_kit.clone("alice/app", alice)
    forge_kit.push_branch(clone, "one", {"1.txt": "1\n"}, "One")
    forge_kit.push_branch(clone, "two", {"2.txt": "2\n"}, "Two")
    repo = forge_kit.github(alice).get_repo("alice/app")
    one = repo.create_pull(title="one", body="", head="one", base="main")
    two = repo.create_pull(title="two", body="", head="alice:two", base="main")
    with pytest.raises(GithubException) as duplicate:
        repo.create_pull(title="again", body="", head="one", base="main")
    assert duplicate.value.status == 422

    assert [p.number for p in repo.get_pulls(state="open", head="alice:one")] == [one.number]
    two.edit(title="two, renamed", state="closed")
    assert [p.number for p in repo.get_pulls(state="closed")] == [two.number]
    assert sorted(p.number for p in repo.get_pulls(state="all")) == [one.number, two.number]
    two.edit(state="open")
    assert repo.get_pull(two.number).title == "two, renamed"
    actions = [h.action for h in hook_receiver.wait_for("pull_request", "reopened")]
    assert actions == ["reopened"]
    edited = hook_receiver.wait_for("pull_request", "edited")[0].payload
    assert edited["changes"] == {"title": {"from": "two"}}


def test_a_pull_request_whose_head_is_pushed_to_its_base_is_merged(
    forge_kit: ForgeKit, hook_receiver: HookReceiver
) -> None:
    alice = forge_kit.user("alice")
    forge_kit.repo("alice/app")
    forge_kit.admin.add_webhook("alice/app", hook_receiver.url, events_=["pull_request"])
    clone = forge_kit.clone("alice/app", alice)
    head = forge_kit.push_branch(clone, "topic", {"t.txt": "t\n"}, "T")
    repo = forge_kit.github(alice).get_repo("alice/app")
    pr = repo.create_pull(title="topic", body="", head="topic", base="main")
    forge_kit.git(clone, "push", "--quiet", "origin", "topic:main")  # merged by hand (a fast-forward)

    merged = repo.get_pull(pr.number)
    assert (merged.merged, merged.state, merged.merge_commit_sha) == (True, "closed", head)
    (closed,) = hook_receiver.wait_for("pull_request", "closed")
    assert closed.payload["pull_request"]["merged"] is True


def test_pull_request_files_name_renames_and_carry_patches(forge_kit: ForgeKit) -> None:
    alice = forge_kit.user("alice")
    lines = "".join(f"line {n}\n" for n in range(20))
    forge_kit.repo("alice/app", files={"old/name.txt": lines.encode(), "gone.txt": b"bye\n"})
    clone = forge_kit.clone("alice/app", alice)
    forge_kit.git(clone, "checkout", "--quiet", "-b", "moves")
    (clone / "new").mkdir()
    forge_kit.git(clone, "mv", "old/name.txt", "new/name.txt")
    forge_kit.commit(clone, {"gone.txt": None, "added.txt": "one\ntwo\n"}, "Move, add, remove")
    forge_kit.git(clone, "push", "--quiet", "origin", "moves")

    pr = (
        forge_kit.github(alice)
        .get_repo("alice/app")
        .create_pull(title="moves", body="", head="moves", base="main")
    )
    files = {f.filename: f for f in pr.get_files()}
    assert {name: f.status for name, f in files.items()} == {
        "new/name.txt": "renamed",
        "gone.txt": "removed",
        "added.txt": "added",
    }
    assert files["new/name.txt"].previous_filename == "old/name.txt"
    assert (files["added.txt"].additions, files["gone.txt"].deletions) == (2, 1)
    assert files["added.txt"].patch == "@@ -0,0 +1,2 @@\n+one\n+two"
    assert (pr.additions, pr.deletions, pr.changed_files) == (2, 1, 3)
