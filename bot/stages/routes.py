"""The stages' routes: a contract request in, the stage's implementation called, a contract answer out.

One router per stage. Every route needs the bearer token (`bot.stages.app`); `file_path` routes read only
under the stage's root (`bot.stages.files`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import ValidationError

from bot.stages.context import StageContext, authenticated
from bot.stages.files import read_spec_file
from pipeline.assembly import collect_files
from pipeline.codegen.context import CodegenError
from pipeline.codegen.generator import generate_service
from pipeline.factory.contracts import (
    BuildAnswer,
    BuildRequest,
    GenerateAnswer,
    GeneratedFile,
    GenerateRequest,
    OptimizeAnswer,
    OptimizeFileRequest,
    OptimizeRequest,
    ScoreAnswer,
    ScoreRequest,
    Stage,
    VerifyAnswer,
    VerifyFileRequest,
    VerifyRequest,
)
from pipeline.governance.alignment import AlignmentUnavailable
from pipeline.intents import Intent, InvalidIntent, parse_intent_mapping
from pipeline.spec.builder import SpecBuildError
from pipeline.spec.model import Spec
from pipeline.spec.verifier import Finding

NO_RATIONALE = "(the scorer gave no rationale)"
INTENT_SOURCE = "request"

Context = Annotated[StageContext, Depends(authenticated)]


def _intent(data: dict[str, Any], source: str) -> Intent:
    try:
        return parse_intent_mapping(data, source=source or INTENT_SOURCE)
    except InvalidIntent as exc:
        raise HTTPException(status_code=422, detail=[p.to_json() for p in exc.problems]) from None


def _spec(data: dict[str, Any]) -> Spec:
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        detail = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()[:50]]
        raise HTTPException(status_code=422, detail=detail) from None


scorer = APIRouter()
builder = APIRouter()
verifier = APIRouter()
optimizer = APIRouter()
generator = APIRouter()


@scorer.post(Stage.ALIGNMENT_SCORER.route)
def score(body: ScoreRequest, context: Context) -> ScoreAnswer:
    """Score an intent's alignment with a blueprint (lexical offline; Claude with a model)."""
    try:
        alignment = context.stages.scorer.score(_intent(body.intent, INTENT_SOURCE), body.blueprint)
    except AlignmentUnavailable as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from None
    return ScoreAnswer(
        score=alignment.score,
        rationale=alignment.rationale.strip() or NO_RATIONALE,
        method=alignment.method.value,
        model=alignment.model,
    )


@builder.post(Stage.SPEC_BUILDER.route)
def build(body: BuildRequest, context: Context) -> BuildAnswer:
    """Build the SPEC of an intent (deterministic offline; with a model when the stage has one)."""
    intent = _intent(body.intent, body.intent_path)
    try:
        spec = context.stages.builder.build(intent, blueprint=body.blueprint, intent_path=body.intent_path)
    except SpecBuildError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from None
    return BuildAnswer(spec=spec)


def _verified(context: StageContext, spec: Spec, documents: tuple[Finding, ...]) -> VerifyAnswer:
    return VerifyAnswer.of(spec.service_name, context.stages.verifier.verify(spec, documents=documents))


@verifier.post(Stage.SPEC_VERIFIER.route)
def verify_spec(body: VerifyRequest, context: Context) -> VerifyAnswer:
    return _verified(context, _spec(body.spec), tuple(d.finding() for d in body.documents))


@verifier.post("/verify-file")
def verify_file(body: VerifyFileRequest, context: Context) -> VerifyAnswer:
    spec, documents = read_spec_file(context.files_root, body.file_path)
    return _verified(context, spec, documents)


def _optimized(context: StageContext, spec: Spec, gate: int, max_rounds: int) -> OptimizeAnswer:
    return OptimizeAnswer.of(context.stages.optimizer.optimize(spec, gate=gate, max_rounds=max_rounds))


@optimizer.post(Stage.SPEC_OPTIMIZER.route)
def optimize_spec(body: OptimizeRequest, context: Context) -> OptimizeAnswer:
    return _optimized(context, _spec(body.spec), body.gate, body.max_rounds)


@optimizer.post("/optimize-file")
def optimize_file(body: OptimizeFileRequest, context: Context) -> OptimizeAnswer:
    spec, _documents = read_spec_file(context.files_root, body.file_path)
    return _optimized(context, spec, body.gate, body.max_rounds)


@generator.post(Stage.CODE_GENERATOR.route)
def generate(body: GenerateRequest, context: Context) -> GenerateAnswer:
    """The service's files from the templates. A model's logic and repair rounds need the tests' results,
    which only the caller's sandbox gives: the line runs those with its built-in code generator."""
    spec = _spec(body.spec)
    with tempfile.TemporaryDirectory(prefix="intentops-stage-") as work:
        directory = Path(work) / spec.service_name
        try:
            generated = generate_service(spec, directory, intent_path=body.intent_path)
        except CodegenError as exc:
            raise HTTPException(status_code=422, detail=str(exc).replace(work + "/", "")) from None
        files = collect_files(directory)
    return GenerateAnswer(
        service_name=spec.service_name,
        files=[GeneratedFile(path=path, content=content.decode("utf-8")) for path, content in files.items()],
        formatted=generated.formatted,
    )


ROUTERS = {
    Stage.ALIGNMENT_SCORER: scorer,
    Stage.SPEC_BUILDER: builder,
    Stage.SPEC_VERIFIER: verifier,
    Stage.SPEC_OPTIMIZER: optimizer,
    Stage.CODE_GENERATOR: generator,
}
