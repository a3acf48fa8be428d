"""A small service in the generated layout, for the deployer tests: /health, /hello, self-registration."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Response

from app import behaviour

NAME = "hello-fixture"


def _token() -> str:
    """REGISTRY_TOKEN, or the file REGISTRY_TOKEN_FILE names (a Swarm secret), as generated services do."""
    path = os.environ.get("REGISTRY_TOKEN_FILE")
    if path:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    return os.environ.get("REGISTRY_TOKEN", "")


async def _keep_registered() -> None:
    registry = os.environ.get("REGISTRY_URL")
    if not registry:
        return
    headers = {"Authorization": f"Bearer {_token()}"}
    version = os.environ.get("SERVICE_VERSION", "dev")
    body = {
        "name": NAME,
        "version": version,
        "url": os.environ.get("SERVICE_URL", ""),
        "health_path": "/health",
    }
    interval = float(os.environ.get("HEARTBEAT_SECONDS", "10"))
    registered = False
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if not registered:
                    registered = (
                        await client.post(f"{registry}/services/register", json=body, headers=headers)
                    ).is_success
                else:
                    beat = await client.post(
                        f"{registry}/services/{NAME}/heartbeat", json={"version": version}, headers=headers
                    )
                    registered = beat.is_success
            await asyncio.sleep(interval if registered else 0.2)


@contextlib.asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    task = asyncio.create_task(_keep_registered())
    yield
    task.cancel()


app = FastAPI(lifespan=lifespan)


@app.get("/health")
def health(response: Response) -> dict[str, str]:
    if not behaviour.HEALTHY:
        response.status_code = 503
        return {"status": "failing"}
    return {"status": "ok"}


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"message": behaviour.GREETING, "version": os.environ.get("SERVICE_VERSION", "dev")}
