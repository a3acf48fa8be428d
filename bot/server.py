"""The whole bot in one ASGI app: webhook intake and workers with the flows, the intents API, the service
registry (where generated services register) and the approval dashboard.

    /webhook            signed GitHub events        /intents, /intents/submit   the HTTP API
    /registry/...       the service registry        /dashboard/...              the approval dashboard
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from bot.api import history as history_api
from bot.api import intents as intents_api
from bot.api.auth import TokenVerifier
from bot.app import create_app, load_routes, open_state_database
from bot.dashboard.app import MOUNT_PATH, mount_dashboard
from bot.dashboard.context import DashboardContext, RepoForToken
from bot.deploying import deploy_setup
from bot.handlers import FLOW_MODULES
from bot.line import Line, build_line
from bot.monitor_timer import attach_monitor_timer
from bot.registry_api import create_registry_app
from bot.settings import Settings
from bot.stages import stage_registry
from bot.vcs.client import RepoClient
from bot.vcs.github import GithubRepoClient, login_of, token_connection
from pipeline.assembly import FactoryConfig
from pipeline.deploy import Backend, Deployer
from pipeline.deploy.wiring import build_deployer
from pipeline.llm import LLMProvider
from pipeline.llm.factory import build_provider
from pipeline.llm.usage import Budgets, UsageLedger
from pipeline.registry import RegistryStore
from pipeline.registry.tokens import load_or_create_token
from pipeline.state import Database

REGISTRY_PATH = "/registry"
log = logging.getLogger(__name__)


@dataclass
class Bot:
    app: FastAPI
    line: Line
    database: Database


def _budgets(settings: Settings) -> Budgets:
    return Budgets(
        per_intent_usd=settings.llm_budget_per_intent_usd, monthly_usd=settings.llm_budget_monthly_usd
    )


def _provider(settings: Settings, database: Database) -> LLMProvider:
    return build_provider(
        api_key=settings.anthropic_api_key,
        model=settings.anthropic_model,
        budgets=_budgets(settings),
        database=database,
        base_url=settings.anthropic_base_url,
    )


def _deployer(settings: Settings, database: Database, registry: RegistryStore, registry_url: str) -> Deployer:
    data = settings.data_dir.absolute()
    setup = deploy_setup(
        settings,
        data_dir=data,
        registry_url=registry_url,
        stage_token=settings.stage_token.get_secret_value() if settings.stage_token else "",
        history_url=settings.public_url.rstrip("/"),
    )
    return build_deployer(Backend(settings.deploy_backend), setup, database, registry)


def build_bot(
    settings: Settings, *, database: Database | None = None, worker_threads: int | None = None
) -> Bot:
    """Everything wired from `settings`; `settings.public_url` must be where this app will be served."""
    database = database or open_state_database(settings.state_database_url())
    public_url = settings.public_url.rstrip("/")
    registry = RegistryStore(database, ttl=timedelta(seconds=settings.registry_ttl_seconds))
    line = build_line(
        settings,
        database,
        provider=_provider(settings, database),
        registry=registry,
        deployer=_deployer(settings, database, registry, public_url + REGISTRY_PATH),
        public_url=public_url,
        login_for=login_of,
    )
    line.factory = FactoryConfig(gate=settings.spec_gate, stages=stage_registry(settings))
    line.usage = UsageLedger(database, _budgets(settings))
    _recover_services(line)
    app = create_app(
        settings,
        database=database,
        routes=load_routes(FLOW_MODULES),
        worker_threads=worker_threads,
        line=line,
    )
    attach_monitor_timer(app)  # the monitor also runs on a timer while the bot runs
    _add_api(app, settings, line)
    registry_token = load_or_create_token(settings.data_dir.absolute(), settings.registry_token)
    app.mount(REGISTRY_PATH, create_registry_app(registry, registry_token, docs=settings.api_docs))
    _add_dashboard(app, settings, line, database)
    return Bot(app=app, line=line, database=database)


def _recover_services(line: Line) -> None:
    """Services deployed before a restart: adopt the live ones, restart the dead, clean half-done switches."""
    for recovery in line.deployer.recover():
        log.info(
            "recovered %s %s: %s %s",
            recovery.name,
            recovery.version[:12],
            recovery.action.value,
            recovery.detail,
        )


def _repo_for_token(line: Line, full_name: str | None) -> Callable[[str], RepoClient]:
    def repo_for(token: str) -> RepoClient:
        if not full_name:
            raise RuntimeError(
                "INTENTOPS_REPO is not set: the API does not know which repository to commit to"
            )
        return GithubRepoClient(token_connection(token, line.api_base_url), full_name)

    return repo_for


def _add_api(app: FastAPI, settings: Settings, line: Line) -> None:
    app.state.ledger = line.ledger
    app.state.token_verifier = TokenVerifier(
        lambda token: login_of(token_connection(token, line.api_base_url))
    )
    app.state.repo_for_token = _repo_for_token(line, settings.intents_repo)
    app.include_router(intents_api.router)
    app.include_router(history_api.router)


def _add_dashboard(app: FastAPI, settings: Settings, line: Line, database: Database) -> None:
    usage = line.usage
    context = DashboardContext(
        db=database,
        ledger=line.ledger,
        registry=line.registry,
        verifier=app.state.token_verifier,
        repo_for_token=_dashboard_repo_for(line),
        bot_login=line.bot_login,
        usage=usage,
    )
    mount_dashboard(app, context, settings)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse(MOUNT_PATH + "/")


def _dashboard_repo_for(line: Line) -> RepoForToken:
    def repo_for(token: str, full_name: str) -> GithubRepoClient:
        return GithubRepoClient(token_connection(token, line.api_base_url), full_name)

    return repo_for
