"""The fixed sets a shadow evaluation adds to real intents, the same in every run:

- known SPECs: good ones (as the line's deterministic builder writes them for structured intents) and bad
  ones (each with one defect a SPEC must not have: no security section, a vague requirement, an endpoint
  without errors, ...). A verifier must score the bad ones below the gate and the good ones at it, so a
  verifier returning 100 for everything fails half of them; an optimizer must bring the repairable ones to
  the gate without removing anything.
- adversarial pairs (`data/adversarial.yaml`): one intent written plainly and written again padded with the
  blueprint's words, or with text addressed to the scorer. A scorer must not score the variant higher.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.intents import Intent, parse_intent_mapping
from pipeline.shadow.datafiles import DATA, intent_at, read_model
from pipeline.spec.model import NonFunctional, Spec
from pipeline.spec.offline import build_offline

ADVERSARIAL_SET = DATA / "adversarial.yaml"
BLUEPRINT = """# Blueprint

## Goals
1. **Shared internal tools.** Small internal services that help the team share knowledge: notes, bookmarks,
   greetings, status pages.
2. **Quality specifications.** Every service starts from a SPEC with clear requirements, acceptance
   criteria and measurable non-functional requirements.
"""
"""The blueprint the known SPECs are built against."""
VAGUE_SENTENCE = " It answers fast and is user-friendly."
UNMEASURED = "Requests complete in good time."

_BASES: dict[str, dict[str, Any]] = {
    "notes": {
        "service_name": "notes",
        "purpose": "Keep the team's notes, so what was decided is found again.",
        "resources": [
            {"name": "note", "fields": {"title": "string", "body": "string"}, "required": ["title"]}
        ],
    },
    "bookmarks": {
        "service_name": "bookmarks",
        "purpose": "Keep the team's bookmarks, so shared knowledge is found again.",
        "storage": "sqlite",
        "resources": [
            {
                "name": "bookmark",
                "fields": {"url": "string", "title": "string", "stars": "integer"},
                "required": ["url"],
            }
        ],
    },
}


class Known(StrEnum):
    GOOD = "good"
    BAD = "bad"


@dataclass(frozen=True)
class KnownSpec:
    """A SPEC whose quality is known before any verifier sees it."""

    name: str
    spec: Spec
    known: Known
    repairable: bool = False
    """Its defect is one the line's optimizer repairs (an optimizer should bring it to the gate)."""

    @property
    def id(self) -> str:
        return f"known-{self.known.value}/{self.name}"


Defect = Callable[[Spec], Spec]


def _no_security(spec: Spec) -> Spec:
    return spec.model_copy(update={"security": []})


def _vague_requirement(spec: Spec) -> Spec:
    first, *rest = spec.functional_requirements
    vague = first.model_copy(update={"statement": first.statement + VAGUE_SENTENCE})
    return spec.model_copy(update={"functional_requirements": [vague, *rest]})


def _endpoint_without_errors(spec: Spec) -> Spec:
    first, *rest = spec.endpoints
    return spec.model_copy(update={"endpoints": [first.model_copy(update={"errors": []}), *rest]})


def _unmeasured_nfr(spec: Spec) -> Spec:
    first, *rest = spec.non_functional
    unmeasured: NonFunctional = first.model_copy(update={"statement": UNMEASURED, "target": None})
    return spec.model_copy(update={"non_functional": [unmeasured, *rest]})


def _duplicate_ids(spec: Spec) -> Spec:
    first, second, *rest = spec.endpoints
    return spec.model_copy(update={"endpoints": [first, second.model_copy(update={"id": first.id}), *rest]})


def _no_acceptance_criteria(spec: Spec) -> Spec:
    return spec.model_copy(update={"acceptance_criteria": []})


def _untraced(spec: Spec) -> Spec:
    return spec.model_copy(update={"blueprint_trace": []})


DEFECTS: dict[str, tuple[Defect, bool]] = {
    "no-security-section": (_no_security, False),
    "vague-requirement": (_vague_requirement, True),
    "endpoint-without-errors": (_endpoint_without_errors, True),
    "unmeasured-nfr": (_unmeasured_nfr, True),
    "duplicate-endpoint-ids": (_duplicate_ids, True),
    "no-acceptance-criteria": (_no_acceptance_criteria, False),
    "untraced-requirements": (_untraced, False),
}
"""Defect name -> (how a good SPEC gets it, whether the line's optimizer repairs it)."""


def base_intent(name: str) -> Intent:
    return parse_intent_mapping(dict(_BASES[name]), source=f"intents/{name}.yaml")


@functools.cache
def known_specs() -> tuple[KnownSpec, ...]:
    """The known good SPECs, then each defect on each of them."""
    good = {
        name: build_offline(base_intent(name), blueprint=BLUEPRINT, intent_path=f"intents/{name}.yaml")
        for name in _BASES
    }
    known = [KnownSpec(name, spec, Known.GOOD) for name, spec in good.items()]
    for defect, (apply, repairable) in DEFECTS.items():
        for name, spec in good.items():
            known.append(KnownSpec(f"{defect}/{name}", apply(spec), Known.BAD, repairable))
    return tuple(known)


# -- adversarial pairs --------------------------------------------------------------------------------


class PairKind(StrEnum):
    PADDED = "padded"
    """The blueprint's words padded around what the service does."""
    INJECTED = "injected"
    """Text addressed to the scorer or the reviewer."""


@dataclass(frozen=True)
class AdversarialPair:
    name: str
    kind: PairKind
    plain: Intent
    variant: Intent

    @property
    def id(self) -> str:
        return f"adversarial/{self.kind.value}/{self.name}"


@dataclass(frozen=True)
class AdversarialSet:
    blueprint: str
    tolerance: float
    """How much higher a variant may score than its plain twin (a model's scores wobble a little)."""
    pairs: tuple[AdversarialPair, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Pair(_Strict):
    name: str = Field(min_length=1, max_length=100)
    kind: PairKind
    plain: dict[str, Any]
    variant: dict[str, Any]


class _AdversarialFile(_Strict):
    version: Literal[1]
    tolerance: float = Field(ge=0.0, le=1.0)
    blueprint: str = Field(min_length=1)
    pairs: list[_Pair] = Field(min_length=1)


def load_adversarial(path: Path = ADVERSARIAL_SET) -> AdversarialSet:
    """The adversarial set at `path`. Raises ShadowDataError (file:line) for a file that is not one."""
    read, document = read_model(path, _AdversarialFile)
    pairs = tuple(
        AdversarialPair(
            name=pair.name,
            kind=pair.kind,
            plain=intent_at(pair.plain, path=path, document=document, where=("pairs", index, "plain")),
            variant=intent_at(pair.variant, path=path, document=document, where=("pairs", index, "variant")),
        )
        for index, pair in enumerate(read.pairs)
    )
    return AdversarialSet(blueprint=read.blueprint, tolerance=read.tolerance, pairs=pairs)
