"""Fixtures for governance tests: the shipped policies, the example blueprint, intents made to order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.governance import PolicySet, load_floor, load_policies
from pipeline.governance.rules import cel_environment
from pipeline.intents import Intent
from tests.conftest import EXAMPLES, ROOT

POLICIES = ROOT / "policies"
SEED_POLICIES = POLICIES / "seed.json"


@pytest.fixture(scope="session", autouse=True)
def _cel_ready() -> Iterator[None]:
    # Building the CEL environment raises the recursion limit once; do it before any test measures it.
    cel_environment()
    yield


@pytest.fixture(scope="session")
def seed_policies() -> PolicySet:
    return load_policies(SEED_POLICIES)


@pytest.fixture(scope="session")
def shipped_policies() -> PolicySet:
    return load_policies(POLICIES)


@pytest.fixture(scope="session")
def shipped_floor() -> PolicySet:
    return load_floor(None)


@pytest.fixture(scope="session")
def blueprint() -> str:
    return (EXAMPLES / "BLUEPRINT.md").read_text(encoding="utf-8")


def make_intent(**fields: Any) -> Intent:
    values: dict[str, Any] = {"service_name": "notes", "purpose": "Share notes within the team"}
    values.update(fields)
    return Intent.model_validate(values)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
