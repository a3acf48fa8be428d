"""GitHub's JSON shapes for the forge's objects: REST responses and webhook payload parts.

REST objects follow `github-rest-subset.json`; webhook objects follow GitHub's payload schemas, which
allow no extra keys, so webhook variants are projections of the REST objects onto `WEBHOOK_*_KEYS`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forge.core import Forge, Perm
from forge.git import CommitInfo, Person
from forge.models import (
    Comment,
    Deployment,
    DeploymentStatus,
    Hook,
    Issue,
    IssueLabel,
    Label,
    Pull,
    Repo,
    Review,
    Status,
    User,
)

Json = dict[str, Any]

_REPO_URL_TEMPLATES = {
    "forks_url": "/forks",
    "keys_url": "/keys{/key_id}",
    "collaborators_url": "/collaborators{/collaborator}",
    "teams_url": "/teams",
    "hooks_url": "/hooks",
    "issue_events_url": "/issues/events{/number}",
    "events_url": "/events",
    "assignees_url": "/assignees{/user}",
    "branches_url": "/branches{/branch}",
    "tags_url": "/tags",
    "blobs_url": "/git/blobs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "trees_url": "/git/trees{/sha}",
    "statuses_url": "/statuses/{sha}",
    "languages_url": "/languages",
    "stargazers_url": "/stargazers",
    "contributors_url": "/contributors",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "commits_url": "/commits{/sha}",
    "git_commits_url": "/git/commits{/sha}",
    "comments_url": "/comments{/number}",
    "issue_comment_url": "/issues/comments{/number}",
    "contents_url": "/contents/{+path}",
    "compare_url": "/compare/{base}...{head}",
    "merges_url": "/merges",
    "archive_url": "/{archive_format}{/ref}",
    "downloads_url": "/downloads",
    "issues_url": "/issues{/number}",
    "pulls_url": "/pulls{/number}",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "labels_url": "/labels{/name}",
    "releases_url": "/releases{/id}",
    "deployments_url": "/deployments",
}

WEBHOOK_REPO_KEYS = (
    "id",
    "node_id",
    "name",
    "full_name",
    "private",
    "owner",
    "html_url",
    "description",
    "fork",
    "url",
    *_REPO_URL_TEMPLATES,
    "created_at",
    "updated_at",
    "pushed_at",
    "git_url",
    "ssh_url",
    "clone_url",
    "svn_url",
    "homepage",
    "size",
    "stargazers_count",
    "watchers_count",
    "language",
    "has_issues",
    "has_projects",
    "has_downloads",
    "has_wiki",
    "has_pages",
    "has_discussions",
    "forks_count",
    "mirror_url",
    "archived",
    "disabled",
    "open_issues_count",
    "license",
    "forks",
    "open_issues",
    "watchers",
    "default_branch",
    "allow_squash_merge",
    "allow_merge_commit",
    "allow_rebase_merge",
    "allow_auto_merge",
    "allow_forking",
    "is_template",
    "web_commit_signoff_required",
    "topics",
    "visibility",
    "delete_branch_on_merge",
    "permissions",
    "custom_properties",
)
WEBHOOK_SIMPLE_PULL_KEYS = (
    "url",
    "id",
    "node_id",
    "html_url",
    "diff_url",
    "patch_url",
    "issue_url",
    "number",
    "state",
    "locked",
    "title",
    "user",
    "body",
    "created_at",
    "updated_at",
    "closed_at",
    "merged_at",
    "merge_commit_sha",
    "assignee",
    "assignees",
    "requested_reviewers",
    "requested_teams",
    "labels",
    "milestone",
    "draft",
    "commits_url",
    "review_comments_url",
    "review_comment_url",
    "comments_url",
    "statuses_url",
    "head",
    "base",
    "_links",
    "author_association",
    "auto_merge",
    "active_lock_reason",
)
WEBHOOK_PULL_KEYS = (
    *WEBHOOK_SIMPLE_PULL_KEYS,
    "merged",
    "mergeable",
    "rebaseable",
    "mergeable_state",
    "merged_by",
    "comments",
    "review_comments",
    "maintainer_can_modify",
    "commits",
    "additions",
    "deletions",
    "changed_files",
)
WEBHOOK_REVIEW_STATES = {
    "APPROVED": "approved",
    "CHANGES_REQUESTED": "changes_requested",
    "COMMENTED": "commented",
    "DISMISSED": "dismissed",
}


# What this forge's repositories always say (no forks, stars, wikis or pages here).
REPO_CONSTANTS: Json = {
    "homepage": None,
    "size": 0,
    "stargazers_count": 0,
    "watchers_count": 0,
    "language": None,
    "has_issues": True,
    "has_projects": False,
    "has_downloads": True,
    "has_wiki": False,
    "has_pages": False,
    "has_discussions": False,
    "forks_count": 0,
    "mirror_url": None,
    "archived": False,
    "disabled": False,
    "license": None,
    "allow_forking": True,
    "is_template": False,
    "web_commit_signoff_required": False,
    "forks": 0,
    "watchers": 0,
    "allow_squash_merge": True,
    "allow_merge_commit": True,
    "allow_rebase_merge": False,
    "allow_auto_merge": False,
    "delete_branch_on_merge": False,
    "subscribers_count": 0,
    "network_count": 0,
}


def permissions_json(perm: Perm) -> Json:
    return {
        "admin": perm >= Perm.ADMIN,
        "maintain": perm >= Perm.MAINTAIN,
        "push": perm >= Perm.WRITE,
        "triage": perm >= Perm.TRIAGE,
        "pull": perm >= Perm.READ,
    }


def ts(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def unix(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1)).total_seconds())


def node_id(kind: str, ident: int | str) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


def link(href: str) -> Json:
    return {"href": href}


def project(obj: Json, keys: tuple[str, ...]) -> Json:
    return {k: obj[k] for k in keys if k in obj}


class Renderer:
    """Renders objects of one session; `api` and `html` are the forge's public URLs."""

    def __init__(self, forge: Forge, session: Session) -> None:
        self.forge = forge
        self.session = session
        self.api = forge.api_url
        self.html = forge.base_url
        self._users: dict[int, User] = {}
        # Webhooks wait here until the session commits: the dispatcher writes in its own transaction.
        self._after_commit: list[Callable[[], object]] = []

    def queue_event(self, repo_id: int, event: str, payload: Json, hook_ids: list[int] | None = None) -> None:
        self.after_commit(lambda: self.forge.hooks.emit(repo_id, event, payload, hook_ids=hook_ids))

    def after_commit(self, action: Callable[[], object]) -> None:
        self._after_commit.append(action)

    def flush_events(self) -> None:
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()

    def get_user(self, user_id: int) -> User:
        user = self._users.get(user_id) or self.session.get(User, user_id)
        assert user is not None
        self._users[user_id] = user
        return user

    def user(self, user: User | int | None) -> Json | None:
        if user is None:
            return None
        if isinstance(user, int):
            user = self.get_user(user)
        base = f"{self.api}/users/{user.login}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": node_id("User", user.id),
            "avatar_url": f"{self.html}/avatars/{user.login}",
            "gravatar_id": "",
            "url": base,
            "html_url": f"{self.html}/{user.login}",
            "followers_url": f"{base}/followers",
            "following_url": f"{base}/following{{/other_user}}",
            "gists_url": f"{base}/gists{{/gist_id}}",
            "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{base}/subscriptions",
            "organizations_url": f"{base}/orgs",
            "repos_url": f"{base}/repos",
            "events_url": f"{base}/events{{/privacy}}",
            "received_events_url": f"{base}/received_events",
            "type": "Bot" if user.login.endswith("[bot]") else "User",
            "site_admin": user.site_admin,
        }

    def private_user(self, user: User) -> Json:
        data = self.user(user)
        assert data is not None
        stamp = ts(user.created_at)
        data.update(
            {
                "name": user.name,
                "company": None,
                "blog": "",
                "location": None,
                "email": user.email,
                "hireable": None,
                "bio": None,
                "twitter_username": None,
                "public_repos": 0,
                "public_gists": 0,
                "followers": 0,
                "following": 0,
                "created_at": stamp,
                "updated_at": stamp,
                "private_gists": 0,
                "total_private_repos": 0,
                "owned_private_repos": 0,
                "disk_usage": 0,
                "collaborators": 0,
                "two_factor_authentication": False,
            }
        )
        return data

    def repo(self, repo: Repo, *, viewer: User | None = None) -> Json:
        owner = self.get_user(repo.owner_id)
        full = f"{owner.login}/{repo.name}"
        api, html = f"{self.api}/repos/{full}", f"{self.html}/{full}"
        open_issues = self._open_issues(repo)
        data: Json = {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": full,
            "private": repo.private,
            "owner": self.user(owner),
            "html_url": html,
            "description": repo.description,
            "fork": False,
            "url": api,
        }
        data.update({key: api + suffix for key, suffix in _REPO_URL_TEMPLATES.items()})
        host = self.html.split("://", 1)[-1]
        data.update(
            {
                "created_at": ts(repo.created_at),
                "updated_at": ts(repo.updated_at),
                "pushed_at": ts(repo.pushed_at),
                "git_url": f"git://{host}/{full}.git",
                "ssh_url": f"git@{host}:{full}.git",
                "clone_url": f"{html}.git",
                "svn_url": html,
                "open_issues_count": open_issues,
                "open_issues": open_issues,
                "visibility": "private" if repo.private else "public",
                "topics": [],
                "custom_properties": {},
                "default_branch": repo.default_branch,
            }
        )
        data.update(REPO_CONSTANTS)
        if viewer is not None:
            perm = self.forge.permission(self.session, viewer, repo)
            data["permissions"] = permissions_json(perm)
        return data

    def hook_repo(self, repo: Repo, *, unix_times: bool = False) -> Json:
        data = project(self.repo(repo), WEBHOOK_REPO_KEYS)
        if unix_times:  # push payloads carry these two as Unix times, as GitHub's do
            data["created_at"], data["pushed_at"] = unix(repo.created_at), unix(repo.pushed_at)
        return data

    def _open_issues(self, repo: Repo) -> int:
        rows = self.session.scalars(select(Issue.id).where(Issue.repo_id == repo.id, Issue.state == "open"))
        return len(rows.all())

    def full_name(self, repo: Repo) -> str:
        return f"{self.get_user(repo.owner_id).login}/{repo.name}"

    def label(self, label: Label) -> Json:
        return {
            "id": label.id,
            "node_id": node_id("Label", label.id),
            "url": f"{self.api}/repos/{self.full_name(self.repo_of(label.repo_id))}/labels/{label.name}",
            "name": label.name,
            "description": label.description,
            "color": label.color,
            "default": False,
        }

    def repo_of(self, repo_id: int) -> Repo:
        repo = self.session.get(Repo, repo_id)
        assert repo is not None
        return repo

    def labels_of(self, issue: Issue) -> list[Json]:
        rows = self.session.scalars(
            select(Label)
            .join(IssueLabel, IssueLabel.label_id == Label.id)
            .where(IssueLabel.issue_id == issue.id)
            .order_by(Label.name)
        )
        return [self.label(label) for label in rows]

    def association(self, repo: Repo, user_id: int) -> str:
        if user_id == repo.owner_id:
            return "OWNER"
        perm = self.forge.permission(self.session, self.get_user(user_id), repo)
        return "COLLABORATOR" if perm >= Perm.READ and repo.private or perm >= Perm.TRIAGE else "NONE"

    def reactions(self, url: str) -> Json:
        return {
            "url": f"{url}/reactions",
            "total_count": 0,
            "+1": 0,
            "-1": 0,
            "laugh": 0,
            "hooray": 0,
            "confused": 0,
            "heart": 0,
            "rocket": 0,
            "eyes": 0,
        }

    def issue(self, issue: Issue) -> Json:
        repo = self.repo_of(issue.repo_id)
        full = self.full_name(repo)
        api = f"{self.api}/repos/{full}/issues/{issue.number}"
        comments = self.session.scalars(select(Comment.id).where(Comment.issue_id == issue.id)).all()
        data: Json = {
            "url": api,
            "repository_url": f"{self.api}/repos/{full}",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"{self.html}/{full}/{'pull' if issue.is_pull else 'issues'}/{issue.number}",
            "id": issue.id,
            "node_id": node_id("Issue", issue.id),
            "number": issue.number,
            "title": issue.title,
            "user": self.user(issue.user_id),
            "labels": self.labels_of(issue),
            "state": issue.state,
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": len(comments),
            "created_at": ts(issue.created_at),
            "updated_at": ts(issue.updated_at),
            "closed_at": ts(issue.closed_at),
            "author_association": self.association(repo, issue.user_id),
            "active_lock_reason": None,
            "body": issue.body,
            "reactions": self.reactions(api),
            "timeline_url": f"{api}/timeline",
            "performed_via_github_app": None,
            "state_reason": "completed" if issue.state == "closed" else None,
        }
        if issue.is_pull:
            pull = self.session.scalar(select(Pull).where(Pull.issue_id == issue.id))
            pull_html = f"{self.html}/{full}/pull/{issue.number}"
            data["pull_request"] = {
                "url": f"{self.api}/repos/{full}/pulls/{issue.number}",
                "html_url": pull_html,
                "diff_url": f"{pull_html}.diff",
                "patch_url": f"{pull_html}.patch",
                "merged_at": ts(pull.merged_at) if pull else None,
            }
            data["draft"] = bool(pull and pull.draft)
        return data

    def comment(self, comment: Comment) -> Json:
        issue = self.session.get(Issue, comment.issue_id)
        assert issue is not None
        repo = self.repo_of(issue.repo_id)
        full = self.full_name(repo)
        api = f"{self.api}/repos/{full}/issues/comments/{comment.id}"
        kind = "pull" if issue.is_pull else "issues"
        return {
            "url": api,
            "html_url": f"{self.html}/{full}/{kind}/{issue.number}#issuecomment-{comment.id}",
            "issue_url": f"{self.api}/repos/{full}/issues/{issue.number}",
            "id": comment.id,
            "node_id": node_id("IssueComment", comment.id),
            "user": self.user(comment.user_id),
            "created_at": ts(comment.created_at),
            "updated_at": ts(comment.updated_at),
            "author_association": self.association(repo, comment.user_id),
            "body": comment.body,
            "reactions": self.reactions(api),
            "performed_via_github_app": None,
        }

    def status(self, status: Status) -> Json:
        # The REST description types both as strings; the status webhook keeps them null when unset.
        full = self.full_name(self.repo_of(status.repo_id))
        return {
            "url": f"{self.api}/repos/{full}/statuses/{status.sha}",
            "avatar_url": None,
            "id": status.id,
            "node_id": node_id("StatusContext", status.id),
            "state": status.state,
            "description": status.description or "",
            "target_url": status.target_url or "",
            "context": status.context,
            "created_at": ts(status.created_at),
            "updated_at": ts(status.created_at),
            "creator": self.user(status.creator_id),
        }

    def deployment(self, deployment: Deployment) -> Json:
        full = self.full_name(self.repo_of(deployment.repo_id))
        api = f"{self.api}/repos/{full}/deployments/{deployment.id}"
        return {
            "url": api,
            "id": deployment.id,
            "node_id": node_id("Deployment", deployment.id),
            "sha": deployment.sha,
            "ref": deployment.ref,
            "task": deployment.task,
            "payload": deployment.payload,
            "original_environment": deployment.environment,
            "environment": deployment.environment,
            "description": deployment.description,
            "creator": self.user(deployment.creator_id),
            "created_at": ts(deployment.created_at),
            "updated_at": ts(deployment.updated_at),
            "statuses_url": f"{api}/statuses",
            "repository_url": f"{self.api}/repos/{full}",
            "transient_environment": deployment.transient_environment,
            "production_environment": deployment.production_environment,
            "performed_via_github_app": None,
        }

    def deployment_status(self, status: DeploymentStatus, deployment: Deployment) -> Json:
        full = self.full_name(self.repo_of(deployment.repo_id))
        api = f"{self.api}/repos/{full}/deployments/{deployment.id}"
        data: Json = {
            "url": f"{api}/statuses/{status.id}",
            "id": status.id,
            "node_id": node_id("DeploymentStatus", status.id),
            "state": status.state,
            "creator": self.user(status.creator_id),
            "description": status.description,
            "environment": status.environment,
            "target_url": status.target_url,
            "created_at": ts(status.created_at),
            "updated_at": ts(status.created_at),
            "deployment_url": api,
            "repository_url": f"{self.api}/repos/{full}",
            "log_url": status.log_url or status.target_url,
            "performed_via_github_app": None,
        }
        if status.environment_url:  # GitHub omits it when unset
            data["environment_url"] = status.environment_url
        return data

    def hook(self, hook: Hook) -> Json:
        full = self.full_name(self.repo_of(hook.repo_id))
        api = f"{self.api}/repos/{full}/hooks/{hook.id}"
        config: Json = {"content_type": hook.content_type, "insecure_ssl": hook.insecure_ssl, "url": hook.url}
        if hook.secret:
            config["secret"] = "********"  # GitHub never returns a hook's secret
        return {
            "type": "Repository",
            "id": hook.id,
            "name": "web",
            "active": hook.active,
            "events": hook.events,
            "config": config,
            "updated_at": ts(hook.updated_at),
            "created_at": ts(hook.created_at),
            "url": api,
            "test_url": f"{api}/test",
            "ping_url": f"{api}/pings",
            "deliveries_url": f"{api}/deliveries",
            "last_response": {
                "code": hook.last_code,
                "status": hook.last_status,
                "message": hook.last_message,
            },
        }

    def review(self, review: Review, pull: Pull, issue: Issue) -> Json:
        repo = self.repo_of(issue.repo_id)
        full = self.full_name(repo)
        html = f"{self.html}/{full}/pull/{issue.number}"
        api = f"{self.api}/repos/{full}/pulls/{issue.number}"
        return {
            "id": review.id,
            "node_id": node_id("PullRequestReview", review.id),
            "user": self.user(review.user_id),
            "body": review.body,
            "state": review.state,
            "html_url": f"{html}#pullrequestreview-{review.id}",
            "pull_request_url": api,
            "_links": {"html": link(f"{html}#pullrequestreview-{review.id}"), "pull_request": link(api)},
            "submitted_at": ts(review.submitted_at),
            "commit_id": review.commit_id,
            "author_association": self.association(repo, review.user_id),
        }

    def hook_review(self, review: Review, pull: Pull, issue: Issue) -> Json:
        data = self.review(review, pull, issue)
        data["state"] = WEBHOOK_REVIEW_STATES.get(review.state, review.state.lower())
        return data

    def git_person(self, person: Person) -> Json:
        return {"name": person.name, "email": person.email, "date": _iso_z(person.date)}

    def commit(self, repo: Repo, info: CommitInfo) -> Json:
        """The REST `commit` object (commits API, branches, compare)."""
        full = self.full_name(repo)
        api = f"{self.api}/repos/{full}"
        return {
            "url": f"{api}/commits/{info.sha}",
            "sha": info.sha,
            "node_id": node_id("Commit", info.sha),
            "html_url": f"{self.html}/{full}/commit/{info.sha}",
            "comments_url": f"{api}/commits/{info.sha}/comments",
            "commit": {
                "url": f"{api}/git/commits/{info.sha}",
                "author": self.git_person(info.author),
                "committer": self.git_person(info.committer),
                "message": info.message.rstrip("\n"),
                "comment_count": 0,
                "tree": {"sha": info.tree, "url": f"{api}/git/trees/{info.tree}"},
                "verification": {"verified": False, "reason": "unsigned", "payload": None, "signature": None},
            },
            "author": self.user_by_email(info.author.email),
            "committer": self.user_by_email(info.committer.email),
            "parents": [
                {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{self.html}/{full}/commit/{p}"}
                for p in info.parents
            ],
        }

    def user_by_email(self, email: str) -> Json | None:
        user = self.session.scalar(select(User).where(User.email == email))
        return self.user(user) if user is not None else None


def _iso_z(value: str) -> str:
    """git's strict ISO dates end in +00:00; GitHub writes UTC with Z."""
    if not value:
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
