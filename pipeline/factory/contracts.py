"""The JSON contracts of the factory stages (versioned): what each stage takes and gives over HTTP.

A later version of a stage (say `spec-verifier-v2`, built by the line itself) serves the same contract,
so the line can route a stage to it without changing callers.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pipeline.spec.optimizer import DEFAULT_MAX_ROUNDS, MAX_ROUNDS
from pipeline.spec.verifier import DEFAULT_GATE

CONTRACT_VERSION = "1"


class Stage(StrEnum):
    SPEC_BUILDER = "spec-builder"
    SPEC_VERIFIER = "spec-verifier"
    SPEC_OPTIMIZER = "spec-optimizer"

    @property
    def seed_port(self) -> int:
        return {"spec-builder": 8207, "spec-verifier": 8205, "spec-optimizer": 8206}[self.value]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BuildRequest(_Request):
    intent: dict[str, Any] = Field(description="The intent, as its YAML would parse.")
    blueprint: str = Field(default="", max_length=200_000)
    intent_path: str = ""


class VerifyRequest(_Request):
    spec: dict[str, Any]


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
