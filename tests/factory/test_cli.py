"""`intentops spec`, `generate`, `sandbox` and `stage`, run as a user runs them: the installed script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.factory.conftest import free_port

INTENTOPS = Path(sys.executable).parent / "intentops"
DATA = ROOT / ".data"


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    environment.update(env or {})
    return subprocess.run(
        [str(INTENTOPS), *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=environment
    )


def test_spec_generate_sandbox_end_to_end(tmp_path: Path, sandbox_python: Path) -> None:
    intent = str(EXAMPLES / "intents" / "bookmarks.yaml")
    built = run("spec", intent, "-o", "spec", "--blueprint", str(EXAMPLES / "BLUEPRINT.md"), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "reached the gate" in built.stdout
    assert (tmp_path / "spec" / "SPEC.md").is_file()
    generated = run("generate", "spec", "-o", "services/bookmarks", cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    assert "app/main.py" in generated.stdout
    tested = run(
        "sandbox",
        "services/bookmarks",
        "--format",
        "json",
        cwd=tmp_path,
        env={"INTENTOPS_DATA_DIR": str(DATA)},
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    result = json.loads(tested.stdout)
    assert result["ok"] and result["passed"] > 10 and result["skipped"] == 0


def test_spec_then_generate_in_the_default_folder(tmp_path: Path) -> None:
    assert run("spec", str(EXAMPLES / "intents" / "hello-world.yaml"), cwd=tmp_path).returncode == 0
    folder = "services/hello-world"
    generated = run("generate", folder, "-o", folder, cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    assert (tmp_path / folder / "service.yaml").is_file() and (tmp_path / folder / "SPEC.md").is_file()


def test_spec_of_a_free_text_intent_is_reported_below_the_gate(tmp_path: Path) -> None:
    result = run("spec", str(EXAMPLES / "intents" / "spec-analyzer.yaml"), "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["reached_gate"] is False and report["score"] < 90
    assert (tmp_path / "services" / "spec-analyzer" / "SPEC.md").is_file()


def test_spec_names_the_line_of_a_bad_intent(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("service_name: ok-name\npurpose: Something useful.\npriority: urgent\n")
    result = run("spec", str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert "bad.yaml:3:11" in result.stderr
    assert "Traceback" not in result.stderr


def test_generate_and_sandbox_refuse_what_is_not_theirs(tmp_path: Path) -> None:
    missing = run("generate", "nowhere.json", "-o", "out", cwd=tmp_path)
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    (tmp_path / "plain").mkdir()
    not_service = run("sandbox", "plain", cwd=tmp_path)
    assert not_service.returncode == 1 and "not a generated service" in not_service.stderr
    assert "Traceback" not in missing.stderr + not_service.stderr


def test_a_stage_is_servable_alone(tmp_path: Path, hello_spec: object) -> None:
    from pipeline.spec.model import Spec
    from pipeline.spec.render import write_spec

    assert isinstance(hello_spec, Spec)
    write_spec(hello_spec, tmp_path / "hello")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    env["INTENTOPS_STAGE_TOKEN"] = "cli-stage-token"
    command = [str(INTENTOPS), "stage", "spec-verifier", "--port", str(port), "--root", str(tmp_path)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None and time.monotonic() < deadline, "the stage did not start"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        headers = {"Authorization": "Bearer cli-stage-token"}
        response = httpx.post(f"{url}/verify-file", json={"file_path": "hello"}, headers=headers)
        assert response.status_code == 200 and response.json()["score"] == 100
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_stage_will_not_start_without_a_token(tmp_path: Path) -> None:
    result = run(
        "stage", "spec-verifier", "--port", str(free_port()), cwd=tmp_path, env={"INTENTOPS_STAGE_TOKEN": ""}
    )
    assert result.returncode == 1
    assert "INTENTOPS_STAGE_TOKEN" in result.stderr


@pytest.mark.parametrize("name", ["nope"])
def test_unknown_stage(tmp_path: Path, name: str) -> None:
    result = run("stage", name, cwd=tmp_path, env={"INTENTOPS_STAGE_TOKEN": "x"})
    assert result.returncode == 1 and "unknown stage" in result.stderr
