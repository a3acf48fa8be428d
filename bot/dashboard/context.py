"""What the dashboard talks to, passed in once by whoever serves it (the bot's app or `intentops up`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Protocol

from fastapi import Depends, Request

from bot.api.auth import TokenVerifier
from bot.vcs.client import RepoClient, ReviewReader
from bot.vcs.github import GithubRepoClient, login_of, token_connection
from pipeline.ledger import Ledger
from pipeline.llm.usage import UsageLedger
from pipeline.registry import RegistryStore
from pipeline.state import Database


class DashboardRepo(RepoClient, ReviewReader, Protocol):
    """A repository as the signed-in user sees it: what the bot asks, plus the diffs and the conversation a
    reviewer reads (`bot.vcs.github.GithubRepoClient` is both)."""


RepoForToken = Callable[[str, str], DashboardRepo]
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


def forge_context(
    *,
    db: Database,
    ledger: Ledger,
    registry: RegistryStore,
    api_base_url: str,
    bot_login: str,
    usage: UsageLedger | None = None,
) -> DashboardContext:
    """The usual wiring: users sign in with tokens of the forge (or GitHub) at `api_base_url`, and act on
    it through PyGithub as themselves."""
    base = api_base_url.rstrip("/")

    def login_for(token: str) -> str | None:
        return login_of(token_connection(token, base))

    def repo_for(token: str, full_name: str) -> DashboardRepo:
        # Lazy: a page asks several questions about one pull request; each is then one request.
        return GithubRepoClient(token_connection(token, base), full_name, lazy=True)

    return DashboardContext(
        db=db,
        ledger=ledger,
        registry=registry,
        verifier=TokenVerifier(login_for),
        repo_for_token=repo_for,
        bot_login=bot_login,
        usage=usage,
    )
