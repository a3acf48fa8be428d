"""What the dashboard talks to, passed in once by whoever serves it (the bot's app or `intentops up`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from bot.api.auth import TokenVerifier
from bot.vcs.client import RepoClient
from pipeline.ledger import Ledger
from pipeline.llm.usage import UsageLedger
from pipeline.registry import RegistryStore
from pipeline.state import Database

RepoForToken = Callable[[str, str], RepoClient]
"""(user token, repository full name) -> a client that acts on the forge as that user."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DashboardContext:
    """The dashboard's collaborators. It reads the state database and acts on the forge as the user."""

    db: Database
    ledger: Ledger
    registry: RegistryStore
    verifier: TokenVerifier
    repo_for_token: RepoForToken
    bot_login: str
    usage: UsageLedger | None = None
    clock: Callable[[], datetime] = field(default=utc_now)


def get_context(request: Request) -> DashboardContext:
    context: DashboardContext = request.app.state.dashboard
    return context


ContextDep = Annotated[DashboardContext, Depends(get_context)]
