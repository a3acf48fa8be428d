"""What a delivery must pass before anything is recorded: a body within its limit, then a valid signature.

Both refuse with `WebhookRejected`, whose status and message go back to the sender as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus

from gidgethub import BadRequest, ValidationFailure, sansio
from starlette.requests import ClientDisconnect
from starlette.types import Receive

from bot.webhooks.deliveries import MAX_DELIVERY_ID, MAX_EVENT_NAME, MAX_HOOK_ID

SIGNATURE_HEADER = "x-hub-signature-256"
HOOK_ID_HEADER = "x-github-hook-id"
EVENT_HEADER = "x-github-event"
DELIVERY_HEADER = "x-github-delivery"

MISSING_SIGNATURE = "missing X-Hub-Signature-256 header"
BAD_SIGNATURE = "signature does not match the payload"
TOO_LARGE = "payload larger than {limit} bytes"
BAD_LENGTH = "invalid Content-Length header"
MISSING_HEADERS = "missing X-GitHub-Event or X-GitHub-Delivery header"
BAD_JSON = "body is not valid JSON"
NOT_AN_OBJECT = "payload must be a JSON object"
UNSUPPORTED_TYPE = "expected a content-type of application/json or application/x-www-form-urlencoded"
BAD_IDENTIFIERS = "X-GitHub-Delivery, X-GitHub-Event or X-GitHub-Hook-ID is empty or too long"


class WebhookRejected(Exception):
    """The request is refused with `status`; `message` is safe to show the sender."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def verify(headers: Mapping[str, str], body: bytes, *, secret: str) -> sansio.Event:
    """The signed event, or `WebhookRejected`. The signature is checked before anything else is read."""
    signature = headers.get(SIGNATURE_HEADER)
    if not signature:
        raise WebhookRejected(HTTPStatus.UNAUTHORIZED, MISSING_SIGNATURE)
    if is_utf8_json(headers.get("content-type", "")):
        event = _json_event(headers, body, signature=signature, secret=secret)
    else:
        event = _other_event(headers, body, secret=secret)
    if not isinstance(event.data, dict):
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, NOT_AN_OBJECT)
    # Duplicates are detected on these two values: refuse what would not be stored as sent.
    if not 0 < len(event.delivery_id) <= MAX_DELIVERY_ID or not 0 < len(event.event) <= MAX_EVENT_NAME:
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, BAD_IDENTIFIERS)
    if len(headers.get(HOOK_ID_HEADER, "")) > MAX_HOOK_ID:
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, BAD_IDENTIFIERS)
    return event


def _json_event(headers: Mapping[str, str], body: bytes, *, signature: str, secret: str) -> sansio.Event:
    """GitHub's usual delivery (UTF-8 JSON), read as gidgethub's `Event.from_http` reads it, in the same
    order, without parsing its content type again for each delivery."""
    try:
        sansio.validate_event(body, signature=signature, secret=secret)  # HMAC-SHA256, compare_digest
    except ValidationFailure:
        raise WebhookRejected(HTTPStatus.UNAUTHORIZED, BAD_SIGNATURE) from None
    try:
        data = json.loads(body.decode()) if body else None
    except ValueError:
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, BAD_JSON) from None
    try:
        return sansio.Event(data, event=headers[EVENT_HEADER], delivery_id=headers[DELIVERY_HEADER])
    except KeyError:
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, MISSING_HEADERS) from None


def _other_event(headers: Mapping[str, str], body: bytes, *, secret: str) -> sansio.Event:
    """Any other delivery (form-encoded, another charset, a content type GitHub does not send)."""
    try:
        # With X-Hub-Signature-256 present, gidgethub checks it (HMAC-SHA256, hmac.compare_digest).
        return sansio.Event.from_http(headers, body, secret=secret)
    except ValidationFailure:
        raise WebhookRejected(HTTPStatus.UNAUTHORIZED, BAD_SIGNATURE) from None
    except KeyError:
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, MISSING_HEADERS) from None
    except BadRequest as exc:
        # gidgethub reports undecodable JSON as an unsupported content type; say what is wrong instead.
        json_body = headers.get("content-type", "").startswith("application/json")
        if json_body and isinstance(exc.__cause__, ValueError):
            raise WebhookRejected(HTTPStatus.BAD_REQUEST, BAD_JSON) from None
        raise WebhookRejected(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, UNSUPPORTED_TYPE) from None


async def read_body(headers: Mapping[str, str], receive: Receive, *, limit: int) -> bytes:
    """The body, refusing (413) anything over `limit` bytes without reading more than that."""
    declared = headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise WebhookRejected(HTTPStatus.BAD_REQUEST, BAD_LENGTH) from None
        if length > limit:
            raise WebhookRejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, TOO_LARGE.format(limit=limit))
    chunks: list[bytes] = []
    size = 0
    more = True
    # Chunked bodies have no Content-Length, and a declared length can lie: count what arrives.
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise WebhookRejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, TOO_LARGE.format(limit=limit))
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def is_utf8_json(content_type: str) -> bool:
    """Whether a verified body with this content type is its event's JSON in UTF-8 (GitHub's JSON
    deliveries), as opposed to a form-encoded one or another charset."""
    media, _, parameters = content_type.partition(";")
    if media.strip().lower() != "application/json":
        return False
    charset = parameters.strip().lower().removeprefix("charset=").strip('"')
    return not parameters.strip() or charset in ("utf-8", "utf8")
