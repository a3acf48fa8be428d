"""IntentOps installed from its wheel in a fresh venv, outside the checkout: the data files it needs are in
the package, `intentops --version` names the release, and `intentops demo` takes hello-world from commit
to a running service (offline: the checkout's prepared wheelhouse and venv cache are lent to it)."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT, InstalledWheel

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]
DEMO_TIMEOUT_S = 300
SHIPPED_FILES = (
    "pipeline/_shipped/templates/spec/SPEC.md.j2",
    "pipeline/_shipped/templates/service/app/main.py.j2",
    "pipeline/_shipped/templates/github/ISSUE_TEMPLATE/intent.yml",
    "pipeline/_shipped/policies/floor/floor.yaml",
    "pipeline/_shipped/policies/defaults.yaml",
    "pipeline/_shipped/monitors/optimizer-rounds.yaml",
    "pipeline/_shipped/examples/BLUEPRINT.md",
    "pipeline/_shipped/schemas/intent.schema.json",
    "pipeline/_shipped/requirements.lock",
    "pipeline/_shipped/scripts/docker.sh",
    "pipeline/state/migrations/versions/0001_baseline.py",
    "bot/dashboard/static/htmx.min.js",
)


def _clean_env(home: Path) -> dict[str, str]:
    """The caller's environment without IntentOps' settings or a path into the sources."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("INTENTOPS_", "GITHUB_", "ANTHROPIC_", "PYTHON", "VIRTUAL_ENV"))
        and key != "DATABASE_URL"
    }
    return {**env, "HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1"}


def _project_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"])


def test_the_wheel_carries_every_data_file(installed_wheel: InstalledWheel) -> None:
    names = installed_wheel.names()
    missing = [name for name in SHIPPED_FILES if name not in names]
    assert not missing, f"the wheel lacks {missing}"
    assert not [name for name in names if "__pycache__" in name or name.startswith("tests/")]


def test_demo_runs_from_the_installed_wheel(installed_wheel: InstalledWheel, tmp_path: Path) -> None:
    env = _clean_env(tmp_path)
    where = subprocess.run(
        [installed_wheel.python, "-c", "import pipeline, bot; print(pipeline.__file__, bot.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(ROOT) not in where and str(installed_wheel.venv) in where

    version = subprocess.run(
        [installed_wheel.intentops, "--version"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.strip() == f"intentops {_project_version()}"

    data = tmp_path / ".data"
    data.mkdir()
    (data / "wheelhouse").symlink_to(ROOT / ".data" / "wheelhouse")
    (data / "venvs").symlink_to(ROOT / ".data" / "venvs", target_is_directory=True)
    demo = subprocess.run(
        [installed_wheel.intentops, "demo", "--exit", "--port", "0", "--forge-port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "hello-world is running at http://127.0.0.1:" in demo.stdout
    assert "spec       succeeded score" in demo.stdout
