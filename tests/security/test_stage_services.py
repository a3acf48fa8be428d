"""Attacks through a stage intent and the stage service the line builds from it.

- A template hint that reads the line's internals through `str.format` ('{title.__class__...}'): refused
  where it is written, and a filled template never evaluates what its braces say.
- A hint whose text is Python (three quotes, then __import__("os")...), hoping to be pasted into the
  generated code and run in the sandbox: hints travel as data (app/stage.json), never as source.
- A stage intent under an innocent name, to skip the self-modification rule: implementing a stage is a
  self-modification whatever the name, so the floor's two approvals apply.
- A hint that makes the service break its stage's contract (a verifier that stops calling 'fast' vague):
  its own tests run the line's conformance suite in the sandbox, so the build is not ready.
- A caller without the line's token (none, another service's, or a service given no STAGE_TOKEN): the
  contract endpoint answers nobody but the line.
- A stage kit swapped in the wheelhouse for a wheel of other bytes: the service pins the kit's sha256, so
  the install refuses it and nothing of it runs.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.assembly import BuildVerdict, build_service
from pipeline.factory.conformance import BLUEPRINT
from pipeline.factory.stageservice import describe_stage, generate_stage_service, spec_intent
from pipeline.governance.alignment import GivenScore
from pipeline.governance.decision import PolicyAction
from pipeline.governance.engine import govern
from pipeline.governance.floor import load_floor
from pipeline.intents import Intent, InvalidIntent, load_intent
from pipeline.intents.stagehints import fill
from pipeline.sandbox.runner import sandbox_for
from pipeline.spec.builder import build_spec
from pipeline.stagekit import stage_kit
from pipeline.wheelhouse import WheelhouseError, cached_venv, prepare_wheelhouse, stage_requirements
from tests.conftest import ROOT

DATA = ROOT / ".data"
WHEELHOUSE = DATA / "wheelhouse"
SOURCE = "intents/spec-builder-v2.yaml"
PYTHON_IN_A_HINT = '""" + __import__("os").system("touch /tmp/pwned") + """'


def stage_intent(stage: str, hints: str, name: str = "spec-builder-v2") -> Intent:
    text = (
        f"service_name: {name}\npurpose: Keep the team's notes\nimplements: {stage}@1\nstage_hints:\n{hints}"
    )
    return load_intent(text, source=SOURCE)


def generated(intent: Intent, directory: Path) -> Path:
    spec = describe_stage(build_spec(spec_intent(intent), blueprint=BLUEPRINT), intent)
    service, _ = generate_stage_service(spec, directory, intent=intent)
    return service.directory


def test_a_template_cannot_read_attributes_through_its_braces() -> None:
    with pytest.raises(InvalidIntent) as caught:
        stage_intent(
            "spec-builder", "  sections:\n    security: ['{title.__class__.__init__.__globals__}']\n"
        )
    assert "is not a placeholder" in str(caught.value)
    with pytest.raises(ValueError):
        fill("{title.__class__}", {"title": "x"})
    assert fill("{title}", {"title": "{service_name.__class__}"}) == "{service_name.__class__}"


def test_a_hint_s_text_never_becomes_code(tmp_path: Path) -> None:
    hint = PYTHON_IN_A_HINT.replace("'", "''")
    intent = stage_intent("spec-builder", f"  sections:\n    security: ['{hint}']\n")
    directory = generated(intent, tmp_path / "svc")
    sources = {p.relative_to(directory).as_posix(): p.read_text() for p in directory.rglob("*.py")}
    assert sources and not any("__import__" in text for text in sources.values())
    assert "__import__" in (directory / "app" / "stage.json").read_text()


def test_an_innocently_named_stage_intent_needs_two_approvals() -> None:
    intent = stage_intent("spec-verifier", "  vague_words: [speedy]\n", name="handy-notes")
    decision = govern(intent, None, scorer=GivenScore(1.0), blueprint=None, floor=load_floor(None))
    assert decision.action is PolicyAction.REQUIRES_APPROVAL
    matched = {m.name: m for m in decision.matched}
    assert "Self-modification needs two approvals" in matched


def test_a_hint_that_breaks_the_contract_never_builds_ready(tmp_path: Path) -> None:
    prepare_wheelhouse(WHEELHOUSE)
    intent = stage_intent("spec-verifier", "  not_vague: [fast]\n", name="spec-verifier-v2")
    outcome = build_service(
        intent,
        intent_path="intents/spec-verifier-v2.yaml",
        blueprint=BLUEPRINT,
        workdir=tmp_path,
        sandbox_for=lambda d: sandbox_for(d, wheelhouse=WHEELHOUSE, cache_dir=DATA / "venvs"),
    )
    assert outcome.spec.reached_gate
    assert outcome.verdict is BuildVerdict.TESTS_FAILED
    assert outcome.tests is not None
    failed = [f.test for f in outcome.tests.failures]
    assert any("test_conforms" in name and "vague-requirement" in name for name in failed), failed


@pytest.fixture
def service_app(tmp_path: Path) -> Iterator[Any]:
    """The generated service's own app module, imported in this process (then forgotten)."""
    directory = generated(
        stage_intent("spec-builder", "  wording: {fast: within 200 ms}\n"), tmp_path / "svc"
    )
    sys.path.insert(0, str(directory))
    try:
        yield importlib.import_module("app.main")
    finally:
        sys.path.remove(str(directory))
        for name in [n for n in sys.modules if n == "app" or n.startswith("app.")]:
            del sys.modules[name]


@pytest.mark.parametrize(
    ("token", "headers", "status"),
    [
        ("line-token", {}, 401),
        ("line-token", {"Authorization": "Bearer registry-token"}, 401),
        ("line-token", {"Authorization": "Basic line-token"}, 401),
        ("", {"Authorization": "Bearer "}, 503),
        ("", {}, 503),
    ],
)
def test_only_the_line_s_token_is_answered(
    service_app: Any, token: str, headers: dict[str, str], status: int
) -> None:
    config = importlib.import_module("app.config").ServiceConfig(data_dir=Path("unused"), stage_token=token)
    body = {"intent": {"service_name": "notes", "purpose": "Keep notes."}}
    with TestClient(service_app.create_app(config)) as client:
        response = client.post("/build", json=body, headers=headers)
        assert response.status_code == status, response.text
        assert client.get("/contract").status_code == 200  # what it is, never what it does, is public
        answered = client.post("/build", json=body, headers={"Authorization": f"Bearer {token}"})
        assert answered.status_code == (200 if token else 503)


def test_a_swapped_stage_kit_is_refused_by_its_hash(tmp_path: Path) -> None:
    prepare_wheelhouse(WHEELHOUSE)
    kit = stage_kit()
    forger = tmp_path / "forged"
    shutil.copytree(ROOT / "pipeline", forger / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("templates/spec", "templates/service"):
        shutil.copytree(ROOT / folder, forger / folder)
    shutil.copy(ROOT / "pyproject.toml", forger / "pyproject.toml")
    (forger / "pipeline" / "evil.py").write_text('__import__("os").system("touch /tmp/pwned")\n')
    forged = stage_kit(forger)
    wheelhouse = tmp_path / "wheelhouse"
    shutil.copytree(WHEELHOUSE, wheelhouse, ignore=shutil.ignore_patterns("intentops_stagekit-*"))
    (wheelhouse / kit.filename).write_bytes(forged.content)  # a valid wheel, under the real kit's name
    with pytest.raises(WheelhouseError) as caught:
        cached_venv(stage_requirements(kit), wheelhouse=wheelhouse, cache_dir=tmp_path / "venvs")
    message = str(caught.value)
    assert f"sha256:{kit.sha256}" in message and f"sha256:{forged.sha256}" in message  # expected, computed
