"""Fixtures of the shadow evaluation's tests: the line's own stages as referees (offline, built in), and a
small recent history written here, so each test knows what the built-in stages make of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from pipeline.factory.builtin import builtin_stages
from pipeline.factory.interfaces import FactoryStages
from pipeline.governance.floor import load_floor
from pipeline.intents import parse_intent_mapping
from pipeline.sandbox.runner import ProcessSandbox
from pipeline.shadow import HumanOutcome, Referees, ShadowCase
from tests.conftest import EXAMPLES, ROOT
from tests.factory.conftest import sandbox_python
from tests.shadow.candidates import Hangs

__all__ = ["sandbox_python"]

SHORT_TIMEOUT_S = 2.0
"""A call's deadline in tests where a candidate hangs on purpose (the others use the default)."""


def _case(outcome: HumanOutcome, author: str, **intent: Any) -> ShadowCase:
    path = f"intents/{intent['service_name']}.yaml"
    return ShadowCase(
        path=path,
        intent=parse_intent_mapping(intent, source=path),
        blueprint=(EXAMPLES / "BLUEPRINT.md").read_text(encoding="utf-8"),
        policies=MappingProxyType(
            {
                f"policies/{name}": (ROOT / "policies" / name).read_bytes()
                for name in ("defaults.yaml", "seed.json")
            }
        ),
        floor=load_floor(None),
        outcome=outcome,
        commit=f"{len(intent['service_name']):02d}" + "ab" * 19,
        author=author,
    )


def _resource(name: str, fields: dict[str, str], required: list[str]) -> dict[str, Any]:
    return {"name": name, "fields": fields, "required": required}


SIGNED, REJECTED, BLOCKED, REVERTED = (
    HumanOutcome.SIGNED_OFF,
    HumanOutcome.REJECTED,
    HumanOutcome.BLOCKED,
    HumanOutcome.REVERTED,
)
HISTORY = (
    _case(
        SIGNED,
        "alice",
        service_name="team-notes",
        purpose="Share notes within the team so decisions are written down",
        resources=[_resource("note", {"title": "string", "body": "string"}, ["title"])],
    ),
    _case(
        SIGNED,
        "bob",
        service_name="link-stash",
        purpose="Save useful links and articles so colleagues can find them later",
        storage="sqlite",
        resources=[_resource("link", {"url": "string", "title": "string", "stars": "integer"}, ["url"])],
    ),
    _case(
        REJECTED,
        "dave",
        service_name="spec-trends",
        purpose="Analyze SPEC quality trends and suggest improvements",
    ),
    _case(
        SIGNED,
        "carol",
        service_name="cloud-bill",
        purpose="Track API and compute cost per service and per month",
        resources=[_resource("cost", {"service": "string", "month": "string", "usd": "number"}, ["service"])],
    ),
    _case(
        REVERTED,
        "bob",
        service_name="glossary",
        purpose="A glossary of the acronyms and jargon we use at work",
        resources=[_resource("term", {"word": "string", "meaning": "string"}, ["word", "meaning"])],
    ),
    _case(
        BLOCKED,
        "erin",
        service_name="night-miner",
        purpose="Mine cryptocurrency on the build servers at night",
    ),
    _case(
        SIGNED,
        "alice",
        service_name="decision-log",
        purpose="Record the technical decisions we made and why we made them",
        storage="sqlite",
        resources=[_resource("decision", {"title": "string", "why": "string"}, ["title", "why"])],
    ),
    _case(
        BLOCKED,
        "erin",
        service_name="card-payments",
        purpose="Take credit card payments from customers in our online shop",
        resources=[_resource("payment", {"amount": "number", "card": "string"}, ["amount", "card"])],
    ),
)
"""Recent intents, newest first: CRUD services that reach the gate (some with requirements the built-in
builder cannot trace to a blueprint goal), free-text ones that do not, and each kind of decision."""


@pytest.fixture(scope="session")
def stages() -> FactoryStages:
    return builtin_stages()


@pytest.fixture(scope="session")
def referees(stages: FactoryStages) -> Referees:
    return Referees.of(stages)


@pytest.fixture
def history() -> tuple[ShadowCase, ...]:
    return HISTORY


@pytest.fixture
def hangs() -> Iterator[Hangs]:
    """A hang for a candidate to wait on; released when the test ends, so no thread outlives it long."""
    hang = Hangs()
    yield hang
    hang.released.set()


@pytest.fixture
def tested_referees(stages: FactoryStages, tmp_path: Path, sandbox_python: Path) -> Referees:
    """Referees that can run generated services' tests in the line's process sandbox."""
    return Referees.of(
        stages, sandbox_for=lambda _: ProcessSandbox(sandbox_python), workdir=tmp_path / "built"
    )
