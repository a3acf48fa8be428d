"""The JSON contracts of the factory stages (versioned): what each stage takes and gives over HTTP.

A later version of a stage (say `spec-verifier-v2`, built by the line itself) serves the same contract,
so the line can route a stage to it without changing callers. Requests refuse unknown fields; answers
ignore fields they do not know (a newer service may add some) but must carry this `contract_version`
and be consistent with themselves (a verification that says its hard checks passed has no hard finding).
"""

from __future__ import annotations

import math
from pathlib import PurePosixPath
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.factory.stages import CONTRACT_VERSION as CONTRACT_VERSION
from pipeline.factory.stages import Stage as Stage
from pipeline.spec.model import Spec
from pipeline.spec.optimizer import DEFAULT_MAX_ROUNDS, MAX_ROUNDS, OptimizationReport, Round
from pipeline.spec.verifier import DEFAULT_GATE, Finding, Severity, Verification

ALL_STAGES_PORT = 8210
"""The seed's sovereign-factory port: every stage served together (`intentops stage all`)."""
MAX_BLUEPRINT_CHARS = 200_000
MAX_RATIONALE_CHARS = 20_000
MAX_FINDINGS = 500
MAX_GENERATED_FILES = 200
MAX_FILE_CHARS = 1024 * 1024
MAX_PATH_CHARS = 200
BAD_PATH = (
    "{path!r}: a file of a service is a relative path inside its folder (no '..', '.', '.git', "
    "backslashes or '//')"
)
INCONSISTENT_HARD = "hard_checks_passed is {claimed} but the findings {have} a hard one"
INCONSISTENT_GATE = (
    "reached_gate is {claimed} but a score of {score} with these findings {does} pass gate {gate}"
)
INCONSISTENT_SCORE = "score {score} differs from the verification's {verified}"
DUPLICATE_PATH = "{path!r} is listed twice"
FILE_AND_FOLDER = "{path!r} is a file, and a folder of {other!r}"


# -- requests -----------------------------------------------------------------------------------------


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FindingModel(BaseModel):
    """A verifier finding as JSON (`pipeline.spec.verifier.Finding`)."""

    model_config = ConfigDict(extra="ignore")

    section: str = Field(max_length=100)
    severity: Severity
    code: str = Field(max_length=100)
    hard: bool = False
    subject: str = Field(default="", max_length=200)
    message: str = Field(max_length=5000)

    @classmethod
    def of(cls, finding: Finding) -> FindingModel:
        return cls.model_validate(finding.to_json())

    def finding(self) -> Finding:
        return Finding(
            section=self.section,
            severity=self.severity,
            message=self.message,
            code=self.code,
            hard=self.hard,
            subject=self.subject,
        )


class ScoreRequest(_Request):
    intent: dict[str, Any] = Field(description="The intent, as its YAML would parse.")
    blueprint: str = Field(default="", max_length=MAX_BLUEPRINT_CHARS)


class BuildRequest(_Request):
    intent: dict[str, Any] = Field(description="The intent, as its YAML would parse.")
    blueprint: str = Field(default="", max_length=MAX_BLUEPRINT_CHARS)
    intent_path: str = ""


class VerifyRequest(_Request):
    spec: dict[str, Any]
    documents: list[FindingModel] = Field(
        default_factory=list,
        max_length=50,
        description="Findings about the files the spec was read from (a stale SPEC.md); hard ones count.",
    )


class VerifyFileRequest(_Request):
    file_path: str = Field(
        description=(
            "A spec.json (or the folder holding it), relative to the stage's root. Given a SPEC.md, the "
            "spec.json beside it is scored, and a hard finding says so if SPEC.md is not what it renders."
        )
    )


class OptimizeRequest(_Request):
    spec: dict[str, Any]
    gate: int = Field(default=DEFAULT_GATE, ge=0, le=100)
    max_rounds: int = Field(default=DEFAULT_MAX_ROUNDS, ge=1, le=MAX_ROUNDS)


class OptimizeFileRequest(_Request):
    file_path: str
    gate: int = Field(default=DEFAULT_GATE, ge=0, le=100)
    max_rounds: int = Field(default=DEFAULT_MAX_ROUNDS, ge=1, le=MAX_ROUNDS)


class GenerateRequest(_Request):
    spec: dict[str, Any]
    intent_path: str = ""


# -- answers ------------------------------------------------------------------------------------------


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    contract_version: Literal["1"] = CONTRACT_VERSION


class ScoreAnswer(_Answer):
    """An alignment score. `method` and `model` say what the service used; the line records the score as
    a stage service's (`AlignmentMethod.SERVICE`), which informs but never grants auto-approval."""

    score: float = Field(ge=0.0, le=1.0)
    rationale: str = Field(min_length=1, max_length=MAX_RATIONALE_CHARS)
    method: str = Field(max_length=50)
    model: str = Field(default="", max_length=200)

    @field_validator("score")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("the score must be a number")
        return value


class BuildAnswer(_Answer):
    spec: Spec


class VerificationModel(BaseModel):
    """A verification as JSON (`pipeline.spec.verifier.Verification`)."""

    model_config = ConfigDict(extra="ignore")

    score: int = Field(ge=0, le=100)
    rubric_version: str = Field(max_length=50)
    hard_checks_passed: bool
    section_scores: dict[str, float]
    findings: list[FindingModel] = Field(max_length=MAX_FINDINGS)

    @model_validator(mode="after")
    def _hard_checks_agree(self) -> Self:
        hard = any(f.hard for f in self.findings)
        if self.hard_checks_passed == hard:
            raise ValueError(
                INCONSISTENT_HARD.format(claimed=self.hard_checks_passed, have="have" if hard else "lack")
            )
        return self

    def verification(self) -> Verification:
        return Verification(
            score=self.score,
            findings=tuple(f.finding() for f in self.findings),
            section_scores=dict(self.section_scores),
            rubric_version=self.rubric_version,
        )


class VerifyAnswer(VerificationModel, _Answer):
    service_name: str

    @classmethod
    def of(cls, service_name: str, verification: Verification) -> VerifyAnswer:
        return cls.model_validate({"service_name": service_name, **verification.to_json()})


class RoundModel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    round: int = Field(ge=0, le=MAX_ROUNDS)
    score: int = Field(ge=0, le=100)
    hard_checks_passed: bool
    findings: int = Field(ge=0)
    repairs: list[str] = Field(default_factory=list, max_length=200)

    def to_round(self) -> Round:
        return Round(self.round, self.score, self.hard_checks_passed, self.findings, tuple(self.repairs))


class OptimizeAnswer(_Answer):
    service_name: str
    gate: int = Field(ge=0, le=100)
    reached_gate: bool
    score: int = Field(ge=0, le=100)
    rounds: list[RoundModel] = Field(min_length=1, max_length=MAX_ROUNDS + 1)
    verification: VerificationModel
    spec: Spec

    @model_validator(mode="after")
    def _claims_agree(self) -> Self:
        verified = self.verification.score
        if self.score != verified:
            raise ValueError(INCONSISTENT_SCORE.format(score=self.score, verified=verified))
        passes = self.verification.hard_checks_passed and verified >= self.gate
        if self.reached_gate != passes:
            raise ValueError(
                INCONSISTENT_GATE.format(
                    claimed=self.reached_gate,
                    score=verified,
                    does="do" if passes else "do not",
                    gate=self.gate,
                )
            )
        return self

    @classmethod
    def of(cls, report: OptimizationReport) -> OptimizeAnswer:
        return cls.model_validate({**report.to_json(), "spec": report.spec})

    def report(self) -> OptimizationReport:
        return OptimizationReport(
            spec=self.spec,
            verification=self.verification.verification(),
            gate=self.gate,
            rounds=tuple(r.to_round() for r in self.rounds),
        )


class GeneratedFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    path: str = Field(min_length=1, max_length=MAX_PATH_CHARS)
    content: str = Field(max_length=MAX_FILE_CHARS)

    @field_validator("path")
    @classmethod
    def _inside_the_folder(cls, path: str) -> str:
        parts = path.split("/")
        if (
            "\\" in path
            or "\x00" in path
            or PurePosixPath(path).is_absolute()
            or any(part in {"", ".", ".."} or part.lower() == ".git" for part in parts)
        ):
            raise ValueError(BAD_PATH.format(path=path))
        return path


class GenerateAnswer(_Answer):
    """The files of the service for a spec (text, relative to its folder). Its tests are run by the line,
    in its own sandbox, never taken from the stage's word."""

    service_name: str
    files: list[GeneratedFile] = Field(min_length=1, max_length=MAX_GENERATED_FILES)
    formatted: bool = False

    @field_validator("files")
    @classmethod
    def _unique(cls, files: list[GeneratedFile]) -> list[GeneratedFile]:
        paths = {file.path for file in files}
        if len(paths) != len(files):
            twice = next(f.path for f in files if sum(g.path == f.path for g in files) > 1)
            raise ValueError(DUPLICATE_PATH.format(path=twice))
        for path in paths:
            for folder in PurePosixPath(path).parents:
                if str(folder) in paths:
                    raise ValueError(FILE_AND_FOLDER.format(path=str(folder), other=path))
        return files
