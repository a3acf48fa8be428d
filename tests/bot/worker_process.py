"""A worker process for the crash tests: `python -m tests.bot.worker_process DATABASE_URL MARKER_DIR MODE`.

Its `work` jobs leave a `started-<job>-<pid>` marker, then hang (MODE=hang, to be SIGKILLed) or sleep a
little and leave a `done-<job>-<pid>` marker (MODE=finish). It works until SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from bot.app import bot_context, bot_routes, open_state_database
from bot.queue import Job
from bot.routing import BotContext, Routes
from bot.settings import Settings
from bot.worker import Worker

LEASE_SECONDS = 1.0


def main() -> None:
    url, markers, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    routes = Routes()

    @routes.job("work")
    def work(job: Job, context: BotContext) -> None:
        (markers / f"started-{job.id}-{os.getpid()}").touch()
        time.sleep(3600 if mode == "hang" else float(job.payload.get("seconds", 0.1)))
        (markers / f"done-{job.id}-{os.getpid()}").touch()

    settings = Settings(
        **{"INTENTOPS_JOB_LEASE_SECONDS": LEASE_SECONDS, "INTENTOPS_WEBHOOK_SECRET": "unused"}
    )
    context = bot_context(settings, open_state_database(url))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    Worker(context, bot_routes(routes), name=f"proc-{os.getpid()}").run(stop)


if __name__ == "__main__":
    main()
