"""Repository webhooks: create (with a ping), list, get, update, delete; delivery log and redelivery."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from sqlalchemy import select

from forge import events
from forge.api.common import Body, no_content, ok, paginate
from forge.api.deps import Ctx, CtxDep
from forge.core import Perm
from forge.errors import Invalid, NotFound
from forge.models import Delivery, Hook, Repo, utcnow
from forge.render import Json, ts

router = APIRouter(prefix="/repos/{owner}/{name}/hooks")

CONTENT_TYPES = {"json", "form"}


class HookConfig(Body):
    url: str | None = None
    content_type: str = "form"
    secret: str | None = None
    insecure_ssl: str | int = "0"


class HookCreate(Body):
    name: str = "web"
    config: HookConfig
    events: list[str] = Field(default_factory=lambda: ["push"])
    active: bool = True


class HookUpdate(Body):
    config: HookConfig | None = None
    events: list[str] | None = None
    add_events: list[str] | None = None
    remove_events: list[str] | None = None
    active: bool | None = None


def _apply_config(hook: Hook, config: HookConfig) -> None:
    if not config.url or not config.url.startswith(("http://", "https://")):
        raise Invalid.custom("Hook", "Config must contain a valid http(s) URL.")
    if config.content_type not in CONTENT_TYPES:
        raise Invalid.field("Hook", "content_type", message="content_type must be json or form")
    hook.url, hook.content_type = config.url, config.content_type
    if config.secret is not None and config.secret != "********":
        hook.secret = config.secret or None
    hook.insecure_ssl = str(config.insecure_ssl)


def _hook(ctx: Ctx, repo: Repo, hook_id: int) -> Hook:
    hook = ctx.session.get(Hook, hook_id)
    if hook is None or hook.repo_id != repo.id:
        raise NotFound()
    return hook


@router.post("", status_code=201)
def create_hook(ctx: CtxDep, owner: str, name: str, body: HookCreate) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.ADMIN)
    hook = Hook(repo_id=repo.id, events=body.events or ["push"], active=body.active)
    _apply_config(hook, body.config)
    ctx.session.add(hook)
    ctx.session.flush()
    events.ping(ctx.r, repo, hook, ctx.me())
    return ok(ctx.r.hook(hook), 201)


@router.get("")
def list_hooks(ctx: CtxDep, request: Request, owner: str, name: str) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.ADMIN)
    hooks = ctx.session.scalars(select(Hook).where(Hook.repo_id == repo.id).order_by(Hook.id))
    return paginate(request, [ctx.r.hook(h) for h in hooks])


@router.get("/{hook_id}")
def get_hook(ctx: CtxDep, owner: str, name: str, hook_id: int) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.ADMIN)
    return ok(ctx.r.hook(_hook(ctx, repo, hook_id)))


@router.patch("/{hook_id}")
def update_hook(ctx: CtxDep, owner: str, name: str, hook_id: int, body: HookUpdate) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.ADMIN)
    hook = _hook(ctx, repo, hook_id)
    if body.config is not None:
        _apply_config(hook, body.config)
    wanted = list(body.events) if body.events is not None else list(hook.events)
    wanted += [e for e in body.add_events or [] if e not in wanted]
    hook.events = [e for e in wanted if e not in set(body.remove_events or [])]
    if body.active is not None:
        hook.active = body.active
    hook.updated_at = utcnow()
    return ok(ctx.r.hook(hook))


@router.delete("/{hook_id}")
def delete_hook(ctx: CtxDep, owner: str, name: str, hook_id: int) -> Response:
    repo = ctx.repo(owner, name, Perm.ADMIN)
    hook = _hook(ctx, repo, hook_id)
    for delivery in ctx.session.scalars(select(Delivery).where(Delivery.hook_id == hook.id)):
        ctx.session.delete(delivery)
    ctx.session.delete(hook)
    return no_content()


@router.post("/{hook_id}/pings", status_code=204)
def ping_hook(ctx: CtxDep, owner: str, name: str, hook_id: int) -> Response:
    repo = ctx.repo(owner, name, Perm.ADMIN)
    events.ping(ctx.r, repo, _hook(ctx, repo, hook_id), ctx.me())
    return no_content()


def delivery_summary(delivery: Delivery) -> Json:
    return {
        "id": delivery.id,
        "guid": delivery.guid,
        "delivered_at": ts(delivery.delivered_at),
        "redelivery": delivery.redelivery,
        "duration": delivery.duration,
        "status": delivery.status,
        "status_code": delivery.status_code,
        "event": delivery.event,
        "action": delivery.action,
        "installation_id": None,
        "repository_id": delivery.repo_id,
    }


@router.get("/{hook_id}/deliveries")
def list_deliveries(ctx: CtxDep, request: Request, owner: str, name: str, hook_id: int) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.ADMIN)
    hook = _hook(ctx, repo, hook_id)
    rows = ctx.session.scalars(
        select(Delivery).where(Delivery.hook_id == hook.id).order_by(Delivery.id.desc())
    )
    return paginate(request, [delivery_summary(d) for d in rows])


@router.get("/{hook_id}/deliveries/{delivery_id}")
def get_delivery(ctx: CtxDep, owner: str, name: str, hook_id: int, delivery_id: int) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.ADMIN)
    delivery = _delivery(ctx, _hook(ctx, repo, hook_id), delivery_id)
    data: dict[str, Any] = delivery_summary(delivery)
    data["url"] = _hook(ctx, repo, hook_id).url
    data["request"] = {"headers": delivery.request_headers, "payload": _payload(delivery)}
    data["response"] = {"headers": delivery.response_headers, "payload": delivery.response_body}
    return ok(data)


@router.post("/{hook_id}/deliveries/{delivery_id}/attempts", status_code=202)
def redeliver(ctx: CtxDep, owner: str, name: str, hook_id: int, delivery_id: int) -> JSONResponse:
    repo = ctx.repo(owner, name, Perm.ADMIN)
    delivery = _delivery(ctx, _hook(ctx, repo, hook_id), delivery_id)
    # Queued after this request's transaction, like every other event.
    ctx.r.after_commit(lambda: ctx.forge.hooks.redeliver(delivery.id))
    return ok({}, 202)


def _delivery(ctx: Ctx, hook: Hook, delivery_id: int) -> Delivery:
    delivery = ctx.session.get(Delivery, delivery_id)
    if delivery is None or delivery.hook_id != hook.id:
        raise NotFound()
    return delivery


def _payload(delivery: Delivery) -> Any:
    text = delivery.body.decode()
    if delivery.request_headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        text = parse_qs(text).get("payload", ["{}"])[0]
    return json.loads(text)
