"""Commit statuses, the combined status of a ref, and check runs (with annotations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from forge import events
from forge.api.common import Body, ok, paginate
from forge.api.deps import Ctx, CtxDep, token_from_header
from forge.core import Perm, token_digest
from forge.errors import Forbidden, Invalid, NotFound
from forge.git import BareRepo
from forge.models import AppToken, CheckRun, Repo, Status, utcnow
from forge.render import Json, node_id, ts

router = APIRouter(prefix="/repos/{owner}/{name}")

StatusState = Literal["error", "failure", "pending", "success"]
MAX_ANNOTATIONS = 50


class StatusCreate(Body):
    state: StatusState
    target_url: str | None = None
    description: str | None = None
    context: str = "default"


class Annotation(Body):
    path: str
    start_line: int
    end_line: int
    annotation_level: Literal["notice", "warning", "failure"]
    message: str
    title: str | None = None
    raw_details: str | None = None
    start_column: int | None = None
    end_column: int | None = None


class CheckOutput(Body):
    title: str | None = None
    summary: str
    text: str | None = None
    annotations: list[Annotation] = []


Conclusion = Literal[
    "action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"
]


class CheckRunBody(Body):
    name: str | None = None
    head_sha: str | None = None
    details_url: str | None = None
    external_id: str | None = None
    status: Literal["queued", "in_progress", "completed"] | None = None
    started_at: datetime | None = None
    conclusion: Conclusion | None = None
    completed_at: datetime | None = None
    output: CheckOutput | None = None


def resolve(ctx: Ctx, repo: Repo, ref: str) -> tuple[BareRepo, str]:
    bare = ctx.forge.bare(ctx.session, repo)
    sha = bare.resolve(ref)
    if sha is None:
        raise NotFound(f"No commit found for SHA: {ref}")
    return bare, sha


@router.post("/statuses/{sha}", status_code=201)
def create_status(ctx: CtxDep, owner: str, name: str, sha: str, body: StatusCreate) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.WRITE)
    bare = ctx.forge.bare(ctx.session, repo)
    resolved = bare.resolve(sha) if len(sha) == 40 else None
    if resolved is None:
        raise Invalid(f"No commit found for SHA: {sha}")
    me = ctx.me()
    status = Status(
        repo_id=repo.id,
        sha=resolved,
        state=body.state,
        context=body.context or "default",
        description=body.description,
        target_url=body.target_url,
        creator_id=me.id,
    )
    ctx.session.add(status)
    ctx.session.flush()
    commit = ctx.r.commit(repo, bare.commit_info(resolved))
    branches = [
        {
            "name": ref.removeprefix("refs/heads/"),
            "commit": {"sha": tip, "url": f"{commit['url'][:-40]}{tip}"},
            "protected": False,
        }
        for ref, tip in bare.refs("refs/heads/").items()
        if tip == resolved
    ]
    events.status(ctx.r, repo, status, _hook_commit(commit), branches, me)
    return ok(ctx.r.status(status), 201)


def _hook_commit(commit: Json) -> Json:
    """The status event's commit: like the REST commit, with the git identities as committer objects."""
    data = {
        k: commit[k]
        for k in (
            "sha",
            "node_id",
            "commit",
            "url",
            "html_url",
            "comments_url",
            "author",
            "committer",
            "parents",
        )
    }
    return data


def latest_statuses(ctx: Ctx, repo: Repo, sha: str) -> list[Status]:
    rows = ctx.session.scalars(
        select(Status).where(Status.repo_id == repo.id, Status.sha == sha).order_by(Status.id.desc())
    )
    latest: dict[str, Status] = {}
    for row in rows:
        latest.setdefault(row.context, row)
    return list(latest.values())


def combined_state(statuses: list[Status]) -> str:
    states = {s.state for s in statuses}
    if states & {"error", "failure"}:
        return "failure"
    if not statuses or "pending" in states:
        return "pending"
    return "success"


@router.get("/commits/{ref:path}/status")
def combined_status(ctx: CtxDep, owner: str, name: str, ref: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    _bare, sha = resolve(ctx, repo, ref)
    statuses = latest_statuses(ctx, repo, sha)
    full = ctx.r.full_name(repo)
    simple = []
    for status in statuses:
        item = ctx.r.status(status)
        item.pop("creator")
        simple.append(item)
    repo_json = ctx.r.repo(repo)
    return ok(
        {
            "state": combined_state(statuses),
            "statuses": simple,
            "sha": sha,
            "total_count": len(statuses),
            "repository": repo_json,
            "commit_url": f"{ctx.r.api}/repos/{full}/commits/{sha}",
            "url": f"{ctx.r.api}/repos/{full}/commits/{sha}/status",
        }
    )


@router.get("/statuses/{ref}")
@router.get("/commits/{ref:path}/statuses")
def list_statuses(ctx: CtxDep, request: Request, owner: str, name: str, ref: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    _bare, sha = resolve(ctx, repo, ref)
    rows = ctx.session.scalars(
        select(Status).where(Status.repo_id == repo.id, Status.sha == sha).order_by(Status.id.desc())
    )
    return paginate(request, [ctx.r.status(s) for s in rows])


def check_run_json(ctx: Ctx, repo: Repo, run: CheckRun) -> Json:
    full = ctx.r.full_name(repo)
    api = f"{ctx.r.api}/repos/{full}/check-runs/{run.id}"
    output = run.output or {}
    return {
        "id": run.id,
        "head_sha": run.head_sha,
        "node_id": node_id("CheckRun", run.id),
        "external_id": run.external_id or "",
        "url": api,
        "html_url": f"{ctx.r.html}/{full}/runs/{run.id}",
        "details_url": run.details_url or f"{ctx.r.html}/{full}/runs/{run.id}",
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": ts(run.started_at),
        "completed_at": ts(run.completed_at),
        "output": {
            "title": output.get("title"),
            "summary": output.get("summary"),
            "text": output.get("text"),
            "annotations_count": len(run.annotations),
            "annotations_url": f"{api}/annotations",
        },
        "name": run.name,
        "check_suite": {"id": run.id},
        "app": None,
        "pull_requests": [],
    }


def _apply(run: CheckRun, body: CheckRunBody) -> None:
    for field in ("name", "details_url", "external_id"):
        value = getattr(body, field)
        if value is not None:
            setattr(run, field, value)
    if body.started_at is not None:
        run.started_at = body.started_at.replace(tzinfo=None)
    if body.status is not None:
        run.status = body.status
    if body.conclusion is not None:
        run.status, run.conclusion = "completed", body.conclusion
    if run.status == "completed":
        if run.conclusion is None:
            raise Invalid.field("CheckRun", "conclusion", "missing_field")
        run.completed_at = body.completed_at.replace(tzinfo=None) if body.completed_at else utcnow()
    if body.output is not None:
        data: dict[str, Any] = body.output.model_dump(exclude={"annotations"})
        run.output = data
        added = [a.model_dump(exclude_none=True) for a in body.output.annotations]
        if len(added) > MAX_ANNOTATIONS:
            raise Invalid.field("CheckRun", "annotations", message=f"at most {MAX_ANNOTATIONS} per request")
        run.annotations = [*run.annotations, *added]


APPS_ONLY = "You must authenticate via a GitHub App."
"""GitHub's 403 to a personal (or OAuth) token creating or updating a check run."""


def _require_app(ctx: Ctx, request: Request) -> None:
    """Check runs are written by GitHub Apps only: the request's token must be an installation token."""
    token = token_from_header(request.headers.get("authorization"))
    if not token or ctx.session.get(AppToken, token_digest(token)) is None:
        raise Forbidden(APPS_ONLY)


@router.post("/check-runs", status_code=201)
def create_check_run(
    ctx: CtxDep, request: Request, owner: str, name: str, body: CheckRunBody
) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.WRITE)
    _require_app(ctx, request)
    if not body.name:
        raise Invalid.field("CheckRun", "name", "missing_field")
    if not body.head_sha:
        raise Invalid.field("CheckRun", "head_sha", "missing_field")
    _bare, sha = resolve(ctx, repo, body.head_sha)
    run = CheckRun(repo_id=repo.id, head_sha=sha, name=body.name, annotations=[], output={})
    if body.status in {"in_progress", "completed"} or body.conclusion:
        run.started_at = utcnow()
    _apply(run, body)
    ctx.session.add(run)
    ctx.session.flush()
    return ok(check_run_json(ctx, repo, run), 201)


def _run(ctx: Ctx, repo: Repo, run_id: int) -> CheckRun:
    run = ctx.session.get(CheckRun, run_id)
    if run is None or run.repo_id != repo.id:
        raise NotFound()
    return run


@router.patch("/check-runs/{run_id}")
def update_check_run(
    ctx: CtxDep, request: Request, owner: str, name: str, run_id: int, body: CheckRunBody
) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.WRITE)
    _require_app(ctx, request)
    run = _run(ctx, repo, run_id)
    _apply(run, body)
    return ok(check_run_json(ctx, repo, run))


@router.get("/check-runs/{run_id}")
def get_check_run(ctx: CtxDep, owner: str, name: str, run_id: int) -> JSONResponse:
    repo = ctx.repo(owner, name)
    return ok(check_run_json(ctx, repo, _run(ctx, repo, run_id)))


@router.get("/check-runs/{run_id}/annotations")
def list_annotations(ctx: CtxDep, request: Request, owner: str, name: str, run_id: int) -> JSONResponse:
    repo = ctx.repo(owner, name)
    run = _run(ctx, repo, run_id)
    full = ctx.r.full_name(repo)
    items = [
        {
            "blob_href": f"{ctx.r.html}/{full}/blob/{run.head_sha}/{a['path']}",
            "start_column": None,
            "end_column": None,
            "title": None,
            "raw_details": None,
            **a,
        }
        for a in run.annotations
    ]
    return paginate(request, items)


@router.get("/commits/{ref:path}/check-runs")
def list_check_runs(ctx: CtxDep, request: Request, owner: str, name: str, ref: str) -> JSONResponse:
    repo = ctx.repo(owner, name)
    _bare, sha = resolve(ctx, repo, ref)
    rows = ctx.session.scalars(
        select(CheckRun)
        .where(CheckRun.repo_id == repo.id, CheckRun.head_sha == sha)
        .order_by(CheckRun.id.desc())
    ).all()
    runs = [check_run_json(ctx, repo, run) for run in rows]
    return ok({"total_count": len(runs), "check_runs": runs})
