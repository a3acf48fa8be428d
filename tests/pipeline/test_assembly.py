"""One intent through the factory, offline: spec to the gate, generated code, its tests in the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.assembly import BuildVerdict, build_service
from pipeline.intents import load_intent, load_intent_file
from pipeline.manifest import MANIFEST_FILE
from pipeline.sandbox.runner import ProcessSandbox, sandbox_for
from pipeline.wheelhouse import prepare_wheelhouse
from tests.conftest import EXAMPLES, ROOT

DATA = ROOT / ".data"


@pytest.fixture(scope="module")
def blueprint() -> str:
    return (EXAMPLES / "BLUEPRINT.md").read_text()


def sandbox(directory: Path) -> ProcessSandbox:
    prepare_wheelhouse(DATA / "wheelhouse")  # a no-op once set-up has run
    return sandbox_for(directory, wheelhouse=DATA / "wheelhouse", cache_dir=DATA / "venvs")


@pytest.mark.slow
def test_a_structured_intent_becomes_a_tested_service(tmp_path: Path, blueprint: str) -> None:
    stages: list[str] = []
    outcome = build_service(
        load_intent_file(EXAMPLES / "intents" / "hello-world.yaml"),
        intent_path="intents/hello-world.yaml",
        blueprint=blueprint,
        workdir=tmp_path,
        sandbox_for=sandbox,
        progress=stages.append,
    )
    assert stages == ["spec", "code", "tests"]
    assert outcome.verdict is BuildVerdict.READY, outcome.to_json()
    assert outcome.spec.verification.score >= 90
    assert outcome.tests is not None and outcome.tests.passed > 0
    assert {MANIFEST_FILE, "SPEC.md", "app/main.py", "Dockerfile"} <= set(outcome.files)
    assert not [f for f in outcome.files if "__pycache__" in f or f.endswith(".pyc") or f.startswith("data/")]
    report = outcome.to_json()
    assert report["verdict"] == "ready" and report["tests"]["ok"] is True


FREE_TEXT = "service_name: spec-analyzer\npurpose: Analyze SPEC quality trends and suggest improvements\n"
"""Free text only: no hint says what the service does (the example now declares its data and reports)."""


def test_a_free_text_intent_stops_honestly_below_the_gate(tmp_path: Path, blueprint: str) -> None:
    outcome = build_service(
        load_intent(FREE_TEXT, source="intents/spec-analyzer.yaml"),
        intent_path="intents/spec-analyzer.yaml",
        blueprint=blueprint,
        workdir=tmp_path,
        sandbox_for=lambda _: pytest.fail("no code is generated or tested for a spec below the gate"),
    )
    assert outcome.verdict is BuildVerdict.SPEC_BELOW_GATE
    assert outcome.spec.verification.score < 90
    assert outcome.files == {} and outcome.tests is None
    assert not (tmp_path / "spec-analyzer").exists()


@pytest.mark.slow
def test_a_retry_after_a_crash_mid_generation_starts_clean(tmp_path: Path, blueprint: str) -> None:
    leftover = tmp_path / "hello-world" / "app"
    leftover.mkdir(parents=True)
    (leftover / "half_written.py").write_text("def broken(:\n")
    outcome = build_service(
        load_intent_file(EXAMPLES / "intents" / "hello-world.yaml"),
        intent_path="intents/hello-world.yaml",
        blueprint=blueprint,
        workdir=tmp_path,
        sandbox_for=sandbox,
    )
    assert outcome.verdict is BuildVerdict.READY, outcome.to_json()
    assert "app/half_written.py" not in outcome.files
