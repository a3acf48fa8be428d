"""`intentops spec`, `generate`, `sandbox` and `stage`: one end-to-end run through the installed script,
the rest through the command module itself (the whole CLI takes seconds to start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from bot.cli import factory_cmd
from pipeline.codegen.generator import generate_service
from pipeline.spec.model import Spec
from pipeline.spec.render import write_spec
from tests.conftest import EXAMPLES, ROOT
from tests.factory.conftest import CLAUDE_KEY, CLAUDE_MODEL
from tests.factory.test_claude_path import HELLO_HANDLER, MODEL_HANDLER
from tests.fixtures.anthropic_api import FakeMessagesAPI
from tests.fixtures.servers import free_port

INTENTOPS = Path(sys.executable).parent / "intentops"
DATA = ROOT / ".data"
START_TIMEOUT_S = 90


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    environment.update(env or {})
    return subprocess.run(
        [str(INTENTOPS), *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=environment
    )


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("INTENTOPS_DATA_DIR", str(DATA))
    app = typer.Typer()
    factory_cmd.register(app)
    return app


def invoke(app: typer.Typer, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def test_spec_generate_sandbox_end_to_end(tmp_path: Path, sandbox_python: Path) -> None:
    intent = str(EXAMPLES / "intents" / "bookmarks.yaml")
    built = run("spec", intent, "-o", "spec", "--blueprint", str(EXAMPLES / "BLUEPRINT.md"), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "reached the gate" in built.stdout
    assert (tmp_path / "spec" / "SPEC.md").is_file()
    generated = run("generate", "spec", "-o", "services/bookmarks", cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    assert "app/main.py" in generated.stdout
    # From a folder with no .data of its own and no INTENTOPS_DATA_DIR: the checkout's wheelhouse is found.
    assert not (tmp_path / ".data").exists() and "INTENTOPS_DATA_DIR" not in os.environ
    tested = run("sandbox", "services/bookmarks", "--format", "json", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    result = json.loads(tested.stdout)
    assert result["ok"] and result["passed"] > 10 and result["skipped"] == 0


def test_sandbox_names_every_place_it_looked_for_a_wheelhouse(
    cli: typer.Typer, tmp_path: Path, generated: dict[str, Path]
) -> None:
    missing = tmp_path / "no-wheels"
    result = invoke(cli, "sandbox", str(generated["hello-world"]), "--wheelhouse", str(missing))
    assert result.exit_code == 1
    assert f"no prepared wheelhouse (looked in: {missing})" in result.stderr
    assert "--wheelhouse" in result.stderr


def test_spec_then_generate_in_the_default_folder(cli: typer.Typer, tmp_path: Path) -> None:
    assert invoke(cli, "spec", str(EXAMPLES / "intents" / "hello-world.yaml")).exit_code == 0
    folder = "services/hello-world"
    generated = invoke(cli, "generate", folder, "-o", folder)
    assert generated.exit_code == 0, generated.output
    assert (tmp_path / folder / "service.yaml").is_file() and (tmp_path / folder / "SPEC.md").is_file()


def test_spec_of_a_free_text_intent_is_reported_below_the_gate(cli: typer.Typer, tmp_path: Path) -> None:
    result = invoke(cli, "spec", str(EXAMPLES / "intents" / "spec-analyzer.yaml"), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["reached_gate"] is False and report["score"] < 90
    assert (tmp_path / "services" / "spec-analyzer" / "SPEC.md").is_file()


def test_spec_shows_rounds_and_findings_below_the_gate(cli: typer.Typer, tmp_path: Path) -> None:
    intent = tmp_path / "builder.yaml"
    intent.write_text("service_name: builder\npurpose: Improved SPEC generation with better templates\n")
    result = invoke(cli, "spec", str(intent))
    assert result.exit_code == 1
    assert "below the gate" in result.stdout
    assert "'better' is not measurable" in result.stdout


def test_spec_names_the_line_of_a_bad_intent(cli: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("service_name: ok-name\npurpose: Something useful.\npriority: urgent\n")
    result = invoke(cli, "spec", str(bad))
    assert result.exit_code == 1
    assert "bad.yaml:3:11" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_generate_and_sandbox_refuse_what_is_not_theirs(cli: typer.Typer, tmp_path: Path) -> None:
    missing = invoke(cli, "generate", "nowhere.json", "-o", "out")
    assert missing.exit_code == 1 and "cannot read" in missing.stderr
    (tmp_path / "plain").mkdir()
    not_service = invoke(cli, "sandbox", "plain")
    assert not_service.exit_code == 1 and "not a generated service" in not_service.stderr


def test_a_stage_will_not_start_without_a_token(cli: typer.Typer) -> None:
    result = invoke(
        cli, "stage", "spec-verifier", "--port", str(free_port()), env={"INTENTOPS_STAGE_TOKEN": ""}
    )
    assert result.exit_code == 1
    assert "INTENTOPS_STAGE_TOKEN" in result.stderr


def test_unknown_stage(cli: typer.Typer) -> None:
    result = invoke(cli, "stage", "nope", env={"INTENTOPS_STAGE_TOKEN": "x"})
    assert result.exit_code == 1 and "unknown stage" in result.stderr


def test_a_stage_is_servable_alone(tmp_path: Path, hello_spec: Spec) -> None:
    write_spec(hello_spec, tmp_path / "hello")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    env["INTENTOPS_STAGE_TOKEN"] = "cli-stage-token"
    command = [str(INTENTOPS), "stage", "spec-verifier", "--port", str(port), "--root", str(tmp_path)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None and time.monotonic() < deadline, "the stage did not start"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        headers = {"Authorization": "Bearer cli-stage-token"}
        response = httpx.post(f"{url}/verify-file", json={"file_path": "hello"}, headers=headers)
        assert response.status_code == 200 and response.json()["score"] == 100
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_generate_with_a_model_writes_the_custom_logic(
    cli: typer.Typer, tmp_path: Path, custom_spec: Spec, anthropic_api: FakeMessagesAPI, sandbox_python: Path
) -> None:
    template = generate_service(custom_spec, tmp_path / "template")
    routes = (template.directory / "app" / "routes.py").read_text()
    written = routes.replace(HELLO_HANDLER, MODEL_HANDLER)
    anthropic_api.enqueue(
        anthropic_api.tool_use({"files": [{"path": "app/routes.py", "content": written}]}, name="write_files")
    )
    write_spec(custom_spec, tmp_path / "spec")
    env = {
        "ANTHROPIC_API_KEY": CLAUDE_KEY,
        "ANTHROPIC_BASE_URL": anthropic_api.base_url,
        "INTENTOPS_MODEL": CLAUDE_MODEL,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
    }
    result = invoke(cli, "generate", "spec", "-o", "svc", env=env)
    assert result.exit_code == 0, result.output
    assert "write round 0: accepted (passed)" in result.stderr
    assert "Ship small" in (tmp_path / "svc" / "app" / "routes.py").read_text()


def test_spec_rounds_are_capped_at_three(cli: typer.Typer) -> None:
    result = invoke(cli, "spec", str(EXAMPLES / "intents" / "hello-world.yaml"), "--rounds", "10")
    assert result.exit_code == 2
    assert "less than or equal to 3" in result.output


def test_spec_with_a_model_adds_the_judges_findings(
    cli: typer.Typer, tmp_path: Path, hello_spec: Spec, anthropic_api: FakeMessagesAPI
) -> None:
    concern = {
        "section": "endpoints",
        "severity": "error",
        "message": "GET /hello says nothing of languages.",
    }
    anthropic_api.enqueue(
        anthropic_api.tool_use(hello_spec.to_json(), name="write_spec"),
        anthropic_api.tool_use({"findings": [concern]}, name="report_findings"),
    )
    env = {
        "ANTHROPIC_API_KEY": CLAUDE_KEY,
        "ANTHROPIC_BASE_URL": anthropic_api.base_url,
        "INTENTOPS_MODEL": CLAUDE_MODEL,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
    }
    intent = str(EXAMPLES / "intents" / "hello-world.yaml")
    result = invoke(cli, "spec", intent, "--format", "json", env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["score"] == 92  # 100 by the rubric, lowered by the judge's error on endpoints
    assert any(f["code"] == "judge" for f in report["verification"]["findings"])
    assert not anthropic_api.unexpected


def test_generate_refuses_a_spec_below_the_gate_unless_forced(cli: typer.Typer, tmp_path: Path) -> None:
    assert invoke(cli, "spec", str(EXAMPLES / "intents" / "spec-analyzer.yaml"), "-o", "spec").exit_code == 1
    refused = invoke(cli, "generate", "spec", "-o", "svc")
    assert refused.exit_code == 1
    assert "(gate 90)" in refused.stderr
    assert "--force" in refused.stderr and "no endpoint serves the purpose" in refused.stderr
    assert not (tmp_path / "svc").exists()
    forced = invoke(cli, "generate", "spec", "-o", "svc", "--force")
    assert forced.exit_code == 0, forced.output
    assert "generating anyway" in forced.stderr
    assert (tmp_path / "svc" / "app" / "main.py").is_file()
