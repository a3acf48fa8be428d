"""Webhook deliveries: signed as GitHub signs them, sent in the background, in order per repository.

`emit` records one delivery per subscribed hook and returns at once; a worker thread per repository sends
them one after another, so a receiver that is down or slow never blocks the push or API call that caused
the event, and never reorders one repository's events.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import select

from forge.db import ForgeDB
from forge.models import Delivery, Hook, utcnow

log = logging.getLogger(__name__)

USER_AGENT = "GitHub-Hookshot/1f0c3e5"
_STOP = -1
_MAX_RESPONSE_BODY = 4096


def sign(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value: HMAC-SHA256 of the exact body, keyed by the hook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign_sha1(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def encode_body(payload: dict[str, Any], content_type: str) -> tuple[bytes, str]:
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    if content_type == "form":
        return urlencode({"payload": text}).encode(), "application/x-www-form-urlencoded"
    return text.encode(), "application/json"


def delivery_headers(hook: Hook, event: str, guid: str, body: bytes, media_type: str) -> dict[str, str]:
    headers = {
        "Accept": "*/*",
        "Content-Type": media_type,
        "User-Agent": USER_AGENT,
        "X-GitHub-Delivery": guid,
        "X-GitHub-Event": event,
        "X-GitHub-Hook-ID": str(hook.id),
        "X-GitHub-Hook-Installation-Target-ID": str(hook.repo_id),
        "X-GitHub-Hook-Installation-Target-Type": "repository",
    }
    if hook.secret:
        headers["X-Hub-Signature"] = sign_sha1(hook.secret, body)
        headers["X-Hub-Signature-256"] = sign(hook.secret, body)
    return headers


def subscribed(hook: Hook, event: str) -> bool:
    return hook.active and (event in hook.events or "*" in hook.events)


class Dispatcher:
    """Queues deliveries per repository and sends them from one worker thread per repository."""

    def __init__(self, db: ForgeDB, *, timeout_s: float = 10.0) -> None:
        self.db = db
        self.timeout_s = timeout_s
        self._queues: dict[int, queue.Queue[int]] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False)
        self._closed = False
        self.on_delivered: Callable[[Delivery], None] | None = None

    def emit(
        self, repo_id: int, event: str, payload: dict[str, Any], *, hook_ids: list[int] | None = None
    ) -> list[int]:
        """Record a delivery for every hook subscribed to `event` and queue them; returns their ids."""
        guid = str(uuid.uuid4())
        action = payload.get("action")
        ids: list[int] = []
        with self.db.session() as session:
            hooks = session.scalars(select(Hook).where(Hook.repo_id == repo_id).order_by(Hook.id)).all()
            for hook in hooks:
                wanted = hook.id in hook_ids if hook_ids is not None else subscribed(hook, event)
                if not wanted:
                    continue
                body, media_type = encode_body(payload, hook.content_type)
                delivery = Delivery(
                    hook_id=hook.id,
                    repo_id=repo_id,
                    guid=guid,
                    event=event,
                    action=action if isinstance(action, str) else None,
                    body=body,
                    request_headers=delivery_headers(hook, event, guid, body, media_type),
                )
                session.add(delivery)
                session.flush()
                ids.append(delivery.id)
        for delivery_id in ids:
            self._enqueue(repo_id, delivery_id)
        return ids

    def redeliver(self, delivery_id: int) -> int | None:
        """Send a recorded delivery again (same GUID and body, re-signed with the hook's current secret)."""
        with self.db.session() as session:
            old = session.get(Delivery, delivery_id)
            hook = session.get(Hook, old.hook_id) if old else None
            if old is None or hook is None:
                return None
            media_type = old.request_headers.get("Content-Type", "application/json")
            copy = Delivery(
                hook_id=old.hook_id,
                repo_id=old.repo_id,
                guid=old.guid,
                event=old.event,
                action=old.action,
                body=old.body,
                redelivery=True,
                request_headers=delivery_headers(hook, old.event, old.guid, old.body, media_type),
            )
            session.add(copy)
            session.flush()
            new_id, repo_id = copy.id, copy.repo_id
        self._enqueue(repo_id, new_id)
        return new_id

    def _enqueue(self, repo_id: int, delivery_id: int) -> None:
        with self._lock:
            if self._closed:
                return
            q = self._queues.get(repo_id)
            if q is None:
                q = self._queues[repo_id] = queue.Queue()
                thread = threading.Thread(
                    target=self._work, args=(q,), name=f"forge-hooks-{repo_id}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        q.put(delivery_id)

    def _work(self, q: queue.Queue[int]) -> None:
        while True:
            delivery_id = q.get()
            if delivery_id == _STOP:
                return
            try:
                self._send(delivery_id)
            except Exception:  # a broken delivery must not stop the repository's later ones
                log.exception("webhook delivery %s could not be recorded", delivery_id)

    def _send(self, delivery_id: int) -> None:
        with self.db.session() as session:
            delivery = session.get(Delivery, delivery_id)
            hook = session.get(Hook, delivery.hook_id) if delivery else None
            if delivery is None or hook is None:
                return
            url, body, headers = hook.url, delivery.body, dict(delivery.request_headers)
        started = time.perf_counter()
        code, status, response_headers, text = 0, "", {}, ""
        try:
            response = self._client.post(url, content=body, headers=headers)
            code, status = response.status_code, "OK" if response.is_success else response.reason_phrase
            response_headers, text = dict(response.headers), response.text[:_MAX_RESPONSE_BODY]
        except httpx.HTTPError as exc:
            status = f"failed to connect: {type(exc).__name__}"
        self._record(delivery_id, code, status, time.perf_counter() - started, response_headers, text)

    def _record(
        self, delivery_id: int, code: int, status: str, duration: float, headers: dict[str, str], text: str
    ) -> None:
        with self.db.session() as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None:
                return
            delivery.status_code, delivery.status, delivery.duration = code, status, round(duration, 3)
            delivery.delivered_at, delivery.response_headers, delivery.response_body = utcnow(), headers, text
            hook = session.get(Hook, delivery.hook_id)
            if hook is not None:
                hook.last_code, hook.last_status = (
                    (code or None),
                    ("active" if 200 <= code < 300 else "failed"),
                )
                hook.last_message = status
        if self.on_delivered is not None:
            self.on_delivered(delivery)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop accepting deliveries, let queued ones finish (up to timeout_s), stop the workers."""
        with self._lock:
            self._closed = True
            queues, threads = list(self._queues.values()), list(self._threads)
        for q in queues:
            q.put(_STOP)
        deadline = time.monotonic() + timeout_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._client.close()
