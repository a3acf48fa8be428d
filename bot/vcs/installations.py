"""A GitHub App on many installations: each repository is worked on with its own installation's token.

As Probot and Prow do, the installation comes from the event: every event an App receives names its
`installation.id`, and `installation` / `installation_repositories` events say which repositories an
installation gained or lost. A repository no event has named yet is looked up once
(`GET /repos/{owner}/{repo}/installation`). Each installation has one PyGithub auth, which fetches its
token with the App's JWT and refreshes it before it expires; nothing is shared between installations.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from github import Auth, GithubIntegration

from bot.vcs.github import GITHUB_API, Connection, translated

log = logging.getLogger(__name__)

APP_LOGIN = "{slug}[bot]"


class AppInstallations:
    """The App's installations: a connection per installation, the installation of each repository."""

    def __init__(self, app_id: int, private_key: str, base_url: str | None = None) -> None:
        self.base_url = (base_url or GITHUB_API).rstrip("/")
        self._app_auth = Auth.AppAuth(app_id, private_key)
        self._integration = GithubIntegration(auth=self._app_auth, base_url=self.base_url)
        self._by_repo: dict[str, int] = {}
        self._connections: dict[int, Connection] = {}
        self._lock = threading.Lock()

    @translated
    def bot_login(self) -> str:
        """The App's bot account, `<slug>[bot]` (its commits, comments and reviews are the bot's own)."""
        return APP_LOGIN.format(slug=self._integration.get_app().slug)

    def seen(self, full_name: str, installation_id: int | None) -> None:
        """An event about `full_name` came through `installation_id`: that installation answers for it."""
        if full_name and installation_id is not None:
            with self._lock:
                self._by_repo[full_name.lower()] = installation_id

    def installed(self, installation_id: int, added: Iterable[str], removed: Iterable[str] = ()) -> None:
        with self._lock:
            for name in added:
                self._by_repo[name.lower()] = installation_id
            for name in removed:
                if self._by_repo.get(name.lower()) == installation_id:
                    del self._by_repo[name.lower()]

    def uninstalled(self, installation_id: int) -> None:
        """The App was removed from an account: forget its repositories and its token."""
        with self._lock:
            self._by_repo = {repo: found for repo, found in self._by_repo.items() if found != installation_id}
            self._connections.pop(installation_id, None)

    def installation_for(self, full_name: str) -> int:
        with self._lock:
            known = self._by_repo.get(full_name.lower())
        if known is not None:
            return known
        found = self._look_up(full_name)
        self.seen(full_name, found)
        return found

    @translated
    def _look_up(self, full_name: str) -> int:
        owner, _, name = full_name.partition("/")
        return int(self._integration.get_repo_installation(owner, name).id)

    def connection(self, installation_id: int) -> Connection:
        """The installation's connection (its token fetched when first used, refreshed as it expires)."""
        with self._lock:
            found = self._connections.get(installation_id)
            if found is None:
                auth = self._app_auth.get_installation_auth(installation_id)
                found = Connection(base_url=self.base_url, auth=auth, pace=self.base_url == GITHUB_API)
                self._connections[installation_id] = found
            return found

    def connection_for(self, full_name: str) -> Connection:
        return self.connection(self.installation_for(full_name))
