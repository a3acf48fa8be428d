"""The README's main command, run as a user runs it: `intentops demo` from commit to a running service."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import typer
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from bot.cli.demo_cmd import _check_service
from tests.conftest import ROOT
from tests.fixtures.servers import free_port, serve_app

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]


def test_demo_drives_hello_world_to_a_running_service_and_cleans_up(tmp_path: Path) -> None:
    intentops = Path(sys.executable).parent / "intentops"
    result = subprocess.run(
        [
            str(intentops),
            "demo",
            "--exit",
            "--data-dir",
            str(tmp_path / "demo"),
            "--port",
            "0",
            "--forge-port",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    stages = ("received", "governed", "spec", "code", "tests", "pr", "signoff", "merged", "deployed")
    for stage in (*stages, "health"):
        row = rf"│ {stage}\s+│ succeeded\s+│ \d+\.\ds\s+│ \+\d+\.\ds"
        assert re.search(row, output), f"no '{stage}' row with its duration in the timeline:\n{output}"
    url = re.search(r"hello-world is running at (http://127\.0\.0\.1:\d+)", output)
    assert url, output
    assert "bob approves" in output and "the bot merges it" in output
    assert "Traceback" not in result.stderr
    credentials = tmp_path / "demo" / "credentials.json"
    assert credentials.stat().st_mode & 0o077 == 0, "the demo's tokens are readable by their owner only"
    for token in json.loads(credentials.read_text())["tokens"].values():
        assert token not in output + result.stderr, "no token is ever printed"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url.group(1)}/health", timeout=3)  # --exit stops what the demo deployed


def test_the_demo_fails_when_the_service_does_not_answer(capfd: pytest.CaptureFixture[str]) -> None:
    unhealthy = FastAPI()

    @unhealthy.get("/health")
    def health() -> PlainTextResponse:
        return PlainTextResponse("starting", status_code=503)

    @unhealthy.get("/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    pushed_at = datetime.now(UTC)
    with serve_app(unhealthy) as url, pytest.raises(typer.Exit) as answered_503:
        _check_service(url, pushed_at)
    assert answered_503.value.exit_code == 1
    assert "answered 503 on /health and 200 on /hello" in capfd.readouterr().err

    with pytest.raises(typer.Exit) as silent:
        _check_service(f"http://127.0.0.1:{free_port()}", pushed_at)
    assert silent.value.exit_code == 1
    assert "does not answer" in capfd.readouterr().err


def test_the_self_improving_demo_adopts_spec_builder_v2_through_two_approvals(tmp_path: Path) -> None:
    """`intentops demo --self-improve`: the line builds its own spec-builder-v2, proves it beside the
    built-in, adopts it through a pull request two people approve, and builds the next SPEC with it."""
    intentops = Path(sys.executable).parent / "intentops"
    data = tmp_path / "demo"
    command = [str(intentops), "demo", "--self-improve", "--data-dir", str(data), "--port", "0"]
    result = subprocess.run(
        [*command, "--forge-port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    assert "Self-modification needs two approvals" in output, "the stage is governed as a self-modification"
    assert "signed off by bob, carol" in output
    assert re.search(r"shadow evaluation #\d+ on \d+ recent intents: spec-builder-v2 is better than", output)
    assert re.search(r"rounds_to_gate +[\d.]+ -> [\d.]+ +better", output), output
    assert "bob approves the adoption" in output and "carol approves the adoption" in output
    assert "spec-builder by spec-builder-v2" in output, "the next intent's SPEC names the stage that built it"
    assert "its SPEC was built by: spec-builder-v2" in output
    assert "Traceback" not in result.stderr
    for token in json.loads((data / "credentials.json").read_text())["tokens"].values():
        assert token not in output + result.stderr
