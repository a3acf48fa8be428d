"""The stages over HTTP: the stage interfaces, answered by a stage service through its JSON contract.

Every call sends the bearer token, follows no redirect (the token goes to the configured URL only), ignores
proxy settings from the environment, gives up after the endpoint's timeout however slowly the answer
trickles in, reads at most MAX_ANSWER_BYTES, and validates the answer against the contract's answer model.
Whatever goes wrong (nothing listening, no answer in time, any status but 200, an answer that is not the
contract's) raises `StageUnavailable`, whose `failure` says which, so a caller can fall back to the
built-in stage for that call. Nothing a stage service says is taken on its word where the line can check:
generated code is tested in the line's sandbox, and the SPEC committed beside it is the line's own.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError
from ruamel.yaml import YAMLError

from pipeline.codegen.context import CodegenError
from pipeline.codegen.generator import GeneratedService
from pipeline.codegen.model_path import CodegenReport
from pipeline.factory.contracts import (
    CONTRACT_VERSION,
    BuildAnswer,
    BuildRequest,
    FindingModel,
    GenerateAnswer,
    GenerateRequest,
    OptimizeAnswer,
    OptimizeRequest,
    ScoreAnswer,
    ScoreRequest,
    Stage,
    VerifyAnswer,
    VerifyRequest,
)
from pipeline.governance.alignment import MAX_RATIONALE, Alignment, AlignmentMethod, AlignmentUnavailable
from pipeline.intents import Intent
from pipeline.manifest import MANIFEST_FILE, ServiceManifest
from pipeline.sandbox.runner import Sandbox
from pipeline.spec.model import Spec
from pipeline.spec.optimizer import OptimizationReport
from pipeline.spec.render import SPEC_JSON, SPEC_MARKDOWN, write_spec
from pipeline.spec.verifier import Finding, Verification

DEFAULT_TIMEOUT_S = 120.0
"""A model behind a stage may take a while (a SPEC with Claude: tens of seconds)."""
CONNECT_TIMEOUT_S = 5.0
MAX_ANSWER_BYTES = 8 * 1024 * 1024
MAX_DETAIL_CHARS = 300
UNAVAILABLE = "the {stage} stage at {url} is unavailable ({failure}): {detail}"
NO_ANSWER_IN_TIME = "no complete answer within {seconds:g} s"
NOT_LISTENING = "cannot reach it: {error}"
STATUS = "it answered {status}{detail}"
TOO_LARGE = "the answer is larger than {limit} bytes"
NOT_JSON = "the answer is not JSON: {error}"
NOT_THE_CONTRACT = "the answer is not contract {version}'s {model}: {where}: {problem}"
REQUEST_OUTSIDE_CONTRACT = "the request does not fit the contract: {where}: {problem}"
OTHER_SERVICE = "it answered for service {answered!r}, not {asked!r}"
OTHER_GATE = "it optimized towards gate {answered}, not {asked}"
TOO_MANY_ROUNDS = "it reports {rounds} rounds, more than the {max_rounds} asked for (plus round 0)"
NO_MANIFEST = f"the generated files hold no valid {MANIFEST_FILE}: {{problem}}"
MANIFEST_MISMATCH = (
    f"its {MANIFEST_FILE} says {{field}} {{answered!r}}, not {{expected!r}}: the code is not for this spec"
)
NOT_EMPTY = "{directory} is not empty and holds no " + MANIFEST_FILE + "; refusing to write over it"

AnswerT = TypeVar("AnswerT", bound=BaseModel)


class StageFailure(StrEnum):
    """Why a stage service gave no usable answer."""

    UNREACHABLE = "unreachable"
    """Nothing answered: refused connection, unknown host, connection dropped."""
    TIMEOUT = "timeout"
    REFUSED = "refused"
    """It answered with a status other than 200 (a wrong token, a request it would not take, its own
    error), or the request did not fit the contract and was not sent."""
    MALFORMED = "malformed"
    """It answered 200 with something that is not the contract's answer, or not an answer to the request."""


class StageUnavailable(RuntimeError):
    """A stage service gave no usable answer; `failure` says why. The one error the HTTP stages raise for
    what the service did, so a caller can tell it from real breakage and fall back to the built-in."""

    def __init__(self, stage: Stage, url: str, failure: StageFailure, detail: str) -> None:
        self.stage = stage
        self.url = url
        self.failure = failure
        self.detail = detail
        super().__init__(UNAVAILABLE.format(stage=stage.value, url=url, failure=failure.value, detail=detail))


class ScorerUnavailable(StageUnavailable, AlignmentUnavailable):
    """The alignment-scorer service gave no usable answer: governance fails closed on it, as on any
    scorer that cannot score (`AlignmentUnavailable`)."""


@dataclass(frozen=True)
class StageEndpoint:
    """Where a stage service answers: its base URL (the stage's route is added), token and timeout."""

    url: str
    token: SecretStr
    timeout_s: float = DEFAULT_TIMEOUT_S

    def __post_init__(self) -> None:
        if not self.token.get_secret_value().strip():
            raise ValueError(f"{self.url}: a stage service needs a non-empty token")
        if self.timeout_s <= 0:
            raise ValueError(f"{self.url}: the timeout must be positive, not {self.timeout_s}")


@dataclass(frozen=True)
class _Call:
    stage: Stage
    endpoint: StageEndpoint
    error: type[StageUnavailable] = StageUnavailable

    def fail(self, failure: StageFailure, detail: str) -> StageUnavailable:
        return self.error(self.stage, self.endpoint.url, failure, detail)

    def request(self, model: type[BaseModel], **fields: Any) -> BaseModel:
        try:
            return model.model_validate(fields)
        except ValidationError as exc:
            where, problem = _first_error(exc)
            raise self.fail(
                StageFailure.REFUSED, REQUEST_OUTSIDE_CONTRACT.format(where=where, problem=problem)
            ) from None

    def answer(self, body: BaseModel, model: type[AnswerT]) -> AnswerT:
        data = self._post(body)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            where, problem = _first_error(exc)
            detail = NOT_THE_CONTRACT.format(
                version=CONTRACT_VERSION, model=model.__name__, where=where, problem=problem
            )
            raise self.fail(StageFailure.MALFORMED, detail) from None

    def _post(self, body: BaseModel) -> Any:
        endpoint = self.endpoint
        timeout = httpx.Timeout(endpoint.timeout_s, connect=min(CONNECT_TIMEOUT_S, endpoint.timeout_s))
        headers = {
            "Authorization": f"Bearer {endpoint.token.get_secret_value()}",
            "Accept": "application/json",
        }
        deadline = time.monotonic() + endpoint.timeout_s
        try:
            with (
                httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
                client.stream(
                    "POST",
                    _join(endpoint.url, self.stage.route),
                    json=body.model_dump(mode="json"),
                    headers=headers,
                ) as response,
            ):
                raw = self._read(response, deadline)
                status = response.status_code
        except httpx.TimeoutException:
            raise self.fail(StageFailure.TIMEOUT, _in_time(endpoint)) from None
        except httpx.TransportError as exc:
            raise self.fail(StageFailure.UNREACHABLE, NOT_LISTENING.format(error=_clean(str(exc)))) from None
        if status != 200:
            raise self.fail(StageFailure.REFUSED, STATUS.format(status=status, detail=_detail_of(raw)))
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self.fail(StageFailure.MALFORMED, NOT_JSON.format(error=_clean(str(exc)))) from None

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
            raise self.fail(StageFailure.MALFORMED, TOO_LARGE.format(limit=MAX_ANSWER_BYTES))
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise self.fail(StageFailure.MALFORMED, TOO_LARGE.format(limit=MAX_ANSWER_BYTES))
            if time.monotonic() > deadline:
                raise self.fail(StageFailure.TIMEOUT, _in_time(self.endpoint))
            chunks.append(chunk)
        return b"".join(chunks)


def _join(base: str, route: str) -> str:
    return base.rstrip("/") + route


def _in_time(endpoint: StageEndpoint) -> str:
    return NO_ANSWER_IN_TIME.format(seconds=endpoint.timeout_s)


def _first_error(exc: ValidationError) -> tuple[str, str]:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    return where, _clean(error["msg"])


def _clean(text: str) -> str:
    """Printable and short: a service's words end up in logs and PR comments."""
    printable = "".join(c if c.isprintable() else " " for c in text)
    return printable[:MAX_DETAIL_CHARS]


def _detail_of(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    try:
        detail = json.loads(text).get("detail", text)
    except (json.JSONDecodeError, AttributeError):
        detail = text
    detail = detail if isinstance(detail, str) else json.dumps(detail)
    return f": {_clean(detail)}" if detail.strip() else ""


def _as_sent(intent: Intent) -> dict[str, Any]:
    """The intent as its YAML would say it: fields left at their defaults are not sent, so a stage service
    built before a field existed reads an intent that does not use it, and none is sent as an explicit null
    its own model would refuse."""
    return intent.model_dump(mode="json", exclude_defaults=True)


def _same_service(call: _Call, answered: str, asked: str) -> None:
    if answered != asked:
        raise call.fail(StageFailure.MALFORMED, OTHER_SERVICE.format(answered=answered, asked=asked))


# -- the five stages ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpAlignmentScorer:
    """Its score is recorded as `AlignmentMethod.SERVICE`: it informs, it never grants auto-approval."""

    endpoint: StageEndpoint

    def score(self, intent: Intent, blueprint: str) -> Alignment:
        call = _Call(Stage.ALIGNMENT_SCORER, self.endpoint, ScorerUnavailable)
        request = call.request(ScoreRequest, intent=_as_sent(intent), blueprint=blueprint)
        answer = call.answer(request, ScoreAnswer)
        rationale = answer.rationale.strip()[:MAX_RATIONALE]
        return Alignment(answer.score, AlignmentMethod.SERVICE, rationale, model=answer.model)


@dataclass(frozen=True)
class HttpSpecBuilder:
    endpoint: StageEndpoint

    def build(self, intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec:
        call = _Call(Stage.SPEC_BUILDER, self.endpoint)
        request = call.request(
            BuildRequest, intent=_as_sent(intent), blueprint=blueprint, intent_path=intent_path
        )
        spec = call.answer(request, BuildAnswer).spec
        _same_service(call, spec.service_name, intent.service_name)
        return spec


@dataclass(frozen=True)
class HttpSpecVerifier:
    endpoint: StageEndpoint

    def verify(self, spec: Spec, *, documents: tuple[Finding, ...] = ()) -> Verification:
        call = _Call(Stage.SPEC_VERIFIER, self.endpoint)
        request = call.request(
            VerifyRequest, spec=spec.to_json(), documents=[FindingModel.of(f) for f in documents]
        )
        answer = call.answer(request, VerifyAnswer)
        _same_service(call, answer.service_name, spec.service_name)
        return answer.verification()


@dataclass(frozen=True)
class HttpSpecOptimizer:
    endpoint: StageEndpoint

    def optimize(self, spec: Spec, *, gate: int, max_rounds: int) -> OptimizationReport:
        call = _Call(Stage.SPEC_OPTIMIZER, self.endpoint)
        request = call.request(OptimizeRequest, spec=spec.to_json(), gate=gate, max_rounds=max_rounds)
        answer = call.answer(request, OptimizeAnswer)
        _same_service(call, answer.service_name, spec.service_name)
        _same_service(call, answer.spec.service_name, spec.service_name)
        if answer.gate != gate:
            raise call.fail(StageFailure.MALFORMED, OTHER_GATE.format(answered=answer.gate, asked=gate))
        if len(answer.rounds) > max_rounds + 1:
            detail = TOO_MANY_ROUNDS.format(rounds=len(answer.rounds), max_rounds=max_rounds)
            raise call.fail(StageFailure.MALFORMED, detail)
        return answer.report()


@dataclass(frozen=True)
class HttpCodeGenerator:
    """Writes the service's files as the stage sent them, then the line's own SPEC.md and spec.json over
    theirs (what the verifier scored is what is committed), and runs the tests in `sandbox`."""

    endpoint: StageEndpoint

    def generate(
        self, spec: Spec, directory: Path, *, sandbox: Sandbox, intent_path: str = ""
    ) -> CodegenReport:
        call = _Call(Stage.CODE_GENERATOR, self.endpoint)
        request = call.request(GenerateRequest, spec=spec.to_json(), intent_path=intent_path)
        answer = call.answer(request, GenerateAnswer)
        _same_service(call, answer.service_name, spec.service_name)
        _clear(directory)
        for file in answer.files:
            target = directory / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(file.content, encoding="utf-8")
        write_spec(spec, directory)
        try:
            manifest = _manifest_for(call, spec, directory)
        except StageUnavailable:
            shutil.rmtree(directory, ignore_errors=True)  # leave the folder to whoever generates next
            raise
        names = sorted({f.path for f in answer.files} | {SPEC_JSON, SPEC_MARKDOWN})
        service = GeneratedService(
            directory=directory, manifest=manifest, files=tuple(names), formatted=answer.formatted
        )
        return CodegenReport(service=service, result=sandbox.run_tests(directory))


def _clear(directory: Path) -> None:
    """An empty folder to write into: a missing one made, a generated one (with a manifest) replaced."""
    if directory.exists() and any(directory.iterdir()):
        if not (directory / MANIFEST_FILE).is_file():
            raise CodegenError(NOT_EMPTY.format(directory=directory))
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)


def _manifest_for(call: _Call, spec: Spec, directory: Path) -> ServiceManifest:
    try:
        manifest = ServiceManifest.load(directory)
    except (OSError, YAMLError, ValidationError, UnicodeDecodeError) as exc:
        raise call.fail(StageFailure.MALFORMED, NO_MANIFEST.format(problem=_clean(str(exc)))) from None
    for field, answered, expected in (
        ("name", manifest.name, spec.service_name),
        ("spec_hash", manifest.spec_hash, spec.content_hash()),
    ):
        if answered != expected:
            detail = MANIFEST_MISMATCH.format(field=field, answered=answered, expected=expected)
            raise call.fail(StageFailure.MALFORMED, detail)
    return manifest
