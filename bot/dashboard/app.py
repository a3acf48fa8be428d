"""The dashboard as an ASGI app: served alone (seed port 8214) or mounted inside the bot's app."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.container_usage import ThrottledSampler
from bot.dashboard import analytics, approvals, auth, detail, live, merges, queue, services, stages
from bot.dashboard.context import DashboardContext
from bot.dashboard.forgecache import ForgeViewCache
from bot.dashboard.intenttext import IntentTexts
from bot.dashboard.rendering import STATIC, build_templates, path_for, render
from bot.dashboard.sessions import SESSION_COOKIE, SignInRequired, session_secret
from bot.dashboard.sessionstore import SessionStore
from bot.dashboard.signinlimit import SignInLimiter
from bot.dashboard.specdoc import SpecCache
from bot.dashboard.text import BAD_REQUEST
from bot.settings import Settings
from pipeline.costs import RateCard

SEED_PORT = 8214
MOUNT_PATH = "/dashboard"
ROUTERS = (
    auth.router,
    queue.router,
    detail.router,
    approvals.router,
    merges.router,
    services.router,
    analytics.router,
    stages.router,
)

SECURITY_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """Pure ASGI (not BaseHTTPMiddleware), so the live event stream is passed through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
                if not scope["path"].endswith(".js") and not scope["path"].endswith(".css"):
                    message["headers"].append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, with_headers)


async def _sign_in_first(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    target = f"{path_for(request, 'signin')}?{urlencode({'next': exc.next_path})}"
    if request.headers.get("hx-request"):
        return Response(status_code=status.HTTP_401_UNAUTHORIZED, headers={"HX-Redirect": target})
    return RedirectResponse(target, status.HTTP_303_SEE_OTHER)


async def _error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return render(
        request,
        "error.html",
        {"title": f"Error {exc.status_code}", "status_code": exc.status_code, "message": exc.detail},
        user=None,
        status_code=exc.status_code,
    )


async def _bad_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    where = ", ".join(".".join(str(part) for part in error.get("loc", ())) for error in exc.errors())
    return render(
        request,
        "error.html",
        {"title": "Error 400", "status_code": 400, "message": BAD_REQUEST.format(where=where)},
        user=None,
        status_code=status.HTTP_400_BAD_REQUEST,
    )


def _session_store(context: DashboardContext, settings: Settings, secret: str) -> SessionStore:
    return SessionStore(
        context.db,
        secret=secret,
        idle_seconds=settings.dashboard_idle_hours * 3600,
        lifetime_seconds=settings.dashboard_session_hours * 3600,
        clock=lambda: context.clock().timestamp(),
    )


def create_dashboard_app(context: DashboardContext, settings: Settings) -> FastAPI:
    """The dashboard app. Refuses (DashboardConfigError) a missing or placeholder session secret outside
    development."""
    secret = session_secret(settings)
    session_seconds = int(settings.dashboard_session_hours * 3600)
    app = FastAPI(title="IntentOps dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.dashboard = context
    app.state.sessions = _session_store(context, settings, secret)
    app.state.signin_limiter = SignInLimiter(context.db, clock=lambda: context.clock().timestamp())
    app.state.templates = build_templates()
    app.state.poll_seconds = settings.dashboard_poll_seconds
    app.state.stream_seconds = live.STREAM_SECONDS
    app.state.forge_cache = ForgeViewCache[Any](ttl_seconds=settings.dashboard_forge_cache_seconds)
    app.state.spec_cache = SpecCache()
    app.state.intent_texts = IntentTexts()
    app.state.rates = RateCard.load(settings.rate_card)  # priced compute on the Analytics page
    app.state.sample_containers = ThrottledSampler(settings, context.db)  # live CPU and memory there
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=session_seconds,
        same_site="lax",
        https_only=settings.dashboard_https_only,
    )
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(live.router)
    app.add_exception_handler(SignInRequired, _sign_in_first)
    app.add_exception_handler(StarletteHTTPException, _error_page)
    app.add_exception_handler(RequestValidationError, _bad_request)
    return app


def mount_dashboard(
    app: FastAPI, context: DashboardContext, settings: Settings, *, path: str = MOUNT_PATH
) -> FastAPI:
    """Serve the dashboard under `path` of another app (the bot's); returns the mounted app."""
    dashboard = create_dashboard_app(context, settings)
    app.mount(path, dashboard, name="dashboard")
    return dashboard
