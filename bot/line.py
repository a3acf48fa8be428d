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
from bot.vcs.checks import repo_client
from bot.vcs.client import RepoClient
from bot.vcs.commitfiles import CommitFiles
from bot.vcs.github import Connection, git_password, token_connection
from bot.vcs.installations import AppInstallations
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
GHE_CLOUD_SUFFIX = ".ghe.com"
NO_APP_KEY = (
    "GITHUB_APP_ID is set without the App's private key (GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH)"
)
NO_CREDENTIALS = "the bot needs GITHUB_TOKEN, or GITHUB_APP_ID and GITHUB_PRIVATE_KEY, or `intentops up`"
APP_GIT_USER = "x-access-token"  # what GitHub expects as git's user name with an installation token


INTENT_PAGE = "/dashboard/intents/{id}"  # bot.dashboard.app.MOUNT_PATH + the intent detail route


class LineConfigurationError(RuntimeError):
    """The bot cannot reach a forge with these settings; the message says what to set."""


def git_base_url(api_base_url: str) -> str:
    """Where repositories are cloned from, given the REST API's base URL: github.com for api.github.com,
    `NAME.ghe.com` for GitHub Enterprise Cloud's `api.NAME.ghe.com`, the host of a server's `/api/v3`."""
    if api_base_url.rstrip("/") == GITHUB_API:
        return "https://github.com"
    parts = urlsplit(api_base_url)
    host = parts.netloc
    if host.lower().startswith("api.") and host.lower().endswith(GHE_CLOUD_SUFFIX):
        host = host[len("api.") :]
    return f"{parts.scheme}://{host}"


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
    app: AppInstallations | None = None
    """A GitHub App's installations (each repository worked on with its own installation's token)."""
    policy_stores: dict[str, PolicyStore] = field(default_factory=dict)
    files: CommitFiles = field(default_factory=CommitFiles)
    """Files at commit SHAs, read from the forge once and shared by the workers."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def checks(self) -> Checks:
        """What the line tested per pull request head, and the governed policy changes."""
        return Checks(self.ledger.database)

    def repo(self, full_name: str) -> RepoClient:
        return self.repo_for(full_name)

    def event_seen(self, full_name: str, installation_id: int | None) -> None:
        """A GitHub App: the installation an event came through is the one that works on its repository."""
        if self.app is not None:
            self.app.seen(full_name, installation_id)

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


def _app(settings: Settings, base_url: str) -> AppInstallations | None:
    """A GitHub App's installations, when the settings name an App."""
    if settings.github_app_id is None:
        return None
    if settings.github_private_key is None:
        raise LineConfigurationError(NO_APP_KEY)
    return AppInstallations(settings.github_app_id, settings.github_private_key.get_secret_value(), base_url)


def _connect(
    settings: Settings, base_url: str, login_for: Callable[[Connection], str | None]
) -> tuple[Connection, str, str]:
    """(connection, the bot's login, git's user name) of a token."""
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
    app = _app(settings, base_url)
    if app is not None:
        login = settings.bot_login or app.bot_login()
        repo_for, workspace_for = app_clients(app, base_url, login)
    else:
        connection, login, git_user = _connect(settings, base_url, login_for)
        repo_for = _repo_for(connection)
        workspace_for = git_workspaces(connection, base_url, git_user, login)
    data = settings.data_dir.absolute()
    return Line(
        bot_login=login,
        api_base_url=base_url,
        repo_for=repo_for,
        workspace_for=workspace_for,
        app=app,
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


def _repo_for(connection: Connection) -> RepoFor:
    return lambda full_name: repo_client(connection, full_name)  # check runs for an App


def app_clients(app: AppInstallations, api_base_url: str, bot_login: str) -> tuple[RepoFor, WorkspaceFor]:
    """Clients and working copies that act on each repository with its own installation's token."""
    identity = GitIdentity(bot_login, f"{bot_login}@users.noreply.intentops")

    def repo_for(full_name: str) -> RepoClient:
        return repo_client(app.connection_for(full_name), full_name)

    def workspace_for(full_name: str, directory: Path) -> Workspace:
        remote = f"{git_base_url(api_base_url)}/{full_name}.git"
        env = auth_environment(APP_GIT_USER, git_password(app.connection_for(full_name)))
        return Workspace(directory, remote, env, identity)

    return repo_for, workspace_for


def git_workspaces(connection: Connection, api_base_url: str, git_user: str, bot_login: str) -> WorkspaceFor:
    """Working copies cloned from the forge behind `api_base_url`, committing as the bot."""
    identity = GitIdentity(bot_login, f"{bot_login}@users.noreply.intentops")

    def workspace_for(full_name: str, directory: Path) -> Workspace:
        remote = f"{git_base_url(api_base_url)}/{full_name}.git"
        env = auth_environment(git_user, git_password(connection))  # fresh: app tokens expire
        return Workspace(directory, remote, env, identity)

    return workspace_for
