"""The line's own history over HTTP, read-only: pages of intents with their stage durations, SPEC scores and
findings per round, decisions, model cost and what people decided (`GET /history/intents`), and
spec-analyzer's reading of it (`GET /history/spec-analysis`).

Token-protected: a forge token of a person (as the rest of the API), the line's stage token, or the
history-reader token derived from it (`pipeline.history.access.reader_token`), which the deployer gives a
service declaring `data_sources: [line-history]`: that token is accepted here and nowhere else.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, Security, status
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel

from bot.api.auth import FORGE_TOKEN, UNAUTHORIZED, Caller, bearer_token
from bot.api.intents import UNAUTHORIZED_ANSWER
from pipeline.history.access import reader_token
from pipeline.history.analysis import analyze
from pipeline.history.export import MAX_PAGE, HistoryPage, page
from pipeline.state import Database

router = APIRouter(prefix="/history", tags=["history"])
LINE_SERVICE = "line-service"
"""Who a caller holding the stage token is (a service the line built for itself)."""
MAX_ANALYZED = 5000
"""At most this many intents (the most recent pages) go into one analysis."""


class HistoryItem(BaseModel):
    id: int
    repo: str
    path: str
    service_name: str
    state: str
    author: str
    created_at: str
    updated_at: str
    outcome: str
    stages: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    spec: dict[str, Any] | None
    cost: dict[str, Any]


class HistoryPageView(BaseModel):
    items: list[HistoryItem]
    next_cursor: int | None


class SpecAnalysisView(BaseModel):
    specs: int
    since: str
    until: str
    findings: list[dict[str, Any]]
    weeks: list[dict[str, Any]]
    vague_words: list[dict[str, Any]]
    suggested_hints: dict[str, Any]
    answers: list[str]
    suggested_intent: str


def require_reader(
    request: Request, _scheme: Annotated[HTTPAuthorizationCredentials | None, Security(FORGE_TOKEN)]
) -> Caller:
    """A person with a forge token, or a service of the line holding its stage or history-reader token."""
    token = bearer_token(request)
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
    )
    if token is None:
        raise unauthorized
    stage_token = request.app.state.context.settings.stage_token
    if stage_token is not None:
        secret = stage_token.get_secret_value()
        for accepted in (secret, reader_token(secret)):
            if hmac.compare_digest(token.encode(), accepted.encode()):
                return Caller(login=LINE_SERVICE, token=token)
    login = request.app.state.token_verifier.login(token)
    if login is None:
        raise unauthorized
    return Caller(login=login, token=token)


ReaderDep = Annotated[Caller, Depends(require_reader)]
Repo = Annotated[
    str | None, Query(max_length=200, pattern=r"^[\w.-]+/[\w.-]+$", description="Only this repository.")
]


def _database(request: Request) -> Database:
    database: Database = request.app.state.ledger.database
    return database


@router.get(
    "/intents",
    response_model=HistoryPageView,
    responses={
        200: {"headers": {"Link": {"description": "rel=next: the next page", "schema": {"type": "string"}}}},
        **UNAUTHORIZED_ANSWER,
    },
)
def history_intents(
    request: Request,
    response: Response,
    _reader: ReaderDep,
    repo: Repo = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="The cursor: intents with a higher id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Intents per page, oldest first.")] = 50,
) -> dict[str, Any]:
    """A page of the line's history, oldest intent first; `next_cursor` (and the Link header) gives the
    next page, null on the last."""
    found = page(_database(request), repo=repo, after=after, limit=limit)
    if found.next_cursor is not None:
        query = f"after={found.next_cursor}&limit={limit}" + (f"&repo={repo}" if repo else "")
        response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
    return found.to_json()


def all_pages(database: Database, *, repo: str | None, most: int = MAX_ANALYZED) -> list[Any]:
    items: list[Any] = []
    cursor: int | None = 0
    while cursor is not None and len(items) < most:
        found: HistoryPage = page(database, repo=repo, after=cursor, limit=MAX_PAGE)
        items.extend(found.items)
        cursor = found.next_cursor
    return items[-most:]


@router.get("/spec-analysis", response_model=SpecAnalysisView, responses={**UNAUTHORIZED_ANSWER})
def spec_analysis(request: Request, _reader: ReaderDep, repo: Repo = None) -> dict[str, Any]:
    """spec-analyzer: the findings that cost the most optimizer rounds, overall and per ISO week, and the
    spec-builder hints that would avoid them, with a `spec-builder-vN` intent that says them."""
    return analyze(all_pages(_database(request), repo=repo)).to_json()
