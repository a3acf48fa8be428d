"""The Claude path of the factory, against a local Messages API server with the real anthropic SDK:
structured spec output, optimizer rewrites, and code generation with repair rounds that may not touch tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.assembly import BuildVerdict, build_service
from pipeline.codegen.generator import generate_service
from pipeline.codegen.model_path import generate_with_model
from pipeline.intents import parse_intent_mapping
from pipeline.llm.anthropic import AnthropicProvider
from pipeline.sandbox import ProcessSandbox
from pipeline.spec.builder import SpecBuildError, build_spec
from pipeline.spec.judge import judged_verification
from pipeline.spec.model import FunctionalRequirement, Spec
from pipeline.spec.optimizer import optimize
from pipeline.spec.verifier import verify
from tests.factory.conftest import load_example
from tests.fixtures.anthropic_api import FakeMessagesAPI

HELLO_HANDLER = (
    '    raise HTTPException(status_code=501, detail=NOT_IMPLEMENTED.format(endpoint="GET /motd"))'
)
"""The placeholder of GET /motd (tests.factory.conftest.MOTD): it answers 501 until a model writes it."""
MODEL_HANDLER = """    return {"motd": "Ship small, ship often"}"""
MOTD_ROUTE = '    "/motd",\n    status_code=200,'
BUGGY_ROUTE = '    "/motd",\n    status_code=202,'


def test_spec_builder_takes_the_models_structured_spec(
    claude: AnthropicProvider, anthropic_api: FakeMessagesAPI, hello_spec: Spec, examples_dir: Path
) -> None:
    extra = FunctionalRequirement(id="FR-010", statement="The service MUST greet in English by default.")
    answer = hello_spec.model_copy(
        update={"functional_requirements": [*hello_spec.functional_requirements, extra]}
    )
    anthropic_api.enqueue(anthropic_api.tool_use(answer.to_json(), name="write_spec"))
    spec = build_spec(
        load_example(examples_dir, "hello-world"), provider=claude, intent_path="intents/hello-world.yaml"
    )
    assert spec.functional_requirements[-1].statement == extra.statement
    assert spec.intent_path == "intents/hello-world.yaml"
    request = anthropic_api.requests[0].body
    assert request["tools"][0]["name"] == "write_spec"
    assert "FR-001" in str(request["messages"])  # the deterministic draft is what the model extends


def test_spec_builder_sends_validation_errors_back_once_then_gives_up(
    claude: AnthropicProvider, anthropic_api: FakeMessagesAPI, examples_dir: Path
) -> None:
    anthropic_api.enqueue(
        anthropic_api.tool_use({"title": "no service"}, name="write_spec"),
        anthropic_api.tool_use({"title": "still no service"}, name="write_spec"),
    )
    with pytest.raises(SpecBuildError, match="no valid spec after 2 attempts"):
        build_spec(load_example(examples_dir, "hello-world"), provider=claude)
    assert "previous answer was invalid" in str(anthropic_api.requests[1].body["messages"])


def test_optimizer_keeps_a_better_model_rewrite_and_rejects_a_worse_one(
    claude: AnthropicProvider, anthropic_api: FakeMessagesAPI, examples_dir: Path
) -> None:
    free_text = build_spec(load_example(examples_dir, "spec-analyzer"))
    structured = parse_intent_mapping(
        {
            "service_name": "spec-analyzer",
            "purpose": "Analyze SPEC quality trends.",
            "blueprint_context": "Quality specifications.",
            "resources": [
                {
                    "name": "report",
                    "fields": {"service": "string", "score": "integer"},
                    "required": ["service"],
                }
            ],
        },
        source="model",
    )
    rewrite = build_spec(structured)
    anthropic_api.enqueue(anthropic_api.tool_use(rewrite.to_json(), name="write_spec"))
    report = optimize(free_text, provider=claude)
    assert report.reached_gate
    assert "model rewrite" in report.rounds[1].repairs
    worse = free_text.model_copy(update={"security": [], "observability": []})
    anthropic_api.enqueue(anthropic_api.tool_use(worse.to_json(), name="write_spec"))
    honest = optimize(free_text, provider=claude)
    assert not honest.reached_gate
    assert "model rewrite rejected (no better score)" in honest.rounds[1].repairs


def test_codegen_model_logic_with_a_rejected_and_an_accepted_repair(
    claude: AnthropicProvider,
    anthropic_api: FakeMessagesAPI,
    custom_spec: Spec,
    sandbox_python: Path,
    tmp_path: Path,
) -> None:
    template = generate_service(custom_spec, tmp_path / "template")
    routes = (template.directory / "app" / "routes.py").read_text()
    tests_before = (template.directory / "tests" / "test_acceptance.py").read_text()
    assert HELLO_HANDLER in routes
    assert MOTD_ROUTE in routes
    buggy = routes.replace(HELLO_HANDLER, MODEL_HANDLER).replace(MOTD_ROUTE, BUGGY_ROUTE)
    fixed = buggy.replace(BUGGY_ROUTE, MOTD_ROUTE)
    weakened = tests_before.replace("== 200", ">= 200")
    anthropic_api.enqueue(
        anthropic_api.tool_use({"files": [{"path": "app/routes.py", "content": buggy}]}, name="write_files"),
        anthropic_api.tool_use(
            {"files": [{"path": "tests/test_acceptance.py", "content": weakened}]}, name="write_files"
        ),
        anthropic_api.tool_use({"files": [{"path": "app/routes.py", "content": fixed}]}, name="write_files"),
    )
    report = generate_with_model(
        custom_spec, tmp_path / "svc", provider=claude, sandbox=ProcessSandbox(sandbox_python)
    )
    assert [(r.kind, r.accepted) for r in report.rounds] == [
        ("write", True),
        ("repair", False),
        ("repair", True),
    ]
    first = report.rounds[0].result
    assert first is not None and first.failed == 1
    assert "outside app/" in report.rounds[1].reason
    assert report.ok, report.result.output
    assert (tmp_path / "svc" / "tests" / "test_acceptance.py").read_text() == tests_before
    assert "Ship small" in (tmp_path / "svc" / "app" / "routes.py").read_text()
    repair_prompt = str(anthropic_api.requests[1].body["messages"])
    assert "202" in repair_prompt and "Fix the code, not the tests" in repair_prompt


def test_codegen_repair_rounds_are_bounded_and_skips_are_rejected(
    claude: AnthropicProvider,
    anthropic_api: FakeMessagesAPI,
    custom_spec: Spec,
    sandbox_python: Path,
    tmp_path: Path,
) -> None:
    template = generate_service(custom_spec, tmp_path / "template")
    routes = (template.directory / "app" / "routes.py").read_text()
    broken = routes.replace(HELLO_HANDLER, '    raise RuntimeError("not yet")')
    sneaky = routes.replace(
        "from __future__ import annotations", "from __future__ import annotations\n\nimport pytest"
    )
    anthropic_api.enqueue(
        anthropic_api.tool_use({"files": [{"path": "app/routes.py", "content": broken}]}, name="write_files"),
        anthropic_api.tool_use({"files": [{"path": "app/routes.py", "content": sneaky}]}, name="write_files"),
        anthropic_api.tool_use(
            {"files": [{"path": "app/conftest.py", "content": "X = 1\n"}]}, name="write_files"
        ),
        anthropic_api.tool_use({"files": [{"path": "app/routes.py", "content": broken}]}, name="write_files"),
    )
    report = generate_with_model(
        custom_spec, tmp_path / "svc", provider=claude, sandbox=ProcessSandbox(sandbox_python)
    )
    assert not report.ok
    assert len(report.rounds) == 4  # the write round and at most 3 repairs
    assert [r.accepted for r in report.rounds] == [True, False, False, True]
    assert "pytest" in report.rounds[1].reason and "conftest.py" in report.rounds[2].reason


def test_the_judge_can_lower_a_score_but_never_raise_one(
    claude: AnthropicProvider, anthropic_api: FakeMessagesAPI, hello_spec: Spec, examples_dir: Path
) -> None:
    concern = {"section": "security", "severity": "warning", "message": "No rate limit on POST /greetings."}
    anthropic_api.enqueue(anthropic_api.tool_use({"findings": [concern]}, name="report_findings"))
    judged = judged_verification(hello_spec, claude)
    assert judged.score < verify(hello_spec).score
    assert any(f.code == "judge" and "rate limit" in f.message for f in judged.findings)
    free_text = build_spec(load_example(examples_dir, "spec-analyzer"))
    anthropic_api.enqueue(anthropic_api.tool_use({"findings": []}, name="report_findings"))
    assert judged_verification(free_text, claude).score == verify(free_text).score
    anthropic_api.enqueue(anthropic_api.tool_use({"findings": "not a list"}, name="report_findings"))
    assert judged_verification(hello_spec, claude).score == verify(hello_spec).score


def _line_sandbox(python: Path) -> Callable[[Path], ProcessSandbox]:
    def sandbox_for(directory: Path) -> ProcessSandbox:
        assert (directory / "requirements-test.txt").is_file(), "the sandbox is asked for after generation"
        return ProcessSandbox(python)

    return sandbox_for


def test_the_assembly_line_uses_the_judge_and_the_model_path(
    claude: AnthropicProvider,
    anthropic_api: FakeMessagesAPI,
    custom_spec: Spec,
    examples_dir: Path,
    sandbox_python: Path,
    tmp_path: Path,
) -> None:
    routes = (
        generate_service(custom_spec, tmp_path / "template").directory / "app" / "routes.py"
    ).read_text()
    buggy = routes.replace(HELLO_HANDLER, '    raise RuntimeError("not yet")')
    fixed = routes.replace(HELLO_HANDLER, MODEL_HANDLER)
    concern = {"section": "security", "severity": "info", "message": "Consider a rate limit."}
    anthropic_api.enqueue(
        anthropic_api.tool_use(custom_spec.to_json(), name="write_spec"),
        anthropic_api.tool_use({"findings": [concern]}, name="report_findings"),
        anthropic_api.tool_use({"files": [{"path": "app/routes.py", "content": buggy}]}, name="write_files"),
        anthropic_api.tool_use({"files": [{"path": "app/routes.py", "content": fixed}]}, name="write_files"),
    )
    outcome = build_service(
        load_example(examples_dir, "hello-world"),
        intent_path="intents/hello-world.yaml",
        blueprint="",
        workdir=tmp_path / "work",
        sandbox_for=_line_sandbox(sandbox_python),
        provider=claude,
    )
    assert outcome.verdict is BuildVerdict.READY, outcome.to_json()
    tools = [r.body["tools"][0]["name"] for r in anthropic_api.requests]
    assert tools == ["write_spec", "report_findings", "write_files", "write_files"]
    assert any(f.code == "judge" for f in outcome.spec.verification.findings)
    assert outcome.spec.verification.score < verify(outcome.spec.spec).score  # the judge only lowers
    assert [(r.kind, r.accepted) for r in outcome.model_rounds] == [("write", True), ("repair", True)]
    assert "Ship small" in outcome.files["app/routes.py"].decode()
    assert outcome.spec.spec.logic == "model"
    assert not anthropic_api.unexpected


def test_a_judge_that_finds_real_problems_keeps_the_line_below_the_gate(
    claude: AnthropicProvider,
    anthropic_api: FakeMessagesAPI,
    hello_spec: Spec,
    examples_dir: Path,
    tmp_path: Path,
) -> None:
    problems = [
        {"section": "endpoints", "severity": "error", "message": f"GET /hello contradicts FR-00{n}."}
        for n in range(1, 4)
    ]
    anthropic_api.enqueue(
        anthropic_api.tool_use(hello_spec.to_json(), name="write_spec"),
        anthropic_api.tool_use({"findings": problems}, name="report_findings"),
    )
    outcome = build_service(
        load_example(examples_dir, "hello-world"),
        intent_path="intents/hello-world.yaml",
        blueprint="",
        workdir=tmp_path,
        sandbox_for=lambda _: pytest.fail("no code for a spec the judge put below the gate"),
        provider=claude,
    )
    assert outcome.verdict is BuildVerdict.SPEC_BELOW_GATE
    assert outcome.spec.verification.score < 90
    assert not anthropic_api.unexpected
