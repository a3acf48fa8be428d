"""Everything the flow handlers talk to, built once from the settings: the line's services for the bot.

Handlers receive it through `BotContext.line`; tests build it with real parts (a forge, SQLite, the
offline provider, the process sandbox, the local deployer) pointed at temporary directories.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bot.settings import Settings
from bot.vcs.client import RepoClient
from bot.vcs.github import Connection, GithubRepoClient, token_connection
from bot.vcs.workspace import GitIdentity, Workspace, auth_environment
from pipeline.assembly import FactoryConfig
from pipeline.deploy import Deployer
from pipeline.governance import PolicyStore
from pipeline.ledger import Ledger
from pipeline.llm import LLMProvider
from pipeline.registry import RegistryStore
from pipeline.sandbox.runner import Sandbox, sandbox_for
from pipeline.state import Database

GITHUB_API = "https://api.github.com"


class LineConfigurationError(RuntimeError):
    """The bot cannot reach a forge with these settings; the message says what to set."""


def git_base_url(api_base_url: str) -> str:
    """Where repositories are cloned from, given the REST API's base URL."""
    if api_base_url.rstrip("/") == GITHUB_API:
        return "https://github.com"
    parts = urlsplit(api_base_url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class Line:
    """The bot's handles on the forge and the assembly line."""

    bot_login: str
    api_base_url: str
    connection: Connection
    git_env: dict[str, str]
    ledger: Ledger
    provider: LLMProvider
    registry: RegistryStore
    deployer: Deployer
    workdir: Path
    wheelhouse: Path
    venv_cache: Path
    public_url: str
    factory: FactoryConfig = FactoryConfig()
    policy_stores: dict[str, PolicyStore] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def repo(self, full_name: str) -> RepoClient:
        return GithubRepoClient(self.connection, full_name)

    def workspace(self, full_name: str) -> Workspace:
        remote = f"{git_base_url(self.api_base_url)}/{full_name}.git"
        identity = GitIdentity(self.bot_login, f"{self.bot_login}@users.noreply.intentops")
        return Workspace(self.workdir / "repos" / full_name, remote, self.git_env, identity)

    def policies(self, full_name: str) -> PolicyStore:
        """One store per repository: it keeps the last policy set that loaded while newer files are broken."""
        with self._lock:
            return self.policy_stores.setdefault(full_name, PolicyStore())

    def sandbox_for(self, service_dir: Path) -> Sandbox:
        return sandbox_for(service_dir, wheelhouse=self.wheelhouse, cache_dir=self.venv_cache)

    def intent_url(self, intent_id: int) -> str:
        return f"{self.public_url.rstrip('/')}/intents/{intent_id}"


def build_line(
    settings: Settings,
    database: Database,
    *,
    provider: LLMProvider,
    registry: RegistryStore,
    deployer: Deployer,
    public_url: str,
    login_for: Callable[[Connection], str | None],
) -> Line:
    token = settings.github_token.get_secret_value() if settings.github_token else ""
    if not token:
        raise LineConfigurationError(
            "the bot needs a forge token (GITHUB_TOKEN), or `intentops up` to make one"
        )
    base_url = (settings.github_base_url or GITHUB_API).rstrip("/")
    connection = token_connection(token, base_url)
    login = settings.bot_login or login_for(connection)
    if not login:
        raise LineConfigurationError("the forge refused the bot's token (GITHUB_TOKEN)")
    data = settings.data_dir.absolute()
    return Line(
        bot_login=login,
        api_base_url=base_url,
        connection=connection,
        git_env=auth_environment(login, token),
        ledger=Ledger(database),
        provider=provider,
        registry=registry,
        deployer=deployer,
        workdir=data / "bot",
        wheelhouse=data / "wheelhouse",
        venv_cache=data / "venvs",
        public_url=public_url,
    )
