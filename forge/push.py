"""What a push changes beyond git: the repository's pushed_at, open pull requests, and the events."""

from __future__ import annotations

from sqlalchemy import select

from forge import events
from forge.core import Forge
from forge.events import RefUpdate
from forge.git import ZERO_SHA
from forge.models import Issue, Pull, Repo, User, utcnow
from forge.render import Renderer

EVENT_PREFIXES = ("refs/heads/", "refs/tags/")


def ref_updates(before: dict[str, str], after: dict[str, str]) -> list[RefUpdate]:
    """The branch and tag changes between two snapshots of a repository's refs."""
    names = sorted(set(before) | set(after))
    return [
        RefUpdate(name, before.get(name, ZERO_SHA), after.get(name, ZERO_SHA))
        for name in names
        if name.startswith(EVENT_PREFIXES) and before.get(name) != after.get(name)
    ]


def record_push(
    forge: Forge, repo_id: int, pusher_id: int, before: dict[str, str], after: dict[str, str]
) -> None:
    """Emit `push` per changed ref, then `synchronize` for each open PR whose head branch moved."""
    updates = ref_updates(before, after)
    if not updates:
        return
    with forge.db.session() as session:
        repo = session.get(Repo, repo_id)
        pusher = session.get(User, pusher_id)
        if repo is None or pusher is None:
            return
        events.touch_pushed(repo)
        r = Renderer(forge, session)
        emit_push_events(r, repo, pusher, updates, before)
    r.flush_events()


def emit_push_events(
    r: Renderer,
    repo: Repo,
    pusher: User,
    updates: list[RefUpdate],
    before: dict[str, str],
    *,
    detect_merges: bool = True,
) -> None:
    """`push` per ref; `synchronize` for PRs whose head moved; PRs whose head reached their base by this
    push are merged, as GitHub marks them (not for the merge API's own push: it records its merge)."""
    bare = r.forge.bare(r.session, repo)
    for update in updates:
        known = [sha for name, sha in before.items() if name != update.ref]
        events.push(r, repo, bare, update, pusher, known)
    for update in updates:
        if update.ref.startswith("refs/heads/") and update.after != ZERO_SHA:
            sync_pulls(r, repo, update, pusher)
            if detect_merges:
                close_merged(r, repo, update, pusher)


def close_merged(r: Renderer, repo: Repo, update: RefUpdate, pusher: User) -> None:
    branch = update.ref.removeprefix("refs/heads/")
    rows = r.session.execute(
        select(Pull, Issue)
        .join(Issue, Issue.id == Pull.issue_id)
        .where(Issue.repo_id == repo.id, Issue.state == "open", Pull.base_ref == branch)
    ).all()
    bare = r.forge.bare(r.session, repo)
    for pull, issue in rows:
        if not bare.is_ancestor(pull.head_sha, update.after):
            continue
        pull.merged_at = issue.closed_at = issue.updated_at = utcnow()
        pull.merge_commit_sha, pull.merged_by_id, issue.state = update.after, pusher.id, "closed"
        r.session.flush()
        events.pull_request(r, repo, pull, issue, "closed", pusher)


def sync_pulls(r: Renderer, repo: Repo, update: RefUpdate, pusher: User) -> None:
    branch = update.ref.removeprefix("refs/heads/")
    rows = r.session.execute(
        select(Pull, Issue)
        .join(Issue, Issue.id == Pull.issue_id)
        .where(Issue.repo_id == repo.id, Issue.state == "open", Pull.head_ref == branch)
    ).all()
    bare = r.forge.bare(r.session, repo)
    for pull, issue in rows:
        if pull.head_sha == update.after:
            continue
        before = pull.head_sha
        pull.head_sha = update.after
        issue.updated_at = utcnow()
        bare.update_ref(f"refs/pull/{issue.number}/head", update.after)
        r.session.flush()
        events.pull_request(r, repo, pull, issue, "synchronize", pusher, before=before, after=update.after)
