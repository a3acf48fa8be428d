"""The registry's HTTP API (seed port 8000): what generated services call to register and heartbeat.

The registry itself (store, entries, provenance) is plain Python in `pipeline.registry`; this is its edge.

Every route needs `Authorization: Bearer <token>`; anything else gets 401 and changes nothing.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from pipeline.registry.model import (
    SERVICE_NAME_PATTERN,
    DeregisterAnswer,
    HeartbeatRequest,
    RegisterAnswer,
    RegisterRequest,
    Registration,
    RegistrationOutcome,
    RegistryEntry,
    ServiceStatus,
)
from pipeline.registry.store import RegistryStore

SEED_PORT = 8000
UNKNOWN_CALLER = "unknown caller: send Authorization: Bearer <REGISTRY_TOKEN>"
NOT_REGISTERED = "no service named {name!r} is registered"
VERSION_NOT_REGISTERED = "{name} {version} is not registered; register again"
WAS_DEREGISTERED = "{name} was deregistered; it is registered again only when it is deployed again"
VERSION_DEREGISTERED = (
    "{name} {version} was deregistered; it is registered again only when it is deployed again"
)
REGISTERED_SERVING = "{name} {version} {outcome}; it serves {name}"
REGISTERED_BESIDE = (
    "{name} {version} {outcome}; {serving} serves {name} until a deployer switches to {version}"
)
DEREGISTERED = "{name}: deregistered {versions}"
NOTHING_OF_VERSION = "{name} {version} is not registered (registered: {known})"
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
REGISTRY_ROUTES = "/services"
router = APIRouter(prefix=REGISTRY_ROUTES, dependencies=[Depends(_authenticate)])


@router.get("")
def list_services(store: Store, include_gone: bool = False) -> list[RegistryEntry]:
    """The versions serving each name; `include_gone`: deregistered services too."""
    return store.entries(include_gone=include_gone)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": RegisterAnswer, "description": "a version already known, updated"}},
)
def register(body: RegisterRequest, store: Store, request: Request, response: Response) -> RegisterAnswer:
    """201: a version the registry did not know; 200: a known one, updated. 409: it was deregistered."""
    done = store.register(name=body.name, version=body.version, url=body.url, health_path=body.health_path)
    if done.outcome is RegistrationOutcome.REFUSED:
        detail = VERSION_DEREGISTERED.format(name=body.name, version=body.version)
        raise HTTPException(status.HTTP_409_CONFLICT, detail)
    if done.outcome is RegistrationOutcome.UPDATED:
        response.status_code = status.HTTP_200_OK
    response.headers["location"] = str(request.url_for("get_service", name=body.name))
    return RegisterAnswer(
        **done.entry.model_dump(),
        outcome=done.outcome,
        serving=done.serves,
        detail=_registered(done),
    )


def _registered(done: Registration) -> str:
    entry = done.entry
    if done.serves or done.serving is None:
        return REGISTERED_SERVING.format(name=entry.name, version=entry.version, outcome=done.outcome.value)
    return REGISTERED_BESIDE.format(
        name=entry.name, version=entry.version, outcome=done.outcome.value, serving=done.serving.version
    )


@router.get("/{name}")
def get_service(name: ServiceName, store: Store) -> RegistryEntry:
    """The version serving `name`; 404 when none is registered or it was deregistered."""
    entry = store.get(name)
    if entry is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_REGISTERED.format(name=name))
    if entry.status is ServiceStatus.GONE:
        raise HTTPException(status.HTTP_404_NOT_FOUND, WAS_DEREGISTERED.format(name=name))
    return entry


@router.post("/{name}/heartbeat")
def heartbeat(name: ServiceName, body: HeartbeatRequest, store: Store) -> RegistryEntry:
    """200: noted. 404: that version is not registered (register again) or was deregistered."""
    entry = store.heartbeat(name, body.version)
    if entry is None:
        known = {e.version: e for e in store.versions(name)}
        template = (
            VERSION_DEREGISTERED
            if body.version in known and known[body.version].status is ServiceStatus.GONE
            else VERSION_NOT_REGISTERED
        )
        raise HTTPException(status.HTTP_404_NOT_FOUND, template.format(name=name, version=body.version))
    return entry


@router.delete("/{name}")
def deregister(
    name: ServiceName,
    store: Store,
    version: Annotated[str | None, Query(description="only this version (a draining predecessor)")] = None,
) -> DeregisterAnswer:
    """200 with the entries deregistered; 404 when nothing registered matched (unknown, or gone already).
    A deregistered version is kept as `gone` (`GET /services?include_gone=true`) and is not registered
    again until it is deployed again."""
    removed = store.deregister(name, version)
    if not removed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _nothing_to_deregister(store, name, version))
    versions = ", ".join(entry.version for entry in removed)
    return DeregisterAnswer(
        name=name, deregistered=removed, detail=DEREGISTERED.format(name=name, versions=versions)
    )


def _nothing_to_deregister(store: RegistryStore, name: str, version: str | None) -> str:
    known = {entry.version: entry for entry in store.versions(name)}
    if not known:
        return NOT_REGISTERED.format(name=name)
    if version is None:
        return WAS_DEREGISTERED.format(name=name)
    if version in known:
        return VERSION_DEREGISTERED.format(name=name, version=version)
    live = [v for v, entry in known.items() if entry.status is not ServiceStatus.GONE]
    return NOTHING_OF_VERSION.format(name=name, version=version, known=", ".join(live) or "none")


def create_registry_app(store: RegistryStore, token: SecretStr, *, docs: bool = False) -> FastAPI:
    """The registry app; mount it in the bot or serve it alone with uvicorn. `docs`: serve /docs, /redoc
    and /openapi.json (without the token, like the bot's own: INTENTOPS_API_DOCS)."""
    if not token.get_secret_value():
        raise ValueError("the registry needs a non-empty token")
    pages = {"docs_url": "/docs", "redoc_url": "/redoc", "openapi_url": "/openapi.json"}
    app = FastAPI(
        title="IntentOps service registry",
        version="1",
        **(pages if docs else dict.fromkeys(pages)),
    )
    app.state.registry_store = store
    app.state.registry_token = token
    app.include_router(router)

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
