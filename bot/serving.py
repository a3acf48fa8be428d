"""How the bot's HTTP server is configured wherever it starts (`bot serve`, `up`, `demo`): forwarded
headers are believed only from the proxies the settings name.

uvicorn, left to its defaults, believes `X-Forwarded-For` from 127.0.0.1 (or `$FORWARDED_ALLOW_IPS`): any
local process, or a client reaching the bot through anything on loopback, could then choose the address
the sign-in limit counts under. So the options are always given explicitly here.
"""

from __future__ import annotations

from typing import Any

import uvicorn

from bot.settings import Settings


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config keyword arguments: forwarded headers from `settings.trusted_proxies` only (none
    when it is empty, the default)."""
    proxies = list(settings.trusted_proxies)
    return {"proxy_headers": bool(proxies), "forwarded_allow_ips": proxies}


def server_config(app: Any, settings: Settings, *, host: str, port: int, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration of the bot's app (`options`: log level, graceful shutdown, ...)."""
    return uvicorn.Config(app, host=host, port=port, **proxy_options(settings), **options)
