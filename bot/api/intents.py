"""`POST /intents/submit` (the seed's intent-queue API) and `GET /intents/{id}`.

A submitted intent is committed to the default branch of the intents repository with the caller's own
token, so git stays the source of truth, the forge enforces who may write, and the push that follows
drives the line exactly as a hand-made commit would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, status
from github import GithubException
from pydantic import BaseModel

from bot.api.auth import CallerDep
from bot.vcs.client import RepoClient
from pipeline.intents import InvalidIntent, parse_intent_mapping
from pipeline.intents.serialize import content_hash, intent_path, intent_to_yaml
from pipeline.ledger import Ledger, UnknownIntent

MAX_SUBMIT_BYTES = 64 * 1024
SUBMITTED_COMMENT = "Submitted through the IntentOps API by {login}."
COMMIT_MESSAGE = "intent: {service} (submitted by {login})"

router = APIRouter(tags=["intents"])


class Submitted(BaseModel):
    id: int
    service_name: str
    path: str
    commit_sha: str | None
    status_url: str
    unchanged: bool


def limit_body(request: Request) -> None:
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(status.HTTP_411_LENGTH_REQUIRED, detail="send a Content-Length")
    if int(length) > MAX_SUBMIT_BYTES:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            detail=f"an intent may be at most {MAX_SUBMIT_BYTES} bytes",
        )


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def get_repo_factory(request: Request) -> Callable[[str], RepoClient]:
    factory: Callable[[str], RepoClient] = request.app.state.repo_for_token
    return factory


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
RepoFactoryDep = Annotated[Callable[[str], RepoClient], Depends(get_repo_factory)]


def _commit(repo: RepoClient, path: str, data: bytes, message: str) -> tuple[str | None, bool]:
    """Commit the file unless the default branch already holds exactly these bytes (a retried request)."""
    branch = repo.default_branch()
    if repo.read_file(path, branch) == data:
        return None, True
    return repo.commit_file(path, data, message, branch), False


@router.post(
    "/intents/submit",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Submitted,
    dependencies=[Depends(limit_body)],
)
def submit_intent(
    request: Request,
    caller: CallerDep,
    ledger: LedgerDep,
    repo_for_token: RepoFactoryDep,
    body: Annotated[dict[str, Any], Body()],
) -> Submitted:
    """Validate an intent and commit it as `intents/<service_name>.yaml` on the default branch."""
    try:
        intent = parse_intent_mapping(body, source="request body")
    except InvalidIntent as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail={"problems": [p.to_json() for p in exc.problems]}
        ) from None
    path = intent_path(intent.service_name)
    data = intent_to_yaml(intent, comment=SUBMITTED_COMMENT.format(login=caller.login)).encode()
    repo = repo_for_token(caller.token)
    try:
        sha, unchanged = _commit(
            repo, path, data, COMMIT_MESSAGE.format(service=intent.service_name, login=caller.login)
        )
    except GithubException as exc:
        if exc.status in (403, 404):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail=f"{caller.login} cannot write to {repo.full_name}"
            ) from None
        raise
    record, _ = ledger.receive(
        repo=repo.full_name,
        path=path,
        service_name=intent.service_name,
        content_hash=content_hash(data),
        priority=intent.priority.value,
        author=caller.login,
        source="api",
        commit_sha=sha or "",
    )
    return Submitted(
        id=record.id,
        service_name=intent.service_name,
        path=path,
        commit_sha=sha,
        status_url=str(request.url_for("get_intent", intent_id=record.id)),
        unchanged=unchanged,
    )


@router.get("/intents/{intent_id}", name="get_intent")
def get_intent(intent_id: int, caller: CallerDep, ledger: LedgerDep) -> dict[str, Any]:
    """An intent's state, what it waits for, its stage history and its governance decisions."""
    try:
        record = ledger.get(intent_id)
    except UnknownIntent:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no intent {intent_id}") from None
    return {
        **record.to_json(),
        "history": [event.to_json() for event in ledger.history(intent_id)],
        "decisions": ledger.decisions(intent_id),
    }


@router.get("/intents")
def list_intents(
    caller: CallerDep,
    ledger: LedgerDep,
    state: str | None = None,
    priority: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Intents, most recently active first; filter by state and priority."""
    limit = max(1, min(limit, 500))
    return [record.to_json() for record in ledger.list_intents(state=state, priority=priority, limit=limit)]
