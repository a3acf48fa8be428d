"""How a service the line builds reaches the line's history: the read API's address and a read-only token
of its own, handed over by the deployer to a service that declares `data_sources: [line-history]`.

The token is derived from the line's stage token (HMAC-SHA256 over a fixed purpose), so it needs no setting
of its own and changes when the stage token does. The read API accepts it; nothing else does: a stage
service answers only the stage token itself, and the rest of the bot's API only a person's forge token. A
service holding it can read the history and cannot pose as the line to a stage service or write anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

DATA_SOURCES_FILE = "app/data_sources.json"
"""Present in a service that reads the line's data (`pipeline.factory.analyzer`): its sources and reports."""
ENV_HISTORY_URL = "HISTORY_URL"
"""The line's base address; the read API is under /history."""
ENV_HISTORY_TOKEN = "HISTORY_TOKEN"
"""The service's read-only bearer token for the read API."""
READER_PURPOSE = b"intentops/history-reader/v1"


def reader_token(stage_token: str) -> str:
    """The history-reader token of the line whose stage token is `stage_token` ("" without one)."""
    if not stage_token:
        return ""
    return hmac.new(stage_token.encode(), READER_PURPOSE, hashlib.sha256).hexdigest()


def declared_sources(service_dir: Path) -> list[str]:
    """The data sources the generated service in `service_dir` declares (none for most services)."""
    path = service_dir / DATA_SOURCES_FILE
    if not path.is_file():
        return []
    sources = json.loads(path.read_text(encoding="utf-8")).get("data_sources", [])
    return [str(s) for s in sources]


def history_environment(service_dir: Path, *, history_url: str, stage_token: str) -> dict[str, str]:
    """What the deployer adds to the environment of the service in `service_dir`: the read API's address
    and its reader token, for a service that declares the line's history (nothing for any other, or when
    the line has no stage token to derive one from)."""
    if "line-history" not in declared_sources(service_dir) or not history_url or not stage_token:
        return {}
    return {ENV_HISTORY_URL: history_url.rstrip("/"), ENV_HISTORY_TOKEN: reader_token(stage_token)}
