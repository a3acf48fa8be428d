"""Fixtures of the factory tests: example intents, their specs, and the blueprint."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.intents import Intent, load_intent_file
from pipeline.spec.builder import build_spec
from pipeline.spec.model import Spec

STRUCTURED = ("hello-world", "bookmarks")
FREE_TEXT = ("spec-analyzer", "governance-v2", "spec-builder-v2")


@pytest.fixture(scope="session")
def blueprint(examples_dir: Path) -> str:
    return (examples_dir / "BLUEPRINT.md").read_text(encoding="utf-8")


def load_example(examples_dir: Path, name: str) -> Intent:
    return load_intent_file(examples_dir / "intents" / f"{name}.yaml")


@pytest.fixture
def hello_spec(examples_dir: Path, blueprint: str) -> Spec:
    return build_spec(load_example(examples_dir, "hello-world"), blueprint=blueprint)
