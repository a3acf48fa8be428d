"""The README's main command, run as a user runs it: `intentops demo` from commit to a running service."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

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
    assert "bob approves" in output and "bob merges" in output
    assert "Traceback" not in result.stderr
    credentials = tmp_path / "demo" / "credentials.json"
    assert credentials.stat().st_mode & 0o077 == 0, "the demo's tokens are readable by their owner only"
    for token in json.loads(credentials.read_text())["tokens"].values():
        assert token not in output + result.stderr, "no token is ever printed"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url.group(1)}/health", timeout=3)  # --exit stops what the demo deployed
