"""The bot's FastAPI app: the webhook intake, worker threads run by its lifespan, the features' routes."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from bot.handlers import FLOW_MODULES
from bot.metrics import add_metrics
from bot.queue import JobQueue
from bot.readiness import add_readiness
from bot.routing import BotContext, Routes
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.line import Line
from bot.webhooks.dispatch import event_job_handler
from bot.webhooks.intake import EVENT_JOB_KIND, EventJobPayload, WebhookIntake
from bot.webhooks.router import add_webhook
from bot.worker import WorkerPool
from pipeline.state import Database

HANDLER_MODULES: tuple[str, ...] = FLOW_MODULES
"""Feature modules, each with a module-level `routes: Routes` (the flows, listed in `bot.handlers`)."""

MISSING_SECRET = (
    "INTENTOPS_WEBHOOK_SECRET is not set: the bot refuses unsigned webhooks, "
    "so it needs the secret its webhooks are signed with"
)

NOT_A_HANDLER_MODULE = "handler module {module} has no module-level `routes = Routes()`"
DOCS_URL, REDOC_URL, OPENAPI_URL = "/docs", "/redoc", "/openapi.json"


def docs_routes(*, enabled: bool) -> dict[str, Any]:
    """FastAPI's /docs, /redoc and /openapi.json, or none of them (the default: INTENTOPS_API_DOCS). They
    answer without a sign-in and the pages load their scripts from a CDN; `app.openapi()` works either way.
    """
    if enabled:
        return {"docs_url": DOCS_URL, "redoc_url": REDOC_URL, "openapi_url": OPENAPI_URL}
    return {"docs_url": None, "redoc_url": None, "openapi_url": None}


class BotConfigurationError(RuntimeError):
    """The bot cannot start with these settings; the message says which one to fix."""


def open_state_database(url: str) -> Database:
    """The state database with every table, the bot's included (imported above, so declared on Base)."""
    database = Database(url)
    database.create_all()
    return database


def bot_routes(*features: Routes) -> Routes:
    """The features' routes plus the handler of event jobs, which dispatches to them."""
    routes = Routes()
    for feature in features:
        routes.include(feature)
    routes.job(EVENT_JOB_KIND, payload=EventJobPayload)(event_job_handler(routes))
    return routes


def load_routes(modules: Iterable[str] = HANDLER_MODULES) -> Routes:
    features = []
    for name in modules:
        routes = getattr(importlib.import_module(name), "routes", None)
        if not isinstance(routes, Routes):
            raise BotConfigurationError(NOT_A_HANDLER_MODULE.format(module=name))
        features.append(routes)
    return bot_routes(*features)


def bot_context(settings: Settings, database: Database, line: Line | None = None) -> BotContext:
    queue = JobQueue.from_settings(settings, database)
    return BotContext(settings=settings, database=database, queue=queue, line=line)


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    routes: Routes | None = None,
    worker_threads: int | None = None,
    line: Line | None = None,
) -> FastAPI:
    """The bot's app. `routes` defaults to HANDLER_MODULES' (give `bot_routes(...)` to choose);
    `worker_threads` defaults to the settings' (0: no workers in this process)."""
    if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
        raise BotConfigurationError(MISSING_SECRET)
    owns_database = database is None
    database = database or open_state_database(settings.state_database_url())
    context = bot_context(settings, database, line)
    routes = routes if routes is not None else load_routes()
    threads = settings.worker_threads if worker_threads is None else worker_threads
    pool = WorkerPool(context, routes, threads=threads, prefix="app")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool.start()
        try:
            yield
        finally:
            await run_in_threadpool(pool.stop)
            if owns_database:
                database.dispose()

    app = FastAPI(title="IntentOps bot", lifespan=lifespan, **docs_routes(enabled=settings.api_docs))
    intake = WebhookIntake(routes=routes, queue=context.queue, bot_login=settings.bot_login)
    add_webhook(
        app,
        intake,
        secret=settings.webhook_secret.get_secret_value(),
        max_bytes=settings.webhook_max_bytes,
        on_queued=pool.wake,
    )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    add_readiness(app, settings, database)
    add_metrics(app, database)

    app.state.context = context
    app.state.routes = routes
    app.state.workers = pool
    return app
