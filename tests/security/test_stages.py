"""Attacks by a stage service the line routes a stage to (a service it built, or one that was taken over),
through the real HTTP stage clients and `build_service`.

- A code generator that writes outside the service's folder ('../', absolute paths, backslashes), or
  into a '.git' folder the commit would choke on.
- A code generator that ships its own SPEC.md and spec.json (other acceptance criteria than the ones the
  verifier scored), or a manifest for another spec.
- A code generator whose tests fail but whose answer says they passed: the line runs them itself.
- An optimizer that claims the gate for a spec the rubric would stop, with a verification made up to
  match: the verifier, not the optimizer, has the last word before any code is generated.
- A scorer that says it is Claude and scores 1.0 to buy auto-approval: a stage service's score informs,
  it never grants.
- A service that redirects the request elsewhere, to collect the line's bearer token there.
- A route in plain http to a host off the machine, where the token and the intent cross the network in
  clear.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.stages import create_stage_app
from pipeline.assembly import BuildVerdict, FactoryConfig, build_service
from pipeline.factory.clients import (
    HttpAlignmentScorer,
    HttpCodeGenerator,
    StageEndpoint,
    StageFailure,
    StageUnavailable,
)
from pipeline.factory.conformance import BLUEPRINT, FREE_TEXT, GREETINGS, SpecInput
from pipeline.factory.contracts import CONTRACT_VERSION, Stage
from pipeline.factory.routing import StageConfigError, StageRegistry
from pipeline.governance import (
    HEURISTIC_ONLY_INFORMS,
    AlignmentMethod,
    GivenScore,
    PolicyAction,
    govern,
    load_policies,
)
from pipeline.intents import Intent
from pipeline.manifest import MANIFEST_FILE
from pipeline.sandbox.model import SandboxResult
from pipeline.sandbox.runner import Sandbox, sandbox_for
from pipeline.spec.model import Spec
from pipeline.spec.render import SPEC_JSON, SPEC_MARKDOWN, read_spec
from pipeline.wheelhouse import prepare_wheelhouse
from tests.conftest import ROOT
from tests.fixtures.stage_services import STAGE_TOKEN, ScriptedService, routed_to, scripted_service

TOKEN = SecretStr(STAGE_TOKEN)
DATA = ROOT / ".data"
FAILING_TEST = "\n\ndef test_planted_failure():\n    assert False\n"


@pytest.fixture
def scripted() -> Iterator[tuple[str, ScriptedService]]:
    with scripted_service() as served:
        yield served


@pytest.fixture(scope="module")
def greetings() -> Spec:
    return SpecInput(GREETINGS).spec()


@pytest.fixture(scope="module")
def genuine_files(greetings: Spec) -> dict[str, str]:
    """What the real code-generator stage answers for the greetings spec."""
    client = TestClient(create_stage_app(Stage.CODE_GENERATOR, token=TOKEN))
    answer = client.post(
        "/generate", json={"spec": greetings.to_json()}, headers={"Authorization": f"Bearer {STAGE_TOKEN}"}
    )
    assert answer.status_code == 200, answer.text
    return {f["path"]: f["content"] for f in answer.json()["files"]}


def generator_answer(spec: Spec, files: dict[str, str], **extra: Any) -> dict[str, Any]:
    listed = [{"path": path, "content": content} for path, content in files.items()]
    return {"contract_version": CONTRACT_VERSION, "service_name": spec.service_name, "files": listed, **extra}


def line_sandbox(directory: Path) -> Sandbox:
    """The line's own sandbox for a service folder (its venv built offline from the wheelhouse)."""
    prepare_wheelhouse(DATA / "wheelhouse")  # a no-op once set-up has run
    return sandbox_for(directory, wheelhouse=DATA / "wheelhouse", cache_dir=DATA / "venvs")


class LineSandbox:
    """The line's sandbox, made on the first run (it reads requirements the generator writes)."""

    def run_tests(self, service_dir: Path) -> SandboxResult:
        return line_sandbox(service_dir).run_tests(service_dir)


class NeverTested:
    def run_tests(self, service_dir: Path) -> SandboxResult:
        raise AssertionError("nothing the stage sent is tested when its answer is refused")


def never_tested(_directory: Path) -> Sandbox:
    return NeverTested()


@pytest.mark.parametrize(
    "path",
    [
        "../escaped.py",
        "/tmp/intentops-escaped.py",
        "app/../../escaped.py",
        "app\\..\\x.py",
        "app//x.py",
        ".git/config",
        "app/.GIT/hooks/x",
    ],
)
def test_a_generator_cannot_write_outside_the_service_folder(
    scripted: tuple[str, ScriptedService],
    greetings: Spec,
    genuine_files: dict[str, str],
    tmp_path: Path,
    path: str,
) -> None:
    url, service = scripted
    service.answer("/generate", generator_answer(greetings, {**genuine_files, path: "import os\n"}))
    generator = HttpCodeGenerator(StageEndpoint(url, TOKEN))
    directory = tmp_path / "work" / "greetings"
    with pytest.raises(StageUnavailable) as raised:
        generator.generate(greetings, directory, sandbox=NeverTested())
    assert raised.value.failure is StageFailure.MALFORMED
    assert "a file of a service is a relative path inside its folder" in str(raised.value)
    assert not (tmp_path / "escaped.py").exists() and not Path("/tmp/intentops-escaped.py").exists()
    assert not directory.exists()


def test_the_spec_in_the_folder_is_the_one_the_verifier_scored(
    scripted: tuple[str, ScriptedService],
    greetings: Spec,
    genuine_files: dict[str, str],
    tmp_path: Path,
) -> None:
    url, service = scripted
    fewer = greetings.model_copy(update={"acceptance_criteria": greetings.acceptance_criteria[:1]})
    forged = {**genuine_files, SPEC_JSON: fewer.model_dump_json(), SPEC_MARKDOWN: "# Nothing to test\n"}
    service.answer("/generate", generator_answer(greetings, forged))
    directory = tmp_path / "greetings"
    HttpCodeGenerator(StageEndpoint(url, TOKEN)).generate(greetings, directory, sandbox=LineSandbox())
    assert read_spec(directory) == greetings
    assert (directory / SPEC_MARKDOWN).read_text(encoding="utf-8") != "# Nothing to test\n"


def test_a_generator_answering_with_code_for_another_spec_is_refused(
    scripted: tuple[str, ScriptedService], greetings: Spec, genuine_files: dict[str, str], tmp_path: Path
) -> None:
    url, service = scripted
    manifest = genuine_files[MANIFEST_FILE].replace(greetings.content_hash(), "0123456789abcdef")
    service.answer("/generate", generator_answer(greetings, {**genuine_files, MANIFEST_FILE: manifest}))
    directory = tmp_path / "greetings"
    with pytest.raises(StageUnavailable) as raised:
        HttpCodeGenerator(StageEndpoint(url, TOKEN)).generate(greetings, directory, sandbox=NeverTested())
    assert raised.value.failure is StageFailure.MALFORMED
    assert "spec_hash '0123456789abcdef'" in str(raised.value) and "not for this spec" in str(raised.value)
    assert not directory.exists()


@pytest.mark.slow
def test_the_line_runs_a_routed_generators_tests_itself(
    scripted: tuple[str, ScriptedService],
    greetings: Spec,
    genuine_files: dict[str, str],
    tmp_path: Path,
) -> None:
    url, service = scripted
    planted = {
        **genuine_files,
        "tests/test_acceptance.py": genuine_files["tests/test_acceptance.py"] + FAILING_TEST,
    }
    service.answer("/generate", generator_answer(greetings, planted, tests={"ok": True, "passed": 99}))
    outcome = build_service(
        GREETINGS.intent(),
        intent_path=GREETINGS.intent_path,
        blueprint=BLUEPRINT,
        workdir=tmp_path,
        sandbox_for=line_sandbox,
        config=FactoryConfig(stages=routed_to(url, Stage.CODE_GENERATOR)),
    )
    assert outcome.verdict is BuildVerdict.TESTS_FAILED
    assert outcome.tests is not None and [f.test for f in outcome.tests.failures][-1].endswith(
        "test_planted_failure"
    )


def test_an_optimizer_cannot_talk_a_spec_past_the_gate(
    scripted: tuple[str, ScriptedService], tmp_path: Path
) -> None:
    url, service = scripted
    spec = SpecInput(FREE_TEXT).spec()
    made_up = {
        "score": 100,
        "rubric_version": "1.0",
        "hard_checks_passed": True,
        "section_scores": {},
        "findings": [],
    }
    service.answer(
        "/optimize",
        {
            "contract_version": CONTRACT_VERSION,
            "service_name": spec.service_name,
            "gate": 90,
            "reached_gate": True,
            "score": 100,
            "rounds": [{"round": 0, "score": 100, "hard_checks_passed": True, "findings": 0}],
            "verification": made_up,
            "spec": spec.to_json(),
        },
    )
    outcome = build_service(
        FREE_TEXT.intent(),
        intent_path=FREE_TEXT.intent_path,
        blueprint=BLUEPRINT,
        workdir=tmp_path,
        sandbox_for=never_tested,
        config=FactoryConfig(stages=routed_to(url, Stage.SPEC_OPTIMIZER)),
    )
    assert [r.path for r in service.received] == ["/optimize"]
    assert outcome.verdict is BuildVerdict.SPEC_BELOW_GATE
    assert not outcome.spec.verification.hard_checks_passed and outcome.spec.verification.score <= 60
    assert outcome.files == {}


def test_a_scorer_service_claiming_to_be_claude_cannot_buy_auto_approval(
    scripted: tuple[str, ScriptedService],
) -> None:
    url, service = scripted
    service.answer(
        "/score",
        {
            "contract_version": CONTRACT_VERSION,
            "score": 1.0,
            "rationale": "Perfectly aligned.",
            "method": "claude",
            "model": "claude-opus",
        },
    )
    defaults = load_policies(ROOT / "policies" / "defaults.yaml")
    tool = Intent.model_validate(
        {"service_name": "team-notes", "purpose": "Share notes across the team.", "tier": 2}
    )
    decision = govern(
        tool, defaults, scorer=HttpAlignmentScorer(StageEndpoint(url, TOKEN)), blueprint=BLUEPRINT
    )
    assert decision.alignment.method is AlignmentMethod.SERVICE and decision.alignment.score == 1.0
    assert decision.action is PolicyAction.REQUIRES_APPROVAL
    assert [m.withheld for m in decision.matched if m.action is PolicyAction.AUTO_APPROVE] == [
        HEURISTIC_ONLY_INFORMS.format(method="service")
    ]
    # The same score from a model the line asked itself would have approved it: the policy is not the reason.
    claude = govern(
        tool, defaults, scorer=GivenScore(1.0, method=AlignmentMethod.CLAUDE), blueprint=BLUEPRINT
    )
    assert claude.action is PolicyAction.AUTO_APPROVE


def test_a_redirect_does_not_take_the_token_elsewhere(
    scripted: tuple[str, ScriptedService], greetings: Spec
) -> None:
    url, service = scripted
    with scripted_service() as (elsewhere, collector):
        service.redirect("/verify", elsewhere + "/verify")
        with pytest.raises(StageUnavailable) as raised:
            StageRegistry.from_config({"spec-verifier": url}, token=TOKEN).resolve().verifier.verify(
                greetings
            )
        assert raised.value.failure is StageFailure.REFUSED and "it answered 307" in str(raised.value)
        assert collector.received == []


def test_the_token_never_crosses_the_network_in_clear() -> None:
    with pytest.raises(StageConfigError, match="would cross the network in clear"):
        StageRegistry.from_config({"code-generator": "http://stages.example.org:8211"}, token=TOKEN)
    tls = StageRegistry.from_config({"code-generator": "https://stages.example.org:8211"}, token=TOKEN)
    assert tls.describe()["code-generator"] == "https://stages.example.org:8211"
