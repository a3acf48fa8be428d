"""Jinja2 templates and the filters they use: durations, times, scores, as a person reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from starlette.applications import Starlette
from starlette.responses import HTMLResponse

from bot.dashboard.sessions import CSRF_FIELD, User, csrf_token

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def duration(ms: Any) -> str:
    """`850 ms`, `12.3 s`, `4 min 05 s`, `2 h 10 min`; empty for a missing value."""
    if not isinstance(ms, int | float) or isinstance(ms, bool) or ms < 0:
        return ""
    if ms < 1000:
        return f"{int(ms)} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def when(moment: Any) -> str:
    """A UTC time as `2026-11-24 21:39 UTC`; whatever else, as given."""
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "" if moment is None else str(moment)


def iso(moment: Any) -> str:
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.isoformat()
    return ""


def percent(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "–"
    return f"{value * 100:.0f}%"


def money(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "–"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def safe_url(value: Any) -> str:
    """Only http(s) links: a `javascript:` URL in the ledger must not become a clickable link."""
    if isinstance(value, str) and value.lower().startswith(("http://", "https://")):
        return value
    return ""


def service_page(url: Any, path: Any) -> str:
    """A page of a running service (`/health`, `/docs`): the bare address of a service answers nothing of
    its own, so links go to a page that does. Empty for anything but http(s)."""
    base = safe_url(url).rstrip("/")
    if not base:
        return ""
    page = path if isinstance(path, str) and path.startswith("/") else "/"
    return base + page


def path_for(request: Request, name: str, /, **params: Any) -> str:
    """The path of one of the dashboard's routes, with the prefix it is mounted under (if any).

    `request.url_for` resolves names on the outermost app's router, which does not know the dashboard's
    names once it is mounted; the dashboard's own router and the scope's root path always do."""
    app: Starlette = request.scope["app"]
    return request.scope.get("root_path", "") + str(app.router.url_path_for(name, **params))


@pass_context
def _path_for(context: Any, name: str, /, **params: Any) -> str:
    return path_for(context["request"], name, **params)


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.filters.update(
        duration=duration,
        when=when,
        iso=iso,
        percent=percent,
        money=money,
        safe_url=safe_url,
        service_page=service_page,
    )
    env.globals["csrf_field"] = CSRF_FIELD
    env.globals["path_for"] = _path_for
    return templates


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    user: User | None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a page with what every page needs: the user, the CSRF token, and flash messages."""
    templates: Jinja2Templates = request.app.state.templates
    flashes = request.session.pop("flash", [])
    page = {
        "signed_in_as": user.login if user else None,
        "here": getattr(request.scope.get("route"), "name", ""),
        "here_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "csrf": csrf_token(request, user),
        "flashes": flashes,
        **context,
    }
    return templates.TemplateResponse(request, name, page, status_code=status_code)


def flash(request: Request, message: str, kind: str = "info") -> None:
    """A message for the next page this user sees (after a redirect)."""
    request.session["flash"] = [*request.session.get("flash", []), {"kind": kind, "text": message}]
