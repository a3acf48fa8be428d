"""The README's test command is what CI runs, and the workflows pass actionlint."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from tests.conftest import ROOT

ACTIONLINT = Path(sys.executable).parent / "actionlint"


def readme_test_command() -> str:
    match = re.search(r"^make test\b", (ROOT / "README.md").read_text(), re.MULTILINE)
    assert match, "the README must give `make test` as the test command"
    return "make test"


def test_ci_run_calls_exactly_the_readme_test_command() -> None:
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [ln for ln in lines if ln and not ln.startswith("#") and not ln.startswith(("set ", "cd "))]
    assert commands == [readme_test_command()]


def test_workflow_runs_the_same_command_with_no_default_permissions() -> None:
    workflow = YAML(typ="safe").load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    assert workflow["permissions"] == {}
    steps = workflow["jobs"]["test"]["steps"]
    assert any(readme_test_command() in step.get("run", "") for step in steps)


def test_ci_reaches_the_tests_through_sudo() -> None:
    """sudo resets the environment: without CI=true the tests would skip what CI must run (Docker,
    PostgreSQL, Chromium) instead of failing when it is missing."""
    workflow = YAML(typ="safe").load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    for step in workflow["jobs"]["test"]["steps"]:
        run = step.get("run", "")
        if run.startswith("sudo"):
            kept = re.search(r"--preserve-env=(\S+)", run)
            assert kept and "CI" in kept.group(1).split(","), run


def test_workflows_pass_actionlint() -> None:
    assert ACTIONLINT.exists() or shutil.which("actionlint"), "actionlint is a locked dev dependency"
    files = sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.y*ml"))
    result = subprocess.run(
        [str(ACTIONLINT), "-no-color", *files], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
