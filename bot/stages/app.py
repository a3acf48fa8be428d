"""The factory stages as HTTP apps (JSON in, JSON out): alignment-scorer, spec-builder, spec-verifier,
spec-optimizer, code-generator, each on the contract of `pipeline.factory.contracts`.

Each stage is servable alone on its seed port, or several together in one app. Every route but /health
needs the bearer token. `file_path` requests read only inside the configured root.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from bot.stages.context import StageContext
from bot.stages.routes import ROUTERS
from pipeline.factory.builtin import builtin_stages
from pipeline.factory.contracts import CONTRACT_VERSION, Stage
from pipeline.llm import LLMProvider

MAX_BODY_BYTES = 1024 * 1024
NEEDS_TOKEN = "a stage needs a non-empty token"
CHUNKED_REFUSED = "send a Content-Length; chunked bodies are refused"
BODY_TOO_LARGE = f"the body must be at most {MAX_BODY_BYTES} bytes"


def create_stage_app(
    *stages: Stage, token: SecretStr, files_root: Path | None = None, provider: LLMProvider | None = None
) -> FastAPI:
    """An app serving `stages` (all of them when none is named) with the built-in implementations, bound
    to `provider` (None: offline)."""
    if not token.get_secret_value().strip():
        raise ValueError(NEEDS_TOKEN)
    served = stages or tuple(Stage)
    app = FastAPI(title="IntentOps factory: " + ", ".join(s.value for s in served), version=CONTRACT_VERSION)
    app.state.stage_context = StageContext(
        token=token, files_root=files_root, stages=builtin_stages(provider)
    )
    app.middleware("http")(_limit_body)
    for stage in served:
        app.include_router(ROUTERS[stage])

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "stages": [s.value for s in served], "contract_version": CONTRACT_VERSION}

    return app


async def _limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    if "transfer-encoding" in request.headers:
        return JSONResponse({"detail": CHUNKED_REFUSED}, status_code=411)
    length = request.headers.get("content-length", "0")
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        return JSONResponse({"detail": BODY_TOO_LARGE}, status_code=413)
    return await call_next(request)
