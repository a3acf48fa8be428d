"""The registry's HTTP API (seed port 8000): what generated services call to register and heartbeat.

Every route needs `Authorization: Bearer <token>`; anything else gets 401 and changes nothing.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from pipeline.registry.model import (
    SERVICE_NAME_PATTERN,
    HeartbeatRequest,
    RegisterRequest,
    RegistryEntry,
)
from pipeline.registry.store import RegistryStore

SEED_PORT = 8000
UNKNOWN_CALLER = "unknown caller: send Authorization: Bearer <REGISTRY_TOKEN>"
NOT_REGISTERED = "no service named {name!r} is registered"
VERSION_NOT_REGISTERED = "{name} {version} is not registered; register again"

_bearer = HTTPBearer(auto_error=False)
ServiceName = Annotated[str, Path(pattern=SERVICE_NAME_PATTERN)]


def _store(request: Request) -> RegistryStore:
    store: RegistryStore = request.app.state.registry_store
    return store


def _authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    token: SecretStr = request.app.state.registry_token
    offered = credentials.credentials if credentials is not None else ""
    # compare_digest: the time taken must not tell how much of a guessed token was right.
    if not offered or not secrets.compare_digest(offered.encode(), token.get_secret_value().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, UNKNOWN_CALLER, headers={"WWW-Authenticate": "Bearer"}
        )


Store = Annotated[RegistryStore, Depends(_store)]
router = APIRouter(prefix="/services", dependencies=[Depends(_authenticate)])


@router.get("")
def list_services(store: Store, include_gone: bool = True) -> list[RegistryEntry]:
    return store.entries(include_gone=include_gone)


@router.post("/register")
def register(body: RegisterRequest, store: Store) -> RegistryEntry:
    return store.register(name=body.name, version=body.version, url=body.url, health_path=body.health_path)


@router.get("/{name}")
def get_service(name: ServiceName, store: Store) -> RegistryEntry:
    entry = store.get(name)
    if entry is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_REGISTERED.format(name=name))
    return entry


@router.post("/{name}/heartbeat")
def heartbeat(name: ServiceName, body: HeartbeatRequest, store: Store) -> RegistryEntry:
    entry = store.heartbeat(name, body.version)
    if entry is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, VERSION_NOT_REGISTERED.format(name=name, version=body.version)
        )
    return entry


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def deregister(
    name: ServiceName,
    store: Store,
    version: Annotated[str | None, Query(description="only this version (a draining predecessor)")] = None,
) -> None:
    # Idempotent: deregistering what is already gone is not an error.
    store.deregister(name, version)


def create_registry_app(store: RegistryStore, token: SecretStr) -> FastAPI:
    """The registry app; mount it in the bot or serve it alone with uvicorn."""
    if not token.get_secret_value():
        raise ValueError("the registry needs a non-empty token")
    app = FastAPI(title="IntentOps service registry", version="1")
    app.state.registry_store = store
    app.state.registry_token = token
    app.include_router(router)

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
