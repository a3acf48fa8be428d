"""The shipped action, reusable workflow and templates: actionlint-clean, least privilege per job, and
the jobs the flow test runs (tests/actions/test_action_flow.py takes its arguments from the template)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.actions.rig import LINE_TEMPLATE, workflow
from tests.conftest import ROOT
from tests.test_ci_config import ACTIONLINT

TEMPLATES = ROOT / "templates" / "github" / "workflows"
REUSABLE = ROOT / ".github" / "workflows" / "intentops-line.yml"
SHIPPED = [*sorted(TEMPLATES.glob("*.yml")), REUSABLE]


def test_templates_pass_actionlint() -> None:
    files = [str(p) for p in sorted(TEMPLATES.glob("*.yml"))]
    result = subprocess.run(
        [str(ACTIONLINT), "-no-color", *files], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _jobs(path: Path) -> dict[str, Any]:
    jobs: dict[str, Any] = workflow(path)["jobs"]
    return jobs


def test_every_job_names_its_permissions_and_nothing_is_granted_by_default() -> None:
    for path in SHIPPED:
        assert workflow(path)["permissions"] == {}, path
        for name, job in _jobs(path).items():
            permissions = job.get("permissions")
            assert isinstance(permissions, dict) and permissions, f"{path.name}: job {name}"
            assert "write-all" not in str(permissions), f"{path.name}: job {name}"


def test_only_the_deploy_job_deploys_and_it_runs_in_an_environment() -> None:
    for path in (LINE_TEMPLATE, REUSABLE):
        jobs = _jobs(path)
        assert set(jobs) == {"line", "deploy"}
        assert "deployments" not in jobs["line"]["permissions"] and "environment" not in jobs["line"]
        assert jobs["deploy"]["permissions"]["deployments"] == "write" and jobs["deploy"]["environment"]
        assert jobs["deploy"]["needs"] == "line"
        assert (
            "checks" not in jobs["deploy"]["permissions"] and "statuses" not in jobs["deploy"]["permissions"]
        )
        assert workflow(path)["concurrency"]["cancel-in-progress"] is False, "runs take turns on the state"


def test_validation_only_reads_and_uploads_to_code_scanning() -> None:
    jobs = _jobs(TEMPLATES / "intentops-validate.yml")
    assert jobs["validate"]["permissions"] == {"contents": "read"}
    assert jobs["code-scanning"]["permissions"] == {"contents": "read", "security-events": "write"}
    runs = " ".join(step.get("run", "") for job in jobs.values() for step in job["steps"])
    assert "intentops validate --format github intents" in runs
    assert "intentops validate --format sarif intents" in runs


def test_the_composite_action_runs_the_line_from_its_own_version() -> None:
    action = YAML(typ="safe").load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    runs = [step.get("run", "") for step in action["runs"]["steps"]]
    assert any('pip install --quiet "$ACTION_PATH"' in run for run in runs)
    assert any("intentops action" in run for run in runs)
    assert set(action["outputs"]) == {"held-deploys", "pull-requests", "exit-code"}


def test_pre_commit_hook_validates_all_intents() -> None:
    (hook,) = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["entry"] == "intentops validate intents" and hook["pass_filenames"] is False


def test_the_reusable_workflow_runs_the_same_line_as_the_template() -> None:
    template, reusable = _jobs(LINE_TEMPLATE), _jobs(REUSABLE)
    for name in ("line", "deploy"):
        runs = [[step.get("run") for step in jobs[name]["steps"]] for jobs in (template, reusable)]
        assert runs[0] == runs[1], name
        assert template[name]["permissions"] == reusable[name]["permissions"], name
        assert template[name]["if"] == reusable[name]["if"], name
