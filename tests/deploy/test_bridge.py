"""A registry served on loopback is reachable from containers through the Docker bridge gateway, and only
the registry is: the rest of the app (the bot's dashboard, API, webhook) stays on loopback."""

from __future__ import annotations

import httpx
import pytest
from docker import DockerClient
from fastapi import FastAPI
from pydantic import SecretStr

from bot.registry_api import create_registry_app
from pipeline.deploy.bridge import bridge_gateway, listen
from pipeline.registry import RegistryStore
from tests.deploy.conftest import REGISTRY_TOKEN, serve_listeners

pytestmark = [pytest.mark.docker]


@pytest.fixture
def bot_like_app(registry: RegistryStore) -> FastAPI:
    app = FastAPI()
    app.get("/dashboard/")(lambda: {"private": True})
    app.mount("/registry", create_registry_app(registry, SecretStr(REGISTRY_TOKEN)))
    return app


def test_the_gateway_serves_the_registry_and_nothing_else(
    docker_engine: DockerClient, bot_like_app: FastAPI
) -> None:
    listeners = listen(bot_like_app, "127.0.0.1", 0, registry_prefix="/registry")
    gateway = bridge_gateway()
    auth = {"Authorization": f"Bearer {REGISTRY_TOKEN}"}

    with serve_listeners(listeners) as url:
        on_bridge = f"http://{gateway}:{listeners.port}"
        registry = httpx.get(f"{on_bridge}/registry/services", headers=auth)
        refused = httpx.get(f"{on_bridge}/registry/services")
        dashboard = httpx.get(f"{on_bridge}/dashboard/")
        local_dashboard = httpx.get(f"{url}/dashboard/")

    assert gateway is not None and listeners.gateway == gateway
    assert registry.status_code == 200 and registry.json() == []
    assert refused.status_code == 401
    assert dashboard.status_code == 404 and "only the registry" in dashboard.text
    assert local_dashboard.json() == {"private": True}


def test_a_host_that_is_not_loopback_is_not_doubled(
    docker_engine: DockerClient, bot_like_app: FastAPI
) -> None:
    gateway = bridge_gateway()
    assert gateway is not None

    listeners = listen(bot_like_app, gateway, 0, registry_prefix="/registry")

    try:
        assert listeners.gateway is None and len(listeners.sockets) == 1
        assert listeners.app is bot_like_app
    finally:
        for sock in listeners.sockets:
            sock.close()
