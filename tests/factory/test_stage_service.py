"""Stage services, built the way the line builds them: `build_service` on the example stage intents
offline, their SPEC through the line's builder, optimizer and verifier, their tests (the stage's
conformance suite and each hint's claim) in the real process sandbox from the wheelhouse, the stage kit
pinned by version and hash."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest

from pipeline.assembly import BuildOutcome, BuildVerdict, build_service
from pipeline.codegen.generator import ruff_executable
from pipeline.factory.conformance import BLUEPRINT
from pipeline.factory.hintchecks import hint_checks
from pipeline.factory.stages import CONTRACT_VERSION, Stage
from pipeline.factory.stageservice import (
    INFO_PATH,
    StageServiceRefused,
    describe_stage,
    generate_stage_service,
    spec_intent,
)
from pipeline.intents import Intent, load_intent, load_intent_file
from pipeline.sandbox.runner import Sandbox, sandbox_for
from pipeline.spec.builder import build_spec
from pipeline.spec.model import Spec
from pipeline.stagekit import DISTRIBUTION, ROOT, StageKitError, ensure_kits, stage_kit
from pipeline.wheelhouse import cached_venv, prepare_wheelhouse, stage_requirements, venv_python
from tests.conftest import EXAMPLES

DATA = ROOT / ".data"
WHEELHOUSE = DATA / "wheelhouse"
EXAMPLE_STAGES = {"spec-builder-v2": Stage.SPEC_BUILDER, "spec-verifier-v2": Stage.SPEC_VERIFIER}
SMALL_HINTS = {
    Stage.SPEC_BUILDER: "  wording: {fast: within 200 ms at the 95th percentile}\n",
    Stage.SPEC_VERIFIER: "  vague_words: [speedy]\n",
    Stage.SPEC_OPTIMIZER: "  repair_order: [vague-word]\n",
    Stage.ALIGNMENT_SCORER: "  synonyms: [[kudos, praise]]\n",
}


def the_sandbox() -> Callable[[Path], Sandbox]:
    prepare_wheelhouse(WHEELHOUSE)  # a no-op once set-up has run (the stage kit is put beside it)
    return lambda directory: sandbox_for(directory, wheelhouse=WHEELHOUSE, cache_dir=DATA / "venvs")


@pytest.fixture(scope="module", params=sorted(EXAMPLE_STAGES))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> BuildOutcome:
    """An example stage intent built offline, end to end (once per example)."""
    name = request.param
    blueprint = (EXAMPLES / "BLUEPRINT.md").read_text(encoding="utf-8")
    return build_service(
        load_intent_file(EXAMPLES / "intents" / f"{name}.yaml"),
        intent_path=f"intents/{name}.yaml",
        blueprint=blueprint,
        workdir=tmp_path_factory.mktemp("build"),
        sandbox_for=the_sandbox(),
    )


def test_the_example_builds_ready_with_its_tests_passing_in_the_sandbox(built: BuildOutcome) -> None:
    assert built.verdict is BuildVerdict.READY, built.to_json()
    assert built.tests is not None and built.tests.failed == 0 and built.tests.errors == 0
    conformance = [f for f in built.files if f == "tests/test_conformance.py"]
    assert conformance and built.tests.passed >= 10


def test_the_outcome_says_which_stage_and_contract_it_implements(built: BuildOutcome) -> None:
    stage = EXAMPLE_STAGES[built.service_name]
    service = built.stage_service
    assert service is not None and built.is_stage_service
    assert (service.stage, service.contract_version) == (stage, CONTRACT_VERSION)
    assert service.kit_version.startswith("0.1.0+t") and len(service.hints_digest) == 8
    kept = built.to_json()["stage_service"]
    assert kept["implements"] == f"{stage.value}@{CONTRACT_VERSION}"
    assert kept["kit_version"] == service.kit_version
    assert built.report().service_name == built.service_name  # the ledger's report still reads it


def test_the_spec_describes_the_contract_endpoint_and_every_hint(built: BuildOutcome) -> None:
    spec = built.spec.spec
    stage = EXAMPLE_STAGES[built.service_name]
    intent = load_intent_file(EXAMPLES / "intents" / f"{built.service_name}.yaml")
    assert spec.logic == "stage"
    routes = {(ep.method.value, ep.path) for ep in spec.endpoints}
    assert {("POST", stage.route), ("GET", INFO_PATH), ("GET", "/health"), ("GET", "/metrics")} <= routes
    contract = next(ep for ep in spec.endpoints if ep.path == stage.route)
    assert f"contract_version {CONTRACT_VERSION}" in contract.response
    assert {e.status for e in contract.errors} == {401, 413, 422, 503}
    statements = {fr.statement for fr in spec.functional_requirements}
    claims = [check.claim for check in hint_checks(intent.stage_hints)]
    assert claims and set(claims) <= statements
    assert built.stage_service is not None
    assert any(built.stage_service.kit_version in line for line in spec.overview.scope)
    markdown = built.files["SPEC.md"].decode()
    assert all(claim in markdown for claim in claims)


def test_every_criterion_has_its_test(built: BuildOutcome) -> None:
    spec = built.spec.spec
    tests = built.files["tests/test_acceptance.py"].decode()
    for criterion in spec.acceptance_criteria:
        assert f"def {spec.test_name(criterion)}(" in tests


def test_the_requirements_pin_the_stage_kit_by_version_and_hash(built: BuildOutcome) -> None:
    assert built.stage_service is not None
    version = built.stage_service.kit_version
    for name in ("requirements.txt", "requirements-test.txt"):
        text = built.files[name].decode()
        assert f"{DISTRIBUTION}=={version} \\\n    --hash=sha256:" in text
        assert "jinja2==" in text and "ruamel-yaml==" in text and "cel-python==" in text
    pinned = built.files["requirements.txt"].decode().split(f"{DISTRIBUTION}=={version}")[1]
    digest = pinned.split("sha256:")[1].split()[0]
    wheel = WHEELHOUSE / f"intentops_stagekit-{version}-py3-none-any.whl"
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == digest


def test_the_service_knows_its_stage_and_hints(built: BuildOutcome) -> None:
    stage_file = json.loads(built.files["app/stage.json"])
    intent = load_intent_file(EXAMPLES / "intents" / f"{built.service_name}.yaml")
    assert intent.stage_hints is not None
    assert stage_file["stage"] == EXAMPLE_STAGES[built.service_name].value
    assert stage_file["contract_version"] == CONTRACT_VERSION
    assert stage_file["hints"] == intent.stage_hints.model_dump(mode="json", exclude_none=True)


# -- generation without the sandbox -------------------------------------------------------------------------


def stage_intent(stage: Stage) -> Intent:
    text = (
        f"service_name: {stage.value}-v2\npurpose: A version of the {stage.value} stage for the team.\n"
        f"implements: {stage.value}@{CONTRACT_VERSION}\nstage_hints:\n{SMALL_HINTS[stage]}"
    )
    return load_intent(text, source=f"intents/{stage.value}-v2.yaml")


def stage_spec(intent: Intent) -> Spec:
    return describe_stage(build_spec(spec_intent(intent), blueprint=BLUEPRINT), intent)


@pytest.mark.parametrize("stage", list(SMALL_HINTS), ids=lambda s: s.value)
def test_every_stage_s_service_is_generated_clean(stage: Stage, tmp_path: Path) -> None:
    intent = stage_intent(stage)
    service, info = generate_stage_service(stage_spec(intent), tmp_path / "svc", intent=intent)
    assert info.stage is stage and service.manifest.name == intent.service_name
    ruff = ruff_executable()
    assert ruff is not None
    result = subprocess.run(
        [ruff, "check", "--no-cache", "."], cwd=service.directory, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
    routes = (service.directory / "app" / "routes.py").read_text()
    assert f'@router.post("{stage.route}")' in routes and routes.count("@router.post(") == 1


def test_the_spec_intent_asks_for_the_contract_endpoints_only() -> None:
    asked = spec_intent(stage_intent(Stage.SPEC_VERIFIER))
    assert asked.implements is None and asked.stage_hints is None and asked.resources == []
    assert [(e.method.value, e.path) for e in asked.endpoints] == [("POST", "/verify"), ("GET", INFO_PATH)]


def test_an_unvalidated_code_generator_intent_is_refused(tmp_path: Path) -> None:
    intent = stage_intent(Stage.SPEC_BUILDER).model_copy(
        update={"implements": "code-generator@1", "stage_hints": None}
    )
    with pytest.raises(StageServiceRefused, match="needs a model to write its logic"):
        spec_intent(intent)


# -- the stage kit ------------------------------------------------------------------------------------------


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A copy of the line's sources (package, templates, pyproject) a test may change."""
    root = tmp_path / "line"
    shutil.copytree(ROOT / "pipeline", root / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("templates/spec", "templates/service"):
        shutil.copytree(ROOT / folder, root / folder)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_kit_is_reproducible_and_its_version_follows_the_sources(sources: Path) -> None:
    first = stage_kit(sources)
    assert first.version == stage_kit(sources).version and first.sha256 == stage_kit(sources).sha256
    assert first.filename == f"intentops_stagekit-{first.version}-py3-none-any.whl"
    assert stage_kit(ROOT).sha256 == stage_kit(ROOT).sha256
    (sources / "pipeline" / "spec" / "text.py").write_text(
        (sources / "pipeline" / "spec" / "text.py").read_text() + "\n# changed\n"
    )
    changed = stage_kit(sources)
    assert changed.version != first.version and changed.sha256 != first.sha256
    assert changed.version.split("+")[0] == first.version.split("+")[0]


def test_the_kit_holds_the_package_and_its_templates(sources: Path) -> None:
    names = set(zipfile.ZipFile(BytesIO(stage_kit(sources).content)).namelist())
    assert "pipeline/factory/builtin.py" in names and "templates/spec/SPEC.md.j2" in names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    assert any(name.endswith(".dist-info/RECORD") for name in names)


def test_a_pinned_kit_is_built_into_the_wheelhouse_or_named_when_it_cannot_be(
    sources: Path, tmp_path: Path
) -> None:
    kit = stage_kit(sources)
    wheelhouse = tmp_path / "wheelhouse"
    ensure_kits(kit.requirement_line(), wheelhouse, root=sources)
    assert (wheelhouse / kit.filename).read_bytes() == kit.content
    with pytest.raises(StageKitError) as caught:
        ensure_kits(f"{DISTRIBUTION}==0.1.0+t000000000000 \\\n", wheelhouse, root=sources)
    assert "0.1.0+t000000000000 is not in the wheelhouse" in str(caught.value)
    assert kit.version in str(caught.value)


def test_the_kit_s_runtime_closure_imports_what_a_stage_service_imports(tmp_path: Path) -> None:
    prepare_wheelhouse(WHEELHOUSE)
    venv = cached_venv(stage_requirements(stage_kit()), wheelhouse=WHEELHOUSE, cache_dir=DATA / "venvs")
    imports = (
        "import pipeline.factory.builtin, pipeline.factory.hinted, pipeline.factory.clients, "
        "pipeline.factory.conformance, pipeline.factory.hintchecks, pipeline.intents.stagehints, "
        "pipeline.history.analysis, pipeline.history.records, fastapi, uvicorn, prometheus_client\n"
        "from pipeline.spec.render import render_markdown, templates_dir\n"
        "assert (templates_dir() / 'spec' / 'SPEC.md.j2').is_file()\n"
    )
    result = subprocess.run(
        [str(venv_python(venv)), "-c", imports], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 0, result.stderr
    building = subprocess.run(
        [str(venv_python(venv)), "-c", "import wheel"], capture_output=True, text=True, cwd=tmp_path
    )
    assert building.returncode != 0  # building kits is the line's job: a stage service never needs `wheel`
