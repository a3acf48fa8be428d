"""`intentops bot serve` (the whole bot: webhook, flows, API, registry, dashboard, worker threads) and
`intentops worker` (more workers with the same flows, on the same state database)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer
import uvicorn
from prometheus_client import start_http_server
from pydantic import ValidationError
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.app import BotConfigurationError
from bot.cli.datamodes import check_data_dir
from bot.cli.output import err, fail, out
from bot.config import ConfigFileError, describe_settings_error
from bot.dashboard.sessions import DashboardConfigError
from bot.line import LineConfigurationError
from bot.logs import configure_logging
from bot.metrics import PROCESS_REGISTRY
from bot.server import REGISTRY_PATH, Bot, build_bot
from bot.serving import server_config
from bot.settings import Settings
from bot.vcs.errors import ForgeError
from bot.worker import WorkerPool
from pipeline.deploy.bridge import listen
from pipeline.sandbox.host import sandbox_host_problems

DEFAULT_PORT = 8212
"""The seed's intent-queue port: the bot is where intents and events arrive."""
STOP_GRACE_SECONDS = 60.0

WORKING = "worker: {threads} thread(s) on {database}; Ctrl-C or SIGTERM stops after the current jobs"
NOT_A_WORKER_HOST = "worker: this host cannot run builds: {problems}"
STOPPED_LATE = "worker: a job was still running at the end of the grace period; another worker takes it over"
BAD_SETTINGS = "invalid settings: {problems}"
NO_DATABASE = "cannot open the state database {database}: {reason}"
NO_FORGE = "cannot reach the forge's API at {url}: {reason}"

bot_app = typer.Typer(help="The bot: webhook intake, job queue and workers.", no_args_is_help=True)


def _settings() -> Settings:
    try:
        return Settings()
    except ConfigFileError as exc:
        fail(BAD_SETTINGS.format(problems=exc))
    except ValidationError as exc:
        fail(BAD_SETTINGS.format(problems="; ".join(describe_settings_error(exc))))


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _log_bot_at_info(settings: Settings) -> None:
    # Refused and ignored deliveries, retries and dead jobs are logged by the `bot` loggers at INFO and up;
    # a long-running process's log says when each thing happened (as JSON with INTENTOPS_LOG_FORMAT=json).
    configure_logging(settings.log_format, level=logging.INFO)


def _build(settings: Settings, *, threads: int) -> Bot:
    """The bot as `intentops up` wires it; a configuration problem is one line, not a traceback."""
    try:
        return build_bot(settings, worker_threads=threads)
    except (BotConfigurationError, LineConfigurationError, DashboardConfigError) as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(NO_DATABASE.format(database=_shown(settings.state_database_url()), reason=type(exc).__name__))
    except ForgeError as exc:
        fail(NO_FORGE.format(url=settings.github_base_url or "https://api.github.com", reason=exc.short))


@bot_app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = DEFAULT_PORT,
    threads: Annotated[
        int | None, typer.Option("--threads", help="Worker threads in this process (default: settings)")
    ] = None,
) -> None:
    """Serve the bot (POST /webhook, the intents API, registry, dashboard) and its worker threads."""
    settings = _settings()
    _log_bot_at_info(settings)
    check_data_dir(settings.data_dir)
    bot = _build(settings, threads=settings.worker_threads if threads is None else threads)
    try:  # on a loopback host, Docker-deployed services reach the registry through the bridge gateway
        listeners = listen(bot.app, host, port, registry_prefix=REGISTRY_PATH)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    # JSON logs: uvicorn's own lines go through the same JSON handler (bot.logs) instead of its text config.
    logs = {"log_config": None} if settings.log_format == "json" else {}
    config = server_config(listeners.app, settings, host=host, port=listeners.port, log_level="info", **logs)
    uvicorn.Server(config).run(sockets=listeners.sockets)


def worker(
    threads: Annotated[int, typer.Option("--threads", min=1, help="Worker threads in this process")] = 2,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", help="Serve this process's job metrics at /metrics on this port"),
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Interface of the metrics port")] = "0.0.0.0",
) -> None:
    """Run more workers on the state database's job queue until Ctrl-C or SIGTERM."""
    settings = _settings()
    _log_bot_at_info(settings)
    check_data_dir(settings.data_dir)
    bot = _build(settings, threads=0)
    line = bot.line
    problems = sandbox_host_problems(wheelhouse=line.wheelhouse, venv_cache=line.venv_cache) if line else []
    if problems:
        fail(NOT_A_WORKER_HOST.format(problems="; ".join(problems)))
    if metrics_port is not None:
        try:
            start_http_server(metrics_port, addr=metrics_host, registry=PROCESS_REGISTRY)
        except OSError as exc:
            fail(f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc.strerror or exc}")
    # The app is built only for its wiring (flows, line, queue); this process serves no HTTP.
    pool = WorkerPool(bot.app.state.context, bot.app.state.routes, threads=threads, prefix="cli")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    pool.start()
    out.print(escape(WORKING.format(threads=threads, database=_shown(settings.state_database_url()))))
    while not stop.wait(1.0):
        pass
    if not pool.stop(STOP_GRACE_SECONDS):
        err.print(escape(STOPPED_LATE))
    bot.database.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(bot_app, name="bot")
    app.command()(worker)
