"""GitHub App installations: which installation answers for which repositories, kept as GitHub says.

`installation` (created, deleted, ...) and `installation_repositories` (added, removed) events update the
App's map from repository to installation (bot.vcs.installations); every other event already tells it
the installation it came through (bot.webhooks.dispatch). With a token instead of an App they change
nothing.
"""

from __future__ import annotations

import logging

from bot.events import InstallationEvent, InstallationRepositoriesEvent
from bot.routing import BotContext, Routes

log = logging.getLogger(__name__)
routes = Routes()

UNINSTALLED = "deleted"
CHANGED = "GitHub App installation %d (%s) %s: repositories added %s, removed %s"


def _apply(event: InstallationEvent, context: BotContext) -> None:
    app = context.line.app if context.line is not None else None
    if app is None:
        return
    if event.action == UNINSTALLED:
        app.uninstalled(event.installation_id or 0)
    else:
        app.installed(event.installation_id or 0, event.added, event.removed)
    log.info(
        CHANGED, event.installation_id, event.account, event.action, list(event.added), list(event.removed)
    )


@routes.on(InstallationEvent)
def on_installation(event: InstallationEvent, context: BotContext) -> None:
    _apply(event, context)


@routes.on(InstallationRepositoriesEvent)
def on_installation_repositories(event: InstallationRepositoriesEvent, context: BotContext) -> None:
    _apply(event, context)
