"""Containers reach a registry served on the host's loopback: the serving process also listens on the
Docker bridge's gateway (where `host.docker.internal` points); requests arriving there reach the registry
only."""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import DockerException
from starlette.responses import PlainTextResponse

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
ENGINE_TIMEOUT_SECONDS = 3
NOT_ON_BRIDGE = "only the registry is served on the Docker bridge\n"
GATEWAY_BUSY = "cannot also listen on the Docker bridge at %s:%s (%s): containers will not reach the registry"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def bridge_gateway() -> str | None:
    """The default bridge's IPv4 gateway when a Docker engine answers; None without one."""
    try:
        client = docker.from_env(timeout=ENGINE_TIMEOUT_SECONDS)
    except DockerException:
        return None
    try:
        configs = client.networks.get("bridge").attrs["IPAM"]["Config"] or []
    except (DockerException, KeyError, TypeError):
        return None
    finally:
        client.close()
    for config in configs:
        subnet = ipaddress.ip_network(config.get("Subnet", "::/128"), strict=False)
        if subnet.version == 4:
            # Some engines leave the gateway out of the IPAM config: it is the subnet's first address.
            return str(config.get("Gateway") or next(subnet.hosts()))
    return None


@dataclass(frozen=True)
class Listeners:
    """Bound sockets to hand to `uvicorn.Server.run(sockets=...)`, and the app to serve on them."""

    sockets: list[socket.socket]
    app: ASGIApp
    port: int
    gateway: str | None  # the bridge address also listened on, if any


def listen(app: ASGIApp, host: str, port: int, *, registry_prefix: str = "") -> Listeners:
    """Bind host:port (OSError when taken) and, for a loopback host, the bridge gateway on the same port.

    Through the gateway only paths under `registry_prefix` are served ("" = the whole app is the registry):
    the registry checks its bearer token, the rest of the app stays on loopback."""
    main = _bind(host, port)
    bound = int(main.getsockname()[1])
    gateway = bridge_gateway() if host in LOOPBACK_HOSTS else None
    if gateway is None:
        return Listeners([main], app, bound, None)
    try:
        extra = _bind(gateway, bound)
    except OSError as exc:
        log.warning(GATEWAY_BUSY, gateway, bound, exc.strerror or exc)
        return Listeners([main], app, bound, None)
    guarded = app if not registry_prefix else registry_only(app, gateway=gateway, prefix=registry_prefix)
    return Listeners([main, extra], guarded, bound, gateway)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def registry_only(app: ASGIApp, *, gateway: str, prefix: str) -> ASGIApp:
    """Requests that arrive on the gateway address reach `app` only under `prefix`; the others get 404."""
    prefix = prefix.rstrip("/")

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server") or ("", 0)
        path = str(scope.get("path", ""))
        allowed = path == prefix or path.startswith(prefix + "/")
        if scope["type"] in ("http", "websocket") and server[0] == gateway and not allowed:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await PlainTextResponse(NOT_ON_BRIDGE, status_code=404)(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded
