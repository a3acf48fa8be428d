"""REST endpoints through PyGithub, as the bot calls them: contents, refs, issues, labels, statuses,
check runs, deployments, collaborators and the authenticated user."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from github import Github, GithubException, InputGitAuthor

from forge.admin import Account
from tests.fixtures.forge import ForgeKit


@pytest.fixture
def setup(forge_kit: ForgeKit) -> ForgeKit:
    forge_kit.user("owner")
    forge_kit.user("helper")
    forge_kit.user("watcher")
    forge_kit.repo(
        "owner/app",
        files={"README.md": b"# app\n", "docs/guide.md": b"guide\n"},
        collaborators={"helper": "write", "watcher": "read"},
    )
    return forge_kit


def _gh(kit: ForgeKit, login: str) -> Github:
    return kit.github(Account(login, kit.admin.issue_token(login)))


def test_contents_read_create_update_delete(setup: ForgeKit) -> None:
    repo = _gh(setup, "owner").get_repo("owner/app")
    guide = repo.get_contents("docs/guide.md")
    assert (guide.decoded_content, guide.path, guide.type) == (b"guide\n", "docs/guide.md", "file")
    assert sorted(c.path for c in repo.get_contents("")) == ["README.md", "docs"]
    assert [c.name for c in repo.get_contents("docs")] == ["guide.md"]

    created = repo.create_file(
        "intents/hello.yaml",
        "Add hello",
        "service_name: hello\n",
        branch="main",
        author=InputGitAuthor("Hello Bot", "bot@example.com"),
    )
    assert created["commit"].author.name == "Hello Bot"
    current = repo.get_contents("intents/hello.yaml", ref="main")
    with pytest.raises(GithubException) as stale:
        repo.update_file("intents/hello.yaml", "Edit", "x\n", sha=guide.sha)
    assert stale.value.status == 409
    updated = repo.update_file("intents/hello.yaml", "Edit", "service_name: hello2\n", sha=current.sha)
    assert repo.get_contents("intents/hello.yaml").decoded_content == b"service_name: hello2\n"
    repo.delete_file("intents/hello.yaml", "Remove", sha=updated["content"].sha)
    with pytest.raises(GithubException) as gone:
        repo.get_contents("intents/hello.yaml")
    assert gone.value.status == 404


def test_refs_branches_and_compare(setup: ForgeKit) -> None:
    repo = _gh(setup, "owner").get_repo("owner/app")
    main = repo.get_git_ref("heads/main")
    ref = repo.create_git_ref("refs/heads/work", main.object.sha)
    repo.create_file("work.txt", "Work", "w\n", branch="work")
    comparison = repo.compare("main", "work")
    assert (comparison.status, comparison.ahead_by, comparison.behind_by) == ("ahead", 1, 0)
    assert [f.filename for f in comparison.files] == ["work.txt"]
    with pytest.raises(GithubException) as backwards:
        repo.get_git_ref("heads/work").edit(main.object.sha)
    assert backwards.value.status == 422
    assert [c.commit.message for c in repo.get_commits(sha="work")][:1] == ["Work"]
    assert [c.commit.message for c in repo.get_commits(sha="work", path="work.txt")] == ["Work"]
    repo.get_git_ref("heads/work").edit(main.object.sha, force=True)
    assert repo.get_branch("work").commit.sha == main.object.sha
    assert sorted(b.name for b in repo.get_branches()) == ["main", "work"]
    assert repo.get_commit("work").sha == main.object.sha  # refs are names: branches may hold slashes
    repo.create_git_ref("refs/heads/intentops/hello", main.object.sha)
    assert repo.get_commit("intentops/hello").sha == main.object.sha
    assert repo.get_commit("intentops/hello").get_combined_status().state == "pending"
    ref.delete()
    with pytest.raises(GithubException) as missing:
        repo.get_branch("work")
    assert missing.value.status == 404


def test_issues_comments_and_labels(setup: ForgeKit) -> None:
    repo = _gh(setup, "helper").get_repo("owner/app")
    issue = repo.create_issue(title="New intent: hello", body="service_name: hello", labels=["intent"])
    assert [label.name for label in issue.labels] == ["intent"]
    comment = issue.create_comment("/intentops retry")
    assert comment.user.login == "helper"
    assert [c.body for c in repo.get_issue(issue.number).get_comments()] == ["/intentops retry"]
    issue.add_to_labels("tier-3")
    issue.remove_from_labels("intent")
    assert [label.name for label in repo.get_issue(issue.number).labels] == ["tier-3"]
    issue.edit(state="closed")
    assert repo.get_issue(issue.number).state == "closed"

    watcher = _gh(setup, "watcher").get_repo("owner/app")
    watcher.get_issue(issue.number).create_comment("me too")  # readers may comment, as on GitHub
    with pytest.raises(GithubException) as forbidden:
        watcher.get_issue(issue.number).edit(title="renamed")
    assert forbidden.value.status == 403


def test_statuses_combine_by_latest_per_context(setup: ForgeKit) -> None:
    repo = _gh(setup, "helper").get_repo("owner/app")
    commit = repo.get_commit("main")
    assert repo.get_commit(commit.sha).get_combined_status().state == "pending"
    commit.create_status("pending", context="intentops/governance", description="waiting")
    commit.create_status("success", context="intentops/tests", target_url="http://127.0.0.1/x")
    assert commit.get_combined_status().state == "pending"
    commit.create_status("success", context="intentops/governance", description="approved")
    combined = commit.get_combined_status()
    assert (combined.state, combined.total_count) == ("success", 2)
    commit.create_status("error", context="intentops/tests")
    assert commit.get_combined_status().state == "failure"
    assert len(list(commit.get_statuses())) == 4

    with pytest.raises(GithubException) as reader:
        _gh(setup, "watcher").get_repo("owner/app").get_commit(commit.sha).create_status("success")
    assert reader.value.status == 403


def test_check_runs_with_annotations(setup: ForgeKit) -> None:
    with pytest.raises(GithubException) as personal:
        _gh(setup, "helper").get_repo("owner/app").create_check_run(name="intentops/tests", head_sha="main")
    assert (personal.value.status, personal.value.data["message"]) == (
        403,
        "You must authenticate via a GitHub App.",
    )
    repo = setup.github(Account("checks-app[bot]", setup.app_token("owner/app"))).get_repo("owner/app")
    sha = repo.get_branch("main").commit.sha
    run = repo.create_check_run(name="intentops/tests", head_sha=sha, status="in_progress")
    assert (run.status, run.conclusion) == ("in_progress", None)
    run.edit(
        conclusion="failure",
        output={
            "title": "2 failed",
            "summary": "see annotations",
            "annotations": [
                {
                    "path": "app.py",
                    "start_line": 3,
                    "end_line": 3,
                    "annotation_level": "failure",
                    "message": "boom",
                }
            ],
        },
    )
    again = repo.get_check_run(run.id)
    assert (again.status, again.conclusion, again.output.title) == ("completed", "failure", "2 failed")
    assert [(a.path, a.message) for a in again.get_annotations()] == [("app.py", "boom")]
    assert [r.name for r in repo.get_commit(sha).get_check_runs()] == ["intentops/tests"]


def test_deployments_and_their_statuses(setup: ForgeKit) -> None:
    repo = _gh(setup, "helper").get_repo("owner/app")
    deployment = repo.create_deployment(
        ref="main",
        environment="production",
        payload={"service": "hello"},
        required_contexts=[],
        description="deploy hello",
    )
    assert (deployment.sha, deployment.payload) == (repo.get_branch("main").commit.sha, {"service": "hello"})
    deployment.create_status("in_progress", description="starting")
    deployment.create_status("success", environment_url="http://127.0.0.1:8300/", description="live")
    states = [s.state for s in repo.get_deployment(deployment.id).get_statuses()]
    assert states == ["success", "in_progress"]
    assert [d.id for d in repo.get_deployments(environment="production")] == [deployment.id]


def test_deployments_wait_for_their_required_contexts(setup: ForgeKit) -> None:
    repo = _gh(setup, "helper").get_repo("owner/app")
    commit = repo.get_commit("main")
    commit.create_status("success", context="ci")
    commit.create_status("pending", context="lint")
    app = setup.github(Account("checks-app[bot]", setup.app_token("owner/app"))).get_repo("owner/app")
    build = app.create_check_run(name="build", head_sha=commit.sha, status="in_progress")

    def refused(**required: list[str]) -> list[dict[str, str]]:
        with pytest.raises(GithubException) as conflict:
            repo.create_deployment(ref="main", auto_merge=False, **required)
        assert (conflict.value.status, conflict.value.data["message"]) == (
            409,
            "Conflict: Commit status checks failed for main.",
        )
        [error] = conflict.value.data["errors"]
        assert (error["resource"], error["field"]) == ("Deployment", "required_contexts")
        contexts: list[dict[str, str]] = error["contexts"]
        return contexts

    # Omitted: every context reported on the commit must be success.
    assert refused() == [{"context": "build", "state": "pending"}, {"context": "lint", "state": "pending"}]
    assert refused(required_contexts=["ci", "lint"]) == [{"context": "lint", "state": "pending"}]
    assert refused(required_contexts=["security"]) == [{"context": "security", "state": "missing"}]
    commit.create_status("failure", context="ci")
    assert refused(required_contexts=["ci"]) == [{"context": "ci", "state": "failure"}]
    assert list(repo.get_deployments()) == []

    assert repo.create_deployment(ref="main", auto_merge=False, required_contexts=[]).sha == commit.sha
    commit.create_status("success", context="ci")
    commit.create_status("success", context="lint")
    assert repo.create_deployment(ref="main", required_contexts=["ci", "lint"]).sha == commit.sha
    build.edit(status="completed", conclusion="success")
    assert repo.create_deployment(ref="main").sha == commit.sha
    assert len(list(repo.get_deployments())) == 3


def test_collaborator_permission_and_authenticated_user(setup: ForgeKit) -> None:
    gh = _gh(setup, "owner")
    repo = gh.get_repo("owner/app")
    assert repo.get_collaborator_permission("owner") == "admin"
    assert repo.get_collaborator_permission("helper") == "write"
    assert repo.get_collaborator_permission("watcher") == "read"
    listed = {c.login: c.permissions.push for c in repo.get_collaborators()}
    assert listed == {"owner": True, "helper": True, "watcher": False}
    me = gh.get_user()
    assert (me.login, me.type) == ("owner", "User")
    assert repo.permissions.admin is True
    assert _gh(setup, "helper").get_repo("owner/app").permissions.admin is False


def test_concurrent_creations_draw_distinct_numbers(setup: ForgeKit) -> None:
    repo = _gh(setup, "helper").get_repo("owner/app")
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(lambda n: repo.create_issue(title=f"issue {n}").number, range(12)))
    assert sorted(numbers) == list(range(1, 13))
