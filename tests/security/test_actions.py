"""Attacks on the line's GitHub Actions side, each reproduced:

- workflow-command injection: an intent file's text (a field name with a newline and `::`) or its path
  (`,` and `:`) breaking out of the `::error` annotation into commands or properties of its own;
- script injection: an event's text (a PR title, a comment) reaching a shell through `${{ }}` in a
  shipped workflow's or the action's `run:` (it must come through `env:` only);
- excess privilege: a shipped workflow granting more than `permissions: {}` by default;
- a "pwn request": `intentops action` run on `pull_request_target`, where a fork's pull request would be
  tested with the base repository's write token (it refuses to run).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bot.actions.runner import RunnerError, read_runner_event
from bot.cli.annotations import github_annotation
from pipeline.intents import IntentProblem
from tests.conftest import ROOT

INTENTOPS = Path(sys.executable).parent / "intentops"
SHIPPED = [
    *sorted((ROOT / "templates" / "github" / "workflows").glob("*.yml")),
    ROOT / ".github" / "workflows" / "intentops-line.yml",
]


def test_an_intent_cannot_inject_workflow_commands_through_its_text(tmp_path: Path) -> None:
    (tmp_path / "evil.yaml").write_text(
        'service_name: evil\npurpose: A fine service\n"x\\n::add-mask::leak\\r\\n::stop-commands::t": 1\n'
    )
    result = subprocess.run(
        [str(INTENTOPS), "validate", "--format", "github", "evil.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    commands = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert len(commands) == 1 and commands[0].startswith("::error file=evil.yaml,line=3,"), commands
    assert "%0A::add-mask::leak%0D%0A::stop-commands::t" in commands[0]


def test_a_file_name_cannot_add_annotation_properties() -> None:
    problem = IntentProblem("intents/a,line=99,title=ok:x.yaml", 2, 3, "bad 100%")
    assert github_annotation(problem) == (
        "::error file=intents/a%2Cline=99%2Ctitle=ok%3Ax.yaml,line=2,col=3,title=Invalid intent::bad 100%25"
    )


def _runs(path: Path) -> list[str]:
    loaded = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    jobs = loaded.get("jobs") or {"action": {"steps": loaded["runs"]["steps"]}}
    return [step["run"] for job in jobs.values() for step in job.get("steps", []) if "run" in step]


def test_no_expression_reaches_a_shell_in_the_shipped_workflows_and_action() -> None:
    for path in [*SHIPPED, ROOT / "action.yml"]:
        for run in _runs(path):
            assert not re.search(r"\$\{\{", run), f"{path.name}: an expression inside run: {run!r}"


def test_shipped_workflows_grant_nothing_by_default() -> None:
    for path in SHIPPED:
        loaded = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        assert loaded["permissions"] == {}, path.name
        assert "pull_request_target" not in str(loaded.get("on", loaded.get(True))), path.name


def test_the_line_refuses_to_run_on_pull_request_target(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"action": "opened"}')
    env = {"GITHUB_EVENT_NAME": "pull_request_target", "GITHUB_EVENT_PATH": str(event)}
    with pytest.raises(RunnerError, match="refuses pull_request_target"):
        read_runner_event({**env, "GITHUB_REPOSITORY": "acme/intents"})
