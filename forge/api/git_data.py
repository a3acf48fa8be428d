"""Git data over REST: refs, branches, commits, compare and the contents API (reads and commits)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from forge.api.common import Body, no_content, ok, paginate
from forge.api.deps import Ctx, CtxDep
from forge.core import Perm
from forge.errors import Conflict, Invalid, NotFound
from forge.events import RefUpdate
from forge.git import ZERO_SHA, BareRepo, Edit, FileChange, Person, TreeEntry
from forge.models import Protection, Repo, User
from forge.push import emit_push_events
from forge.render import Json, node_id

router = APIRouter(prefix="/repos/{owner}/{name}")

MAX_COMPARE_COMMITS = 250
MSG_PROTECTED = "Protected branch update failed for {ref}."
MSG_THROUGH_PULL = "Changes must be made through a pull request."
MSG_UNWRITABLE = "path {path} cannot be stored in a git repository"


class RefCreate(Body):
    ref: str
    sha: str


class RefUpdateBody(Body):
    sha: str
    force: bool = False


class Identity(Body):
    name: str
    email: str


class FileWrite(Body):
    message: str
    content: str
    sha: str | None = None
    branch: str | None = None
    committer: Identity | None = None
    author: Identity | None = None


class FileDelete(Body):
    message: str
    sha: str
    branch: str | None = None


def ref_json(ctx: Ctx, repo: Repo, ref: str, sha: str) -> Json:
    api = f"{ctx.r.api}/repos/{ctx.r.full_name(repo)}"
    return {
        "ref": ref,
        "node_id": node_id("Ref", ref),
        "url": f"{api}/git/{ref}",
        "object": {"type": "commit", "sha": sha, "url": f"{api}/git/commits/{sha}"},
    }


def move_ref(
    ctx: Ctx, repo: Repo, bare: BareRepo, ref: str, new: str, old: str | None, *, merge: bool = False
) -> None:
    """Update a ref only if it still has the value we read, then emit `push` as GitHub does.

    Protected branches (required reviews) move only by a merge, except for repository admins (GitHub's
    default, without "include administrators")."""
    if not merge and ref.removeprefix("refs/heads/") in ctx.forge.push_protected(ctx.session, repo, ctx.me()):
        raise Invalid(f"{MSG_PROTECTED.format(ref=ref)} {MSG_THROUGH_PULL}")
    before = bare.refs()
    expected = old if old is not None else ZERO_SHA
    if not (bare.delete_ref(ref, old) if new == ZERO_SHA else bare.update_ref(ref, new, expected)):
        raise Conflict(f"Reference cannot be updated: {ref} was modified concurrently")
    emit_push_events(ctx.r, repo, ctx.me(), [RefUpdate(ref, expected, new)], before, detect_merges=not merge)


def _full_ref(ref: str) -> str:
    ref = ref.strip("/")
    return ref if ref.startswith("refs/") else f"refs/{ref}"


@router.get("/git/ref/{ref:path}")
@router.get("/git/refs/{ref:path}")
def get_ref(ctx: CtxDep, owner: str, name: str, ref: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    full = _full_ref(ref)
    sha = ctx.forge.bare(ctx.session, repo).refs(full).get(full)
    if sha is None:
        raise NotFound()
    return ok(ref_json(ctx, repo, full, sha))


@router.post("/git/refs", status_code=201)
def create_ref(ctx: CtxDep, owner: str, name: str, body: RefCreate) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.WRITE)
    if not body.ref.startswith("refs/") or body.ref.count("/") < 2:
        raise Invalid(f"Reference name {body.ref!r} is not valid.")
    bare = ctx.forge.bare(ctx.session, repo)
    if bare.refs(body.ref).get(body.ref):
        raise Invalid("Reference already exists")
    sha = bare.resolve(body.sha) if len(body.sha) == 40 else None
    if sha is None:
        raise Invalid("Object does not exist")
    with ctx.forge.repo_lock(repo.id):
        move_ref(ctx, repo, bare, body.ref, sha, None)
    return ok(ref_json(ctx, repo, body.ref, sha), 201)


@router.patch("/git/refs/{ref:path}")
def update_ref(ctx: CtxDep, owner: str, name: str, ref: str, body: RefUpdateBody) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.WRITE)
    full = _full_ref(ref)
    bare = ctx.forge.bare(ctx.session, repo)
    with ctx.forge.repo_lock(repo.id):
        old = bare.refs(full).get(full)
        if old is None:
            raise Invalid("Reference does not exist")
        sha = bare.resolve(body.sha) if len(body.sha) == 40 else None
        if sha is None:
            raise Invalid("Object does not exist")
        if not body.force and not bare.is_ancestor(old, sha):
            raise Invalid("Update is not a fast forward")
        move_ref(ctx, repo, bare, full, sha, old)
    return ok(ref_json(ctx, repo, full, sha))


@router.delete("/git/refs/{ref:path}")
def delete_ref(ctx: CtxDep, owner: str, name: str, ref: str) -> Response:
    repo = ctx.repo(owner, name, Perm.WRITE)
    full = _full_ref(ref)
    bare = ctx.forge.bare(ctx.session, repo)
    with ctx.forge.repo_lock(repo.id):
        old = bare.refs(full).get(full)
        if old is None:
            raise Invalid("Reference does not exist")
        move_ref(ctx, repo, bare, full, ZERO_SHA, old)
    return no_content()


def protection_json(ctx: Ctx, repo: Repo, branch: str, rule: Protection | None) -> Json:
    url = f"{ctx.r.api}/repos/{ctx.r.full_name(repo)}/branches/{branch}/protection"
    if rule is None:
        return {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        }
    data: Json = {
        "url": url,
        "enabled": True,
        "required_status_checks": {
            "url": f"{url}/required_status_checks",
            "enforcement_level": "non_admins",
            "contexts": rule.required_contexts,
            "checks": [{"context": c, "app_id": None} for c in rule.required_contexts],
            "strict": False,
        },
    }
    if rule.required_approvals:
        data["required_pull_request_reviews"] = {
            "url": f"{url}/required_pull_request_reviews",
            "dismiss_stale_reviews": True,
            "require_code_owner_reviews": False,
            "required_approving_review_count": rule.required_approvals,
        }
    return data


@router.get("/branches")
def list_branches(ctx: CtxDep, request: Request, owner: str, name: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    api = f"{ctx.r.api}/repos/{ctx.r.full_name(repo)}"
    protected = set(ctx.session.scalars(select(Protection.branch).where(Protection.repo_id == repo.id)))
    heads = ctx.forge.bare(ctx.session, repo).refs("refs/heads/")
    items = [
        {
            "name": ref.removeprefix("refs/heads/"),
            "commit": {"sha": sha, "url": f"{api}/commits/{sha}"},
            "protected": ref.removeprefix("refs/heads/") in protected,
        }
        for ref, sha in sorted(heads.items())
    ]
    return paginate(request, items)


@router.get("/branches/{branch:path}")
def get_branch(ctx: CtxDep, owner: str, name: str, branch: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    bare = ctx.forge.bare(ctx.session, repo)
    sha = bare.branch_sha(branch)
    if sha is None:
        raise NotFound("Branch not found")
    rule = ctx.session.get(Protection, (repo.id, branch))
    full = ctx.r.full_name(repo)
    data: Json = {
        "name": branch,
        "commit": ctx.r.commit(repo, bare.commit_info(sha)),
        "_links": {
            "self": f"{ctx.r.api}/repos/{full}/branches/{branch}",
            "html": f"{ctx.r.html}/{full}/tree/{branch}",
        },
        "protected": rule is not None,
        "protection": protection_json(ctx, repo, branch, rule),
        "protection_url": f"{ctx.r.api}/repos/{full}/branches/{branch}/protection",
    }
    if rule is not None:
        data["required_approving_review_count"] = rule.required_approvals
    return ok(data)


def diff_entry(ctx: Ctx, repo: Repo, ref: str, change: FileChange) -> Json:
    full = ctx.r.full_name(repo)
    entry: Json = {
        "sha": change.blob_sha,
        "filename": change.path,
        "status": change.status,
        "additions": change.additions,
        "deletions": change.deletions,
        "changes": change.additions + change.deletions,
        "blob_url": f"{ctx.r.html}/{full}/blob/{ref}/{change.path}",
        "raw_url": f"{ctx.r.html}/{full}/raw/{ref}/{change.path}",
        "contents_url": f"{ctx.r.api}/repos/{full}/contents/{change.path}?ref={ref}",
    }
    if change.patch:
        entry["patch"] = change.patch
    if change.previous_path:
        entry["previous_filename"] = change.previous_path
    return entry


@router.get("/commits")
def list_commits(ctx: CtxDep, request: Request, owner: str, name: str) -> JSONResponse:
    """History of `sha` (a branch or commit; default branch by default), optionally only touching `path`."""
    repo = ctx.repo(owner, name)
    bare = ctx.forge.bare(ctx.session, repo)
    start = bare.resolve(request.query_params.get("sha") or repo.default_branch)
    if start is None:
        raise NotFound()
    path = request.query_params.get("path")
    clean = clean_path(path) if path else None
    if path and not clean:
        raise NotFound()
    commits = bare.log_path(start, clean) if clean else bare.log(start, max_count=MAX_COMPARE_COMMITS)
    return paginate(request, [ctx.r.commit(repo, c) for c in commits])


@router.get("/commits/{ref:path}")
def get_commit(ctx: CtxDep, owner: str, name: str, ref: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    bare = ctx.forge.bare(ctx.session, repo)
    sha = bare.resolve(ref)
    if sha is None:
        raise Invalid(f"No commit found for SHA: {ref}")
    info = bare.commit_info(sha)
    changes = bare.changes(info.parents[0] if info.parents else None, sha, with_patch=True)
    data = ctx.r.commit(repo, info)
    additions, deletions = sum(c.additions for c in changes), sum(c.deletions for c in changes)
    data["stats"] = {"additions": additions, "deletions": deletions, "total": additions + deletions}
    data["files"] = [diff_entry(ctx, repo, sha, c) for c in changes]
    return ok(data)


@router.get("/compare/{basehead:path}")
def compare(ctx: CtxDep, owner: str, name: str, basehead: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    bare = ctx.forge.bare(ctx.session, repo)
    base_name, sep, head_name = basehead.partition("...")
    if not sep:
        base_name, sep, head_name = basehead.partition("..")
    base, head = bare.resolve(base_name) if sep else None, bare.resolve(head_name) if sep else None
    if base is None or head is None:
        raise NotFound()
    merge_base = bare.merge_base(base, head)
    if merge_base is None:
        raise NotFound(f"No common ancestor between {base_name} and {head_name}.")
    ahead, behind = bare.count(f"{merge_base}..{head}"), bare.count(f"{merge_base}..{base}")
    status = "identical" if base == head else "ahead" if not behind else "behind" if not ahead else "diverged"
    full = ctx.r.full_name(repo)
    commits = bare.log(f"{merge_base}..{head}", max_count=MAX_COMPARE_COMMITS)[::-1]
    html = f"{ctx.r.html}/{full}/compare/{basehead}"
    return ok(
        {
            "url": f"{ctx.r.api}/repos/{full}/compare/{basehead}",
            "html_url": html,
            "permalink_url": f"{ctx.r.html}/{full}/compare/{owner}:{base[:7]}...{owner}:{head[:7]}",
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "base_commit": ctx.r.commit(repo, bare.commit_info(base)),
            "merge_base_commit": ctx.r.commit(repo, bare.commit_info(merge_base)),
            "status": status,
            "ahead_by": ahead,
            "behind_by": behind,
            "total_commits": ahead,
            "commits": [ctx.r.commit(repo, c) for c in commits],
            "files": [
                diff_entry(ctx, repo, head, c) for c in bare.changes(merge_base, head, with_patch=True)
            ],
        }
    )


def clean_path(path: str) -> str | None:
    """A repository path, or None when it tries to leave the tree (`..`, absolute, NUL, empty parts) or to
    reach into a `.git` directory, which git never stores (any case, and the names Windows reads as it)."""
    stripped = path.strip("/")
    parts = stripped.split("/") if stripped else []
    if "\x00" in path or "\\" in path or any(p in {"", ".", ".."} or _is_git_dir(p) for p in parts):
        return None
    return stripped


def _is_git_dir(part: str) -> bool:
    folded = part.casefold()
    return folded.rstrip(". ") == ".git" or folded == "git~1"


def content_json(ctx: Ctx, repo: Repo, ref: str, entry: TreeEntry, content: bytes | None) -> Json:
    full = ctx.r.full_name(repo)
    api = f"{ctx.r.api}/repos/{full}/contents/{entry.path}?ref={ref}"
    kind = {"tree": "dir", "commit": "submodule"}.get(
        entry.kind, "symlink" if entry.mode == "120000" else "file"
    )
    html = f"{ctx.r.html}/{full}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{entry.path}"
    git = f"{ctx.r.api}/repos/{full}/git/{'trees' if kind == 'dir' else 'blobs'}/{entry.sha}"
    data: Json = {
        "type": kind,
        "size": entry.size,
        "name": entry.path.rsplit("/", 1)[-1],
        "path": entry.path,
        "sha": entry.sha,
        "url": api,
        "git_url": git,
        "html_url": html,
        "download_url": f"{ctx.r.html}/{full}/raw/{ref}/{entry.path}" if kind == "file" else None,
        "_links": {"self": api, "git": git, "html": html},
    }
    if content is not None:
        data["content"] = base64.encodebytes(content).decode()
        data["encoding"] = "base64"
    return data


@router.get("/contents/{path:path}")
@router.get("/contents", include_in_schema=False)
def get_contents(ctx: CtxDep, owner: str, name: str, request: Request, path: str = "") -> JSONResponse:
    repo = ctx.repo(owner, name)
    bare = ctx.forge.bare(ctx.session, repo)
    ref = request.query_params.get("ref") or repo.default_branch
    clean = clean_path(path)
    sha = bare.resolve(ref)
    if clean is None or sha is None:
        raise NotFound()
    if not clean:
        return ok([content_json(ctx, repo, ref, e, None) for e in bare.list_dir(sha, "")])
    entry = bare.tree_entry(sha, clean)
    if entry is None:
        raise NotFound()
    if entry.kind == "tree":
        return ok([content_json(ctx, repo, ref, e, None) for e in bare.list_dir(sha, clean)])
    return ok(content_json(ctx, repo, ref, entry, bare.blob(entry.sha) if entry.kind == "blob" else None))


def _decode(content: str) -> bytes:
    try:
        return base64.b64decode(content, validate=False)
    except (binascii.Error, ValueError):
        raise Invalid.field("Content", "content", message="content is not valid Base64") from None


def _identity(ident: Identity | None, user: User) -> Person:
    return Person(ident.name, ident.email) if ident else Person(user.login, user.email or "")


def _written(bare: BareRepo, tree: str, path: str, content: bytes | None) -> bool:
    """Whether `tree` holds `content` at `path` (or no `path` for a deletion): git skips paths it refuses
    without failing, and such a write must not become a commit that changes nothing."""
    entry = bare.tree_entry(tree, path)
    if content is None:
        return entry is None
    return entry is not None and entry.sha == bare.text("hash-object", "--stdin", input_bytes=content).strip()


def commit_file(ctx: Ctx, repo: Repo, path: str, content: bytes | None, body: FileWrite | FileDelete) -> Json:
    """Commit one file change on a branch; refuses with GitHub's 409/422 when `sha` does not match."""
    clean = clean_path(path)
    if not clean:
        raise Invalid.field("Content", "path", message="path contains a malformed path component")
    bare = ctx.forge.bare(ctx.session, repo)
    branch = body.branch or repo.default_branch
    with ctx.forge.repo_lock(repo.id):
        tip = bare.branch_sha(branch)
        if tip is None:
            raise NotFound(f"Branch {branch} not found")
        existing = bare.tree_entry(tip, clean)
        if existing is not None and existing.kind != "blob":
            raise Invalid.field("Content", "path", message=f"{clean} is a directory")
        if existing is not None and body.sha is None:
            raise Invalid('Invalid request.\n\n"sha" wasn\'t supplied.')
        if existing is None and content is None:
            raise NotFound()
        if body.sha is not None and (existing is None or existing.sha != body.sha):
            raise Conflict(f"{clean} does not match {body.sha}")
        me = ctx.me()
        author = _identity(getattr(body, "author", None), me)
        committer = _identity(getattr(body, "committer", None), me)
        tree = bare.write_files(tip, Edit({clean: content}))
        if not _written(bare, tree, clean, content):
            raise Invalid.field("Content", "path", message=MSG_UNWRITABLE.format(path=clean))
        sha = bare.commit_tree(tree, [tip], body.message, author, committer)
        move_ref(ctx, repo, bare, f"refs/heads/{branch}", sha, tip)
    info = bare.commit_info(sha)
    entry = bare.tree_entry(sha, clean)
    commit = ctx.r.commit(repo, info)
    commit_part: dict[str, Any] = {k: commit[k] for k in ("sha", "node_id", "url", "html_url", "parents")}
    commit_part.update(
        {k: commit["commit"][k] for k in ("author", "committer", "message", "tree", "verification")}
    )
    return {
        "content": content_json(ctx, repo, branch, entry, None) if entry else None,
        "commit": commit_part,
        "_created": existing is None,
    }


@router.put("/contents/{path:path}")
def put_contents(ctx: CtxDep, owner: str, name: str, path: str, body: FileWrite) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.WRITE)
    result = commit_file(ctx, repo, path, _decode(body.content), body)
    created = result.pop("_created")
    return ok(result, 201 if created else 200)


@router.delete("/contents/{path:path}")
def delete_contents(ctx: CtxDep, owner: str, name: str, path: str, body: FileDelete) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.WRITE)
    result = commit_file(ctx, repo, path, None, body)
    result.pop("_created")
    return ok(result)
