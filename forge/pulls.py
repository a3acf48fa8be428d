"""Pull requests: their git facts (mergeability, size), their JSON shape, branch protection and merging."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forge.core import Perm
from forge.errors import Conflict, NotAllowed
from forge.git import BareRepo, FileChange
from forge.models import CheckRun, Comment, Issue, Protection, Pull, Repo, Review, Status, User
from forge.render import (
    WEBHOOK_PULL_KEYS,
    WEBHOOK_REPO_KEYS,
    WEBHOOK_SIMPLE_PULL_KEYS,
    Json,
    Renderer,
    link,
    node_id,
    project,
    ts,
)

MSG_NOT_MERGEABLE = "Pull Request is not mergeable"
MSG_HEAD_MODIFIED = "Head branch was modified. Review and try the merge again."
MSG_BASE_MODIFIED = "Base branch was modified. Review and try the merge again."
MSG_MERGED = "Pull Request successfully merged"
MSG_REBASE = "Rebase merges are not allowed on this repository."
MSG_APPROVALS = "At least {n} approving review{s} is required by reviewers with write access."
MSG_CHANGES_REQUESTED = "Changes were requested by reviewers with write access."
MSG_CONTEXT_MISSING = 'Required status check "{context}" is expected.'
MSG_CONTEXT_FAILING = 'Required status check "{context}" is failing.'


@dataclass(frozen=True)
class PullFacts:
    """What git says about head against base; immutable for a pair of commit SHAs, hence cached."""

    mergeable: bool
    commits: int
    additions: int
    deletions: int
    changed_files: int


@lru_cache(maxsize=2048)
def pull_facts(repo_path: Path, base_sha: str, head_sha: str) -> PullFacts:
    bare = BareRepo(repo_path)
    # Three git processes at once: a new PR's first render is on the request path. `base...head` diffs
    # from their merge base, as GitHub's PR size does.
    with ThreadPoolExecutor(max_workers=3) as pool:
        merged_tree = pool.submit(bare.merge_tree, base_sha, head_sha)
        commits = pool.submit(bare.count, f"{base_sha}..{head_sha}")
        files, additions, deletions = bare.shortstat(f"{base_sha}...{head_sha}")
        return PullFacts(
            mergeable=merged_tree.result() is not None,
            commits=commits.result(),
            additions=additions,
            deletions=deletions,
            changed_files=files,
        )


def pull_files(bare: BareRepo, base_sha: str, head_sha: str) -> list[FileChange]:
    merge_base = bare.merge_base(base_sha, head_sha)
    return bare.changes(merge_base, head_sha, with_patch=True) if merge_base else []


def protection_problem(session: Session, r: Renderer, repo: Repo, pull: Pull, issue: Issue) -> str | None:
    """Why branch protection refuses to merge this PR now, in GitHub's words; None when it allows it."""
    rule = session.get(Protection, (repo.id, pull.base_ref))
    if rule is None:
        return None
    if rule.required_approvals:
        approvals, changes_requested = _review_tally(session, r, repo, pull, issue)
        if changes_requested:
            return MSG_CHANGES_REQUESTED
        if approvals < rule.required_approvals:
            n = rule.required_approvals
            return MSG_APPROVALS.format(n=n, s="s" if n > 1 else "")
    for context in rule.required_contexts:
        state = _context_state(session, repo.id, pull.head_sha, context)
        if state is None or state == "pending":
            return MSG_CONTEXT_MISSING.format(context=context)
        if state != "success":
            return MSG_CONTEXT_FAILING.format(context=context)
    return None


def _review_tally(session: Session, r: Renderer, repo: Repo, pull: Pull, issue: Issue) -> tuple[int, bool]:
    """Approvals on the current head by writers other than the author; any standing change request."""
    latest: dict[int, Review] = {}
    reviews = session.scalars(select(Review).where(Review.pull_id == pull.id).order_by(Review.id))
    for review in reviews:
        if review.state in {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}:
            latest[review.user_id] = review
    approvals, changes_requested = 0, False
    for user_id, review in latest.items():
        if user_id == issue.user_id:
            continue
        if r.forge.permission(session, r.get_user(user_id), repo) < Perm.WRITE:
            continue
        if review.state == "CHANGES_REQUESTED":
            changes_requested = True
        elif review.state == "APPROVED" and review.commit_id == pull.head_sha:
            approvals += 1
    return approvals, changes_requested


def _context_state(session: Session, repo_id: int, sha: str, context: str) -> str | None:
    status = session.scalar(
        select(Status)
        .where(Status.repo_id == repo_id, Status.sha == sha, Status.context == context)
        .order_by(Status.id.desc())
        .limit(1)
    )
    if status is not None:
        return status.state
    run = session.scalar(
        select(CheckRun)
        .where(CheckRun.repo_id == repo_id, CheckRun.head_sha == sha, CheckRun.name == context)
        .order_by(CheckRun.id.desc())
        .limit(1)
    )
    if run is None:
        return None
    if run.status != "completed":
        return "pending"
    return "success" if run.conclusion in {"success", "neutral", "skipped"} else "failure"


class PullRenderer:
    """The REST and webhook shapes of a pull request (git facts included)."""

    def __init__(self, r: Renderer) -> None:
        self.r = r

    def base_sha(self, bare: BareRepo, pull: Pull) -> str:
        if pull.merged_at is not None:
            parent = bare.resolve(f"{pull.merge_commit_sha}^1") if pull.merge_commit_sha else None
            return parent or pull.head_sha
        return bare.branch_sha(pull.base_ref) or pull.head_sha

    def simple(self, pull: Pull, issue: Issue, repo: Repo) -> Json:
        r = self.r
        full = r.full_name(repo)
        bare = r.forge.bare(r.session, repo)
        api = f"{r.api}/repos/{full}/pulls/{issue.number}"
        issue_api = f"{r.api}/repos/{full}/issues/{issue.number}"
        html = f"{r.html}/{full}/pull/{issue.number}"
        owner = r.get_user(repo.owner_id)
        repo_json = r.repo(repo)
        side = {"user": r.user(owner), "repo": repo_json}
        return {
            "url": api,
            "id": pull.id,
            "node_id": node_id("PullRequest", pull.id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue_api,
            "commits_url": f"{api}/commits",
            "review_comments_url": f"{api}/comments",
            "review_comment_url": f"{r.api}/repos/{full}/pulls/comments{{/number}}",
            "comments_url": f"{issue_api}/comments",
            "statuses_url": f"{r.api}/repos/{full}/statuses/{pull.head_sha}",
            "number": issue.number,
            "state": issue.state,
            "locked": False,
            "title": issue.title,
            "user": r.user(issue.user_id),
            "body": issue.body,
            "labels": r.labels_of(issue),
            "milestone": None,
            "active_lock_reason": None,
            "created_at": ts(issue.created_at),
            "updated_at": ts(issue.updated_at),
            "closed_at": ts(issue.closed_at),
            "merged_at": ts(pull.merged_at),
            "merge_commit_sha": pull.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": {
                "label": f"{owner.login}:{pull.head_ref}",
                "ref": pull.head_ref,
                "sha": pull.head_sha,
                **side,
            },
            "base": {
                "label": f"{owner.login}:{pull.base_ref}",
                "ref": pull.base_ref,
                "sha": self.base_sha(bare, pull),
                **side,
            },
            "_links": _links(r.api, full, api, html, issue_api, pull.head_sha),
            "author_association": r.association(repo, issue.user_id),
            "auto_merge": None,
            "draft": pull.draft,
        }

    def full(self, pull: Pull, issue: Issue, repo: Repo) -> Json:
        r = self.r
        data = self.simple(pull, issue, repo)
        bare = r.forge.bare(r.session, repo)
        facts = pull_facts(bare.path, data["base"]["sha"], pull.head_sha)
        comments = r.session.scalars(select(Comment.id).where(Comment.issue_id == issue.id)).all()
        open_pull = issue.state == "open"
        mergeable: bool | None = facts.mergeable if open_pull else None
        data.update(
            {
                "merged": pull.merged_at is not None,
                "mergeable": mergeable,
                "rebaseable": mergeable,
                "mergeable_state": self._mergeable_state(pull, issue, repo, facts)
                if open_pull
                else "unknown",
                "merged_by": r.user(pull.merged_by_id),
                "comments": len(comments),
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": facts.commits,
                "additions": facts.additions,
                "deletions": facts.deletions,
                "changed_files": facts.changed_files,
            }
        )
        return data

    def _mergeable_state(self, pull: Pull, issue: Issue, repo: Repo, facts: PullFacts) -> str:
        if not facts.mergeable:
            return "dirty"
        if protection_problem(self.r.session, self.r, repo, pull, issue):
            return "blocked"
        return "clean"

    def hook_full(self, pull: Pull, issue: Issue, repo: Repo) -> Json:
        return self._hook(self.full(pull, issue, repo), WEBHOOK_PULL_KEYS)

    def hook_simple(self, pull: Pull, issue: Issue, repo: Repo) -> Json:
        return self._hook(self.simple(pull, issue, repo), WEBHOOK_SIMPLE_PULL_KEYS)

    @staticmethod
    def _hook(data: Json, keys: tuple[str, ...]) -> Json:
        data = project(data, keys)
        for side in ("head", "base"):
            data[side] = dict(data[side], repo=project(data[side]["repo"], WEBHOOK_REPO_KEYS))
        return data


def _links(api_root: str, full: str, api: str, html: str, issue_api: str, head_sha: str) -> Json:
    return {
        "self": link(api),
        "html": link(html),
        "issue": link(issue_api),
        "comments": link(f"{issue_api}/comments"),
        "review_comments": link(f"{api}/comments"),
        "review_comment": link(f"{api_root}/repos/{full}/pulls/comments{{/number}}"),
        "commits": link(f"{api}/commits"),
        "statuses": link(f"{api_root}/repos/{full}/statuses/{head_sha}"),
    }


def find_pull(session: Session, repo: Repo, number: int) -> tuple[Pull, Issue] | None:
    issue = session.scalar(
        select(Issue).where(Issue.repo_id == repo.id, Issue.number == number, Issue.is_pull)
    )
    if issue is None:
        return None
    pull = session.scalar(select(Pull).where(Pull.issue_id == issue.id))
    return (pull, issue) if pull is not None else None


def check_mergeable(
    session: Session, r: Renderer, repo: Repo, pull: Pull, issue: Issue, *, sha: str | None, method: str
) -> None:
    """Raise GitHub's refusal (405 or 409) when this merge may not happen now."""
    if issue.state != "open" or pull.merged_at is not None:
        raise NotAllowed(MSG_NOT_MERGEABLE)
    if sha is not None and sha != pull.head_sha:
        raise Conflict(MSG_HEAD_MODIFIED)
    if method == "rebase":
        raise NotAllowed(MSG_REBASE)
    problem = protection_problem(session, r, repo, pull, issue)
    if problem:
        raise NotAllowed(problem)


def merge_message(
    pull: Pull, issue: Issue, owner: User, method: str, title: str | None, body: str | None
) -> str:
    if method == "squash":
        head = title or f"{issue.title} (#{issue.number})"
        return f"{head}\n\n{body}" if body else head
    head = title or f"Merge pull request #{issue.number} from {owner.login}/{pull.head_ref}"
    return f"{head}\n\n{body if body is not None else issue.title}"


def merge_result(sha: str) -> dict[str, Any]:
    return {"sha": sha, "merged": True, "message": MSG_MERGED}
