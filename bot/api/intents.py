"""`POST /intents/submit` (the seed's intent-queue API), `GET /intents/{id}` and `GET /intents`.

A submitted intent is committed to the default branch of the intents repository with the caller's own
token, so git stays the source of truth, the forge enforces who may write, and the push that follows
drives the line exactly as a hand-made commit would.

One service name has one intent file (`pipeline.intents.owners`). A submission for a service the default
branch already holds changes that service's file (wherever it lives) and only with the precondition
`If-Match: "<content hash>"`: the SHA-256 of the file as it is now, which `GET /intents/{id}` shows as
`content_hash` and `ETag`, and this route's 202 and 409 answers give back. Without it, or with an older hash,
the answer is 409 saying what to send. A submission whose file would be exactly the file already there (a
retried request) changes nothing and needs no precondition: it answers 202 with `unchanged: true`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from bot.api.auth import CallerDep
from bot.api.schema import intent_request_body
from bot.vcs.client import RepoClient
from bot.vcs.errors import Conflict, Forbidden, Invalid, NotFound
from pipeline.intents import IntentProblem, InvalidIntent, Priority, name_owners, parse_intent_mapping
from pipeline.intents.serialize import content_hash, intent_path, intent_to_yaml
from pipeline.ledger import IntentRecord, IntentState, Ledger, UnknownIntent

MAX_SUBMIT_BYTES = 64 * 1024
MAX_INTENT_ID = 2**31 - 1
"""Intent ids are 32-bit integers in the state database (SQLite and PostgreSQL alike)."""
MAX_LIST = 500
SUBMITTED_COMMENT = "Submitted through the IntentOps API by {login}."
COMMIT_MESSAGE = "intent: {service} (submitted by {login})"
BODY_SOURCE = "request body"

NO_LENGTH = "send a Content-Length (the body may be at most {limit} bytes)"
TOO_LARGE = "an intent may be at most {limit} bytes"
NOT_JSON = "the body is not JSON ({error}); send the intent as a JSON object"
INVALID = "the intent is invalid: {first}"
CANNOT_WRITE = "{login} cannot write to {repo}"
NO_INTENT = "no intent {id}"
NEEDS_PRECONDITION = (
    "the service '{name}' already exists ({path}); to change it, send the content hash of the file you are "
    'replacing as the header If-Match: "{hash}" (GET /intents/{{id}} shows it as content_hash)'
)
STALE_PRECONDITION = (
    "the service '{name}' changed since the version you sent in If-Match ({path} is now {hash}); "
    'read it again (GET /intents/{{id}}), and resend with If-Match: "{hash}" if you still mean to replace it'
)
NOTHING_TO_MATCH = (
    "there is no service '{name}' to match If-Match against; to create it, send the request without If-Match"
)
RACED = "{path} changed while this request was being committed; read it again and resend with its new hash"
ANY_ETAG = 'If-Match: * is not enough here: send the content hash you last saw, as If-Match: "<hash>"'

router = APIRouter(tags=["intents"])


# -- what the routes answer -------------------------------------------------------------------------------


class ErrorMessage(BaseModel):
    detail: str = Field(description="What went wrong, and what to send instead.")


class Problem(BaseModel):
    file: str
    line: int = Field(description="1-based; 0 when the problem is about the whole body.")
    column: int
    field: str = Field(description="The intent field concerned, dotted ('resources.0.name'); may be empty.")
    message: str


class InvalidDetail(BaseModel):
    message: str
    problems: list[Problem]


class InvalidIntentError(BaseModel):
    """422 of `POST /intents/submit`: every problem found in the submitted intent."""

    detail: InvalidDetail


class ConflictDetail(BaseModel):
    message: str = Field(description="Why, and the header to send.")
    service_name: str
    path: str = Field(description="The intent file that holds the service.")
    content_hash: str | None = Field(
        description="The file's content hash now (None if it could not be read)."
    )
    if_match: str | None = Field(description='The header value to send: "<content hash>".')


class ConflictError(BaseModel):
    """409 of `POST /intents/submit`: the service exists and the request did not name its current version."""

    detail: ConflictDetail


class Submitted(BaseModel):
    id: int
    service_name: str
    path: str
    commit_sha: str | None = Field(description="The commit made; None when nothing changed.")
    content_hash: str = Field(description="The intent file's content hash: the next If-Match.")
    status_url: str
    unchanged: bool = Field(description="True when the default branch already held exactly this file.")


class IntentView(BaseModel):
    """An intent as the ledger knows it."""

    model_config = ConfigDict(extra="allow")

    id: int
    repo: str
    path: str
    service_name: str
    content_hash: str
    priority: str
    state: IntentState
    waiting_for: str
    author: str
    source: str
    commit_sha: str
    pr_number: int | None
    pr_url: str
    issue_number: int | None
    head_sha: str
    decision: dict[str, Any] | None
    report: dict[str, Any] | None
    service_url: str
    created_at: str
    updated_at: str


class StageView(BaseModel):
    model_config = ConfigDict(extra="allow")

    stage: str
    outcome: str
    message: str
    detail: dict[str, Any] | None
    duration_ms: int | None
    at: str


class IntentDetail(IntentView):
    history: list[StageView]
    decisions: list[dict[str, Any]]


def _error(description: str, model: type[BaseModel] = ErrorMessage) -> dict[str, Any]:
    return {"model": model, "description": description}


ETAG_HEADER = {
    "ETag": {
        "description": 'The intent file\'s content hash, quoted: "<sha256>".',
        "schema": {"type": "string"},
    }
}
UNAUTHORIZED_ANSWER: dict[int | str, dict[str, Any]] = {
    401: _error("No token, or one the forge does not know.")
}


# -- dependencies -----------------------------------------------------------------------------------------


def limit_body(request: Request) -> None:
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(status.HTTP_411_LENGTH_REQUIRED, detail=NO_LENGTH.format(limit=MAX_SUBMIT_BYTES))
    if int(length) > MAX_SUBMIT_BYTES:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, detail=TOO_LARGE.format(limit=MAX_SUBMIT_BYTES)
        )


async def intent_body(request: Request) -> Any:
    """The body as JSON. Read here rather than by FastAPI so that every refusal of a submission has one
    shape (`InvalidIntentError`), whether the body is not JSON or not an intent."""
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        error = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise _invalid([IntentProblem(BODY_SOURCE, 0, 0, NOT_JSON.format(error=error))]) from None


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def get_repo_factory(request: Request) -> Callable[[str], RepoClient]:
    factory: Callable[[str], RepoClient] = request.app.state.repo_for_token
    return factory


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
RepoFactoryDep = Annotated[Callable[[str], RepoClient], Depends(get_repo_factory)]
BodyDep = Annotated[Any, Depends(intent_body)]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='To change an existing service: "<content hash>" of its intent file as you last saw it.',
    ),
]
IntentId = Annotated[int, Path(ge=1, le=MAX_INTENT_ID, description="The intent's id (from 1).")]


# -- submitting -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Current:
    """The file a submission for a service name writes: the name's owner, or `intents/<name>.yaml`."""

    path: str
    data: bytes | None

    @property
    def digest(self) -> str | None:
        return content_hash(self.data) if self.data is not None else None


def _invalid(problems: list[IntentProblem]) -> HTTPException:
    detail = InvalidDetail(
        message=INVALID.format(first=problems[0]),
        problems=[Problem(**problem.to_json()) for problem in problems],
    )
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail.model_dump())


def _conflict(name: str, current: Current, message: str) -> HTTPException:
    digest = current.digest
    detail = ConflictDetail(
        message=message,
        service_name=name,
        path=current.path,
        content_hash=digest,
        if_match=f'"{digest}"' if digest else None,
    )
    headers = {"ETag": f'"{digest}"'} if digest else None
    return HTTPException(status.HTTP_409_CONFLICT, detail=detail.model_dump(), headers=headers)


def _known_owner(records: list[IntentRecord]) -> dict[str, str]:
    """The file the line has known longest as the name's owner: its oldest record that was a valid intent
    (an invalid file is recorded under a name taken from its path, which it may not say at all)."""
    for record in records:
        if record.state is not IntentState.INVALID:
            return {record.service_name: record.path}
    return {}


def _current(repo: RepoClient, ledger: Ledger, name: str, branch: str) -> Current:
    """Where the service lives on the default branch: the file owning the name among the ones the ledger
    knows for it and `intents/<name>.yaml`, by the rules of `pipeline.intents.owners`; else the
    conventional path (which may hold a file that says another name: replacing it needs its hash too)."""
    records = ledger.records_for_service(repo.full_name, name)
    candidates = sorted({record.path for record in records} | {intent_path(name)})
    files = {path: data for path in candidates if (data := repo.read_file(path, branch)) is not None}
    owner = name_owners(files, known_owners=_known_owner(records)).get(name, intent_path(name))
    return Current(path=owner, data=files.get(owner))


def _etags(header: str) -> list[str]:
    """The entity tags of an If-Match header; weak ones (W/"...") never match a precondition on content."""
    tags = []
    for item in header.split(","):
        item = item.strip()
        if item and not item.startswith("W/"):
            tags.append(item.strip('"'))
    return tags


def _check_precondition(name: str, current: Current, if_match: str | None) -> None:
    """Refuse (409) unless the request may write this file: a new file needs no If-Match (and gets
    refused one); an existing file needs its current hash."""
    sent = (if_match or "").strip()
    if current.data is None:
        if sent:
            raise _conflict(name, current, NOTHING_TO_MATCH.format(name=name))
        return
    digest = current.digest or ""
    if not sent:
        raise _conflict(name, current, NEEDS_PRECONDITION.format(name=name, path=current.path, hash=digest))
    if sent == "*":
        raise _conflict(name, current, ANY_ETAG)
    if digest not in _etags(sent):
        raise _conflict(name, current, STALE_PRECONDITION.format(name=name, path=current.path, hash=digest))


def _write(
    repo: RepoClient, ledger: Ledger, *, name: str, data: bytes, message: str, if_match: str | None
) -> tuple[str, str | None]:
    """Commit the service's file unless it already holds exactly these bytes. Returns (path, commit)."""
    branch = repo.default_branch()
    current = _current(repo, ledger, name, branch)
    if current.data == data:
        return current.path, None  # a retried request: nothing to overwrite, so no precondition either
    _check_precondition(name, current, if_match)
    try:
        return current.path, repo.commit_file(current.path, data, message, branch, replacing=current.data)
    except (Conflict, Invalid) as exc:
        # Pushed between our read and our write: the blob we replace changed (409), or a file we saw
        # absent was created meanwhile (422: no blob named to replace).
        if isinstance(exc, Invalid) and current.data is not None:
            raise
        raise _conflict(name, Current(current.path, None), RACED.format(path=current.path)) from None


@router.post(
    "/intents/submit",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Submitted,
    dependencies=[Depends(limit_body)],
    openapi_extra={"requestBody": intent_request_body()},
    responses={
        202: {"headers": ETAG_HEADER},
        **UNAUTHORIZED_ANSWER,
        403: _error("The caller may not write to the intents repository."),
        409: _error(
            "The service exists and If-Match did not name its current content hash (the body says which).",
            ConflictError,
        ),
        411: _error("No Content-Length."),
        413: _error(f"The body is larger than {MAX_SUBMIT_BYTES} bytes."),
        422: _error("The body is not JSON, or not a valid intent: every problem found.", InvalidIntentError),
    },
)
def submit_intent(
    request: Request,
    response: Response,
    caller: CallerDep,
    ledger: LedgerDep,
    repo_for_token: RepoFactoryDep,
    body: BodyDep,
    if_match: IfMatch = None,
) -> Submitted:
    """Validate an intent and commit it on the default branch: a new service as `intents/<service_name>.yaml`,
    an existing one to its own file, with `If-Match: "<content hash>"` (see the module's rules)."""
    try:
        intent = parse_intent_mapping(body, source=BODY_SOURCE)
    except InvalidIntent as exc:
        raise _invalid(exc.problems) from None
    data = intent_to_yaml(intent, comment=SUBMITTED_COMMENT.format(login=caller.login)).encode()
    repo = repo_for_token(caller.token)
    message = COMMIT_MESSAGE.format(service=intent.service_name, login=caller.login)
    try:
        path, sha = _write(
            repo, ledger, name=intent.service_name, data=data, message=message, if_match=if_match
        )
    except (Forbidden, NotFound):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=CANNOT_WRITE.format(login=caller.login, repo=repo.full_name)
        ) from None
    digest = content_hash(data)
    record, _ = ledger.receive(
        repo=repo.full_name,
        path=path,
        service_name=intent.service_name,
        content_hash=digest,
        priority=intent.priority.value,
        author=caller.login,
        source="api",
        commit_sha=sha or "",
    )
    response.headers["ETag"] = f'"{digest}"'
    return Submitted(
        id=record.id,
        service_name=intent.service_name,
        path=path,
        commit_sha=sha,
        content_hash=digest,
        status_url=str(request.url_for("get_intent", intent_id=record.id)),
        unchanged=sha is None,
    )


# -- reading ----------------------------------------------------------------------------------------------

_SHA256 = re.compile(r"[0-9a-f]{64}")


@router.get(
    "/intents/{intent_id}",
    name="get_intent",
    response_model=IntentDetail,
    responses={
        200: {"headers": ETAG_HEADER},
        **UNAUTHORIZED_ANSWER,
        404: _error("No intent has this id."),
    },
)
def get_intent(
    intent_id: IntentId, caller: CallerDep, ledger: LedgerDep, response: Response
) -> dict[str, Any]:
    """An intent's state, what it waits for, its stage history and its governance decisions. `ETag` (and
    `content_hash`) is what `POST /intents/submit` takes as If-Match to change the service."""
    try:
        record = ledger.get(intent_id)
    except UnknownIntent:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=NO_INTENT.format(id=intent_id)) from None
    if _SHA256.fullmatch(record.content_hash):
        response.headers["ETag"] = f'"{record.content_hash}"'
    return {
        **record.to_json(),
        "history": [event.to_json() for event in ledger.history(intent_id)],
        "decisions": ledger.decisions(intent_id),
    }


@router.get("/intents", response_model=list[IntentView], responses={**UNAUTHORIZED_ANSWER})
def list_intents(
    caller: CallerDep,
    ledger: LedgerDep,
    state: IntentState | None = None,
    priority: Priority | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST, description="How many, most recent first.")] = 100,
) -> list[dict[str, Any]]:
    """Intents, most recently active first; filter by state and priority."""
    records = ledger.list_intents(
        state=state.value if state else None, priority=priority.value if priority else None, limit=limit
    )
    return [record.to_json() for record in records]
