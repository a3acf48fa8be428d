"""The bot's app alone, for the crash tests: `python -m tests.bot.webhook_server DATABASE_URL DATA_DIR PORT`.

Push deliveries are queued (a route takes them) and no worker runs them; uvicorn serves it as `bot serve`
does, until it is killed or sent SIGTERM. The webhook secret comes from INTENTOPS_WEBHOOK_SECRET.
"""

from __future__ import annotations

import sys

import uvicorn

from bot.app import bot_routes, create_app, open_state_database
from bot.events import PushEvent
from bot.routing import BotContext, Routes
from bot.serving import server_config
from bot.settings import Settings


def ignore(event: PushEvent, context: BotContext) -> None:
    """Never called: no worker runs in this process."""


def main() -> None:
    url, data_dir, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    routes = Routes()
    routes.on(PushEvent)(ignore)
    settings = Settings(**{"INTENTOPS_DATA_DIR": data_dir})
    app = create_app(settings, database=open_state_database(url), routes=bot_routes(routes), worker_threads=0)
    uvicorn.Server(server_config(app, settings, host="127.0.0.1", port=port, log_level="warning")).run()


if __name__ == "__main__":
    main()
