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

from pydantic import SecretStr

from bot.settings import Settings
from bot.vcs.client import RepoClient
from bot.vcs.github import Connection, GithubRepoClient, app_connection, git_password, token_connection
from bot.vcs.workspace import GitIdentity, Workspace, auth_environment
from pipeline.assembly import FactoryConfig
from pipeline.deploy import Deployer
from pipeline.governance import PolicyStore
from pipeline.governance.floor import FloorLoadError, load_floor
from pipeline.governance.kept import PolicyKeeper
from pipeline.governance.loading import PolicySet
from pipeline.ledger import Checks, Ledger
from pipeline.llm import LLMProvider
from pipeline.llm.usage import UsageLedger
from pipeline.registry import RegistryStore
from pipeline.sandbox.runner import Sandbox, sandbox_for
from pipeline.state import Database

GITHUB_API = "https://api.github.com"
NO_CREDENTIALS = "the bot needs GITHUB_TOKEN, or GITHUB_APP_ID and GITHUB_PRIVATE_KEY, or `intentops up`"
APP_GIT_USER = "x-access-token"  # what GitHub expects as git's user name with an installation token


INTENT_PAGE = "/dashboard/intents/{id}"  # bot.dashboard.app.MOUNT_PATH + the intent detail route


class LineConfigurationError(RuntimeError):
    """The bot cannot reach a forge with these settings; the message says what to set."""


def git_base_url(api_base_url: str) -> str:
    """Where repositories are cloned from, given the REST API's base URL."""
    if api_base_url.rstrip("/") == GITHUB_API:
        return "https://github.com"
    parts = urlsplit(api_base_url)
    return f"{parts.scheme}://{parts.netloc}"


RepoFor = Callable[[str], RepoClient]
"""`owner/name` -> the bot's client for that repository on its forge."""
WorkspaceFor = Callable[[str, Path], Workspace]
"""(`owner/name`, where the working copy lives) -> the bot's git working copy of that repository."""


@dataclass
class Line:
    """The bot's handles on the forge and the assembly line. The forge comes in as two callables
    (`repo_for`, `workspace_for`), so handler logic runs as well against a strict in-memory fake."""

    bot_login: str
    api_base_url: str
    repo_for: RepoFor
    workspace_for: WorkspaceFor
    ledger: Ledger
    provider: LLMProvider
    registry: RegistryStore
    deployer: Deployer
    workdir: Path
    wheelhouse: Path
    venv_cache: Path
    public_url: str
    merge_on_signoff: bool = True
    """Merge a requires_approval intent's PR once its sign-off is complete and every check passed."""
    factory: FactoryConfig = FactoryConfig()
    usage: UsageLedger | None = None
    """Model calls and their cost (what a PR reports as the intent's cost)."""
    stage_token: SecretStr | None = None
    """The bearer token the line sends to stage services (INTENTOPS_STAGE_TOKEN)."""
    floor: PolicySet | None = None
    """The bot's floor policies (INTENTOPS_POLICY_FLOOR): evaluated with every repository's own, which may
    add to them but never weaken them."""
    policy_stores: dict[str, PolicyStore] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def checks(self) -> Checks:
        """What the line tested per pull request head, and the governed policy changes."""
        return Checks(self.ledger.database)

    def repo(self, full_name: str) -> RepoClient:
        return self.repo_for(full_name)

    def workspace(self, full_name: str) -> Workspace:
        return self.workspace_for(full_name, self.workdir / "repos" / full_name)

    def policies(self, full_name: str) -> PolicyStore:
        """One store per repository: it keeps the last policy set that loaded while newer files are broken,
        in the state database, so a restart or another worker process keeps it too."""
        with self._lock:
            store = self.policy_stores.get(full_name)
            if store is None:
                keeper = PolicyKeeper(self.ledger.database, full_name)
                store = self.policy_stores[full_name] = PolicyStore(keeper=keeper)
            return store

    def sandbox_for(self, service_dir: Path) -> Sandbox:
        return sandbox_for(service_dir, wheelhouse=self.wheelhouse, cache_dir=self.venv_cache)

    def intent_url(self, intent_id: int) -> str:
        """The intent's page for people (status "Details" links, PR bodies): the dashboard's, which asks a
        browser to sign in, rather than the API's, which answers 401 to anyone without a header."""
        return f"{self.public_url.rstrip('/')}{INTENT_PAGE.format(id=intent_id)}"


def _connect(
    settings: Settings, base_url: str, login_for: Callable[[Connection], str | None]
) -> tuple[Connection, str, str]:
    """(connection, the bot's login, git's user name): a GitHub App's installation, or a token."""
    if settings.github_app_id is not None and settings.github_private_key is not None:
        if not settings.intents_repo:
            raise LineConfigurationError("a GitHub App needs INTENTOPS_REPO to find its installation")
        key = settings.github_private_key.get_secret_value()
        connection, login = app_connection(settings.github_app_id, key, settings.intents_repo, base_url)
        return connection, settings.bot_login or login, APP_GIT_USER
    token = settings.github_token.get_secret_value() if settings.github_token else ""
    if not token:
        raise LineConfigurationError(NO_CREDENTIALS)
    connection = token_connection(token, base_url)
    found = settings.bot_login or login_for(connection)
    if not found:
        raise LineConfigurationError("the forge refused the bot's token (GITHUB_TOKEN)")
    return connection, found, found


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
    try:
        floor = load_floor(settings.policy_floor)
    except FloorLoadError as exc:  # never run with a floor that cannot be read: say where it breaks
        raise LineConfigurationError(f"INTENTOPS_POLICY_FLOOR: {exc}") from None
    base_url = (settings.github_base_url or GITHUB_API).rstrip("/")
    connection, login, git_user = _connect(settings, base_url, login_for)
    data = settings.data_dir.absolute()
    return Line(
        bot_login=login,
        api_base_url=base_url,
        repo_for=lambda full_name: GithubRepoClient(connection, full_name),
        workspace_for=git_workspaces(connection, base_url, git_user, login),
        ledger=Ledger(database),
        provider=provider,
        registry=registry,
        deployer=deployer,
        workdir=data / "bot",
        wheelhouse=data / "wheelhouse",
        venv_cache=data / "venvs",
        public_url=public_url,
        merge_on_signoff=settings.merge_on_signoff,
        stage_token=settings.stage_token,
        floor=floor,
    )


def git_workspaces(connection: Connection, api_base_url: str, git_user: str, bot_login: str) -> WorkspaceFor:
    """Working copies cloned from the forge behind `api_base_url`, committing as the bot."""
    identity = GitIdentity(bot_login, f"{bot_login}@users.noreply.intentops")

    def workspace_for(full_name: str, directory: Path) -> Workspace:
        remote = f"{git_base_url(api_base_url)}/{full_name}.git"
        env = auth_environment(git_user, git_password(connection))  # fresh: app tokens expire
        return Workspace(directory, remote, env, identity)

    return workspace_for
