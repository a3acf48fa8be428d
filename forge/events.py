"""Webhook payloads, built as GitHub builds them, and handed to the dispatcher.

Every function here takes the session of the change that caused the event and returns at once: the
dispatcher records and queues the deliveries, and sends them in the background.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from forge.git import ZERO_SHA, BareRepo, CommitInfo
from forge.models import Deployment, DeploymentStatus, Hook, Issue, Pull, Repo, Review, Status, User, utcnow
from forge.pulls import PullRenderer
from forge.render import Json, Renderer, ts
from forge.webhooks import subscribed

MAX_PUSH_COMMITS = 20
ZEN = (
    "Design for failure.",
    "Keep it logically awesome.",
    "Practicality beats purity.",
    "Speak like a human.",
    "Anything added dilutes everything else.",
)


@dataclass(frozen=True)
class RefUpdate:
    ref: str
    before: str
    after: str


def envelope(r: Renderer, repo: Repo, sender: User | int, **fields: object) -> Json:
    return {**fields, "repository": r.hook_repo(repo), "sender": r.user(sender)}


def emit(r: Renderer, repo: Repo, event: str, payload: Json) -> None:
    r.queue_event(repo.id, event, payload)


def wanted(r: Renderer, repo: Repo, event: str) -> bool:
    """Whether any active hook of the repository takes `event`: payloads are only built when one does."""
    hooks = r.session.scalars(select(Hook).where(Hook.repo_id == repo.id, Hook.active.is_(True))).all()
    return any(subscribed(hook, event) for hook in hooks)


def ping(r: Renderer, repo: Repo, hook: Hook, sender: User) -> None:
    data = r.hook(hook)
    data.pop("test_url", None)
    data["last_response"] = {"code": None, "status": "unused", "message": None}
    payload = {
        "zen": random.choice(ZEN),
        "hook_id": hook.id,
        "hook": data,
        "repository": r.hook_repo(repo),
        "sender": r.user(sender),
    }
    r.queue_event(repo.id, "ping", payload, hook_ids=[hook.id])


def pull_request(
    r: Renderer, repo: Repo, pull: Pull, issue: Issue, action: str, sender: User | int, **extra: object
) -> None:
    if not wanted(r, repo, "pull_request"):
        return
    payload = {
        "action": action,
        "number": issue.number,
        **extra,
        "pull_request": PullRenderer(r).hook_full(pull, issue, repo),
    }
    emit(r, repo, "pull_request", envelope(r, repo, sender, **payload))


def review(r: Renderer, repo: Repo, pull: Pull, issue: Issue, rv: Review, action: str, sender: User) -> None:
    if not wanted(r, repo, "pull_request_review"):
        return
    payload = {
        "action": action,
        "review": r.hook_review(rv, pull, issue),
        "pull_request": PullRenderer(r).hook_simple(pull, issue, repo),
    }
    emit(r, repo, "pull_request_review", envelope(r, repo, sender, **payload))


def issue_comment(
    r: Renderer,
    repo: Repo,
    issue: Issue,
    comment_json: Json,
    sender: User,
    *,
    action: str = "created",
    previous: str | None = None,
) -> None:
    """`created`, or `edited` with the body it had before (GitHub's `changes.body.from`)."""
    if not wanted(r, repo, "issue_comment"):
        return
    payload: Json = {"action": action, "issue": r.issue(issue), "comment": comment_json}
    if previous is not None:
        payload["changes"] = {"body": {"from": previous}}
    emit(r, repo, "issue_comment", envelope(r, repo, sender, **payload))


def issue_opened(r: Renderer, repo: Repo, issue: Issue, sender: User) -> None:
    if not wanted(r, repo, "issues"):
        return
    emit(r, repo, "issues", envelope(r, repo, sender, action="opened", issue=r.issue(issue)))


def status(
    r: Renderer, repo: Repo, st: Status, commit_json: Json, branches: list[Json], sender: User
) -> None:
    if not wanted(r, repo, "status"):
        return
    payload = {
        "id": st.id,
        "sha": st.sha,
        "name": r.full_name(repo),
        "target_url": st.target_url,
        "context": st.context,
        "description": st.description,
        "state": st.state,
        "commit": commit_json,
        "branches": branches,
        "created_at": ts(st.created_at),
        "updated_at": ts(st.created_at),
    }
    emit(r, repo, "status", envelope(r, repo, sender, **payload))


def deployment(r: Renderer, repo: Repo, dep: Deployment, sender: User) -> None:
    if not wanted(r, repo, "deployment"):
        return
    payload = {"action": "created", "deployment": r.deployment(dep), "workflow": None, "workflow_run": None}
    emit(r, repo, "deployment", envelope(r, repo, sender, **payload))


def deployment_status(r: Renderer, repo: Repo, dep: Deployment, ds: DeploymentStatus, sender: User) -> None:
    if not wanted(r, repo, "deployment_status"):
        return
    payload = {
        "action": "created",
        "deployment_status": r.deployment_status(ds, dep),
        "deployment": r.deployment(dep),
    }
    emit(r, repo, "deployment_status", envelope(r, repo, sender, **payload))


def push(r: Renderer, repo: Repo, bare: BareRepo, update: RefUpdate, pusher: User, known: list[str]) -> None:
    """A `push` event for one ref; `known` are the tips of the repository's other refs before the push."""
    if not wanted(r, repo, "push"):
        return
    full = r.full_name(repo)
    created, deleted = update.before == ZERO_SHA, update.after == ZERO_SHA
    commits: list[CommitInfo] = []
    if not deleted:
        revs = [f"{update.before}..{update.after}"] if not created else [update.after, "--not", *known]
        commits = bare.log(*revs, max_count=MAX_PUSH_COMMITS, reverse=False)[::-1] if revs else []
    head = (
        None
        if deleted
        else (commits[-1] if commits and commits[-1].sha == update.after else bare.commit_info(update.after))
    )
    forced = not created and not deleted and not bare.is_ancestor(update.before, update.after)
    compare = (
        f"{r.html}/{full}/compare/{update.before[:12]}...{update.after[:12]}"
        if not created
        else f"{r.html}/{full}/commit/{update.after[:12]}"
    )
    payload = {
        "ref": update.ref,
        "before": update.before,
        "after": update.after,
        "created": created,
        "deleted": deleted,
        "forced": forced,
        "base_ref": None,
        "compare": compare,
        "commits": [push_commit(r, full, bare, c) for c in commits],
        "head_commit": push_commit(r, full, bare, head) if head else None,
        "repository": r.hook_repo(repo, unix_times=True),
        "pusher": {"name": pusher.login, "email": pusher.email},
        "sender": r.user(pusher),
    }
    emit(r, repo, "push", payload)


def push_commit(r: Renderer, full: str, bare: BareRepo, commit: CommitInfo) -> Json:
    changes = bare.changes(commit.parents[0] if commit.parents else None, commit.sha, with_counts=False)
    return {
        "id": commit.sha,
        "tree_id": commit.tree,
        "distinct": True,
        "message": commit.message.rstrip("\n"),
        "timestamp": commit.author.date,
        "url": f"{r.html}/{full}/commit/{commit.sha}",
        "author": _person(r.session, commit.author.name, commit.author.email),
        "committer": _person(r.session, commit.committer.name, commit.committer.email),
        "added": [c.path for c in changes if c.status == "added"],
        "modified": [c.path for c in changes if c.status not in {"added", "removed"}],
        "removed": [c.path for c in changes if c.status == "removed"],
    }


def _person(session: Session, name: str, email: str) -> Json:
    person: Json = {"name": name, "email": email}
    user = session.scalar(select(User).where(User.email == email))
    if user is not None:
        person["username"] = user.login
    return person


def touch_pushed(repo: Repo) -> None:
    repo.pushed_at = repo.updated_at = utcnow()
