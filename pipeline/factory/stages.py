"""The factory stages as HTTP apps (JSON in, JSON out): spec-builder, spec-verifier, spec-optimizer.

Each stage is servable alone on its seed port, or several together in one app. Every route but
/health needs the bearer token. `file_path` requests read only inside the configured root.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import SecretStr, ValidationError

from pipeline.factory.contracts import (
    CONTRACT_VERSION,
    BuildRequest,
    OptimizeFileRequest,
    OptimizeRequest,
    Stage,
    VerifyFileRequest,
    VerifyRequest,
)
from pipeline.intents import InvalidIntent, parse_intent_mapping
from pipeline.llm import LLMProvider
from pipeline.spec.builder import build_spec
from pipeline.spec.judge import judged_verification
from pipeline.spec.model import Spec
from pipeline.spec.optimizer import optimize
from pipeline.spec.render import SPEC_JSON, read_spec, render_markdown
from pipeline.spec.verifier import Finding, stale_markdown

MAX_BODY_BYTES = 1024 * 1024
MAX_FILE_BYTES = 1024 * 1024
UNAUTHORIZED = "missing or wrong bearer token"


@dataclass(frozen=True)
class StageContext:
    token: SecretStr
    files_root: Path | None
    provider: LLMProvider | None


def _context(request: Request) -> StageContext:
    context: StageContext = request.app.state.stage_context
    return context


def _authenticate(request: Request) -> StageContext:
    context = _context(request)
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    expected = context.token.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status_code=401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
    return context


Context = Annotated[StageContext, Depends(_authenticate)]


def _spec(data: dict[str, Any]) -> Spec:
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        detail = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()[:50]]
        raise HTTPException(status_code=422, detail=detail) from None


def _spec_file(context: StageContext, file_path: str) -> Spec:
    return _read_spec_file(context, file_path)[0]


def _read_spec_file(context: StageContext, file_path: str) -> tuple[Spec, tuple[Finding, ...]]:
    """The spec.json at (or beside) `file_path`; given a SPEC.md, also whether it matches spec.json."""
    if context.files_root is None:
        raise HTTPException(status_code=404, detail="this stage serves no files (no root configured)")
    root = context.files_root.resolve()
    target = (root / file_path).resolve()
    if not target.is_relative_to(root):
        raise HTTPException(status_code=403, detail=f"{file_path}: outside the stage's root")
    markdown = target if target.suffix == ".md" else None
    if markdown is not None:
        target = target.with_name(SPEC_JSON)  # SPEC.md is rendered from spec.json beside it
    if target.is_dir():
        target = target / SPEC_JSON
    if not target.is_file():
        raise HTTPException(status_code=404, detail=f"{file_path}: no spec.json there")
    if target.stat().st_size > MAX_FILE_BYTES:
        raise HTTPException(status_code=413, detail=f"{file_path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        spec = read_spec(target)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc).replace(str(root) + "/", "")) from None
    if markdown is None:
        return spec, ()
    return spec, stale_markdown(spec, _read_markdown(markdown, file_path), render_markdown(spec))


def _read_markdown(path: Path, file_path: str) -> str:
    if not path.is_file():
        raise HTTPException(status_code=404, detail=f"{file_path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise HTTPException(status_code=413, detail=f"{file_path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HTTPException(status_code=422, detail=f"{file_path}: cannot read: {exc}") from None


def _verification(
    spec: Spec, provider: LLMProvider | None, documents: tuple[Finding, ...] = ()
) -> dict[str, Any]:
    verification = judged_verification(spec, provider, documents=documents)
    return {"contract_version": CONTRACT_VERSION, "service_name": spec.service_name, **verification.to_json()}


def _optimized(spec: Spec, gate: int, max_rounds: int, provider: LLMProvider | None) -> dict[str, Any]:
    report = optimize(spec, gate=gate, max_rounds=max_rounds, provider=provider)
    return {"contract_version": CONTRACT_VERSION, **report.to_json(), "spec": report.spec.to_json()}


builder = APIRouter()
verifier = APIRouter()
optimizer = APIRouter()


@builder.post("/build")
def build(body: BuildRequest, context: Context) -> dict[str, Any]:
    """Build the SPEC of an intent (deterministic offline; with a model when the stage has one)."""
    try:
        intent = parse_intent_mapping(body.intent, source=body.intent_path or "request")
    except InvalidIntent as exc:
        raise HTTPException(status_code=422, detail=[p.to_json() for p in exc.problems]) from None
    spec = build_spec(
        intent, blueprint=body.blueprint, intent_path=body.intent_path, provider=context.provider
    )
    return {"contract_version": CONTRACT_VERSION, "spec": spec.to_json()}


@verifier.post("/verify")
def verify_spec(body: VerifyRequest, context: Context) -> dict[str, Any]:
    return _verification(_spec(body.spec), context.provider)


@verifier.post("/verify-file")
def verify_file(body: VerifyFileRequest, context: Context) -> dict[str, Any]:
    spec, documents = _read_spec_file(context, body.file_path)
    return _verification(spec, context.provider, documents)


@optimizer.post("/optimize")
def optimize_spec(body: OptimizeRequest, context: Context) -> dict[str, Any]:
    return _optimized(_spec(body.spec), body.gate, body.max_rounds, context.provider)


@optimizer.post("/optimize-file")
def optimize_file(body: OptimizeFileRequest, context: Context) -> dict[str, Any]:
    return _optimized(_spec_file(context, body.file_path), body.gate, body.max_rounds, context.provider)


ROUTERS = {Stage.SPEC_BUILDER: builder, Stage.SPEC_VERIFIER: verifier, Stage.SPEC_OPTIMIZER: optimizer}


def create_stage_app(
    *stages: Stage, token: SecretStr, files_root: Path | None = None, provider: LLMProvider | None = None
) -> FastAPI:
    """An app serving `stages` (all three when none is named)."""
    if not token.get_secret_value().strip():
        raise ValueError("a stage needs a non-empty token")
    served = stages or tuple(Stage)
    app = FastAPI(title="IntentOps factory: " + ", ".join(s.value for s in served), version=CONTRACT_VERSION)
    app.state.stage_context = StageContext(token=token, files_root=files_root, provider=provider)
    app.middleware("http")(_limit_body)
    for stage in served:
        app.include_router(ROUTERS[stage])

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "stages": [s.value for s in served], "contract_version": CONTRACT_VERSION}

    return app


async def _limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    if "transfer-encoding" in request.headers:
        return JSONResponse({"detail": "send a Content-Length; chunked bodies are refused"}, status_code=411)
    length = request.headers.get("content-length", "0")
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        return JSONResponse({"detail": f"the body must be at most {MAX_BODY_BYTES} bytes"}, status_code=413)
    return await call_next(request)
