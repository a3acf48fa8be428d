"""`intentops validate --format github|sarif`: problems where GitHub shows them, on the file and line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

INTENTOPS = Path(sys.executable).parent / "intentops"
BAD = "service_name: Bad/Name\npurpose: A fine service\nowner: me\n"
GOOD = "service_name: good\npurpose: A fine service\n"


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INTENTOPS), "validate", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def _repo(tmp_path: Path) -> Path:
    (tmp_path / "intents").mkdir()
    (tmp_path / "intents" / "bad.yaml").write_text(BAD)
    (tmp_path / "intents" / "good.yaml").write_text(GOOD)
    return tmp_path


def test_github_format_annotates_each_problem_on_its_file_and_line(tmp_path: Path) -> None:
    result = run(_repo(tmp_path), "--format", "github", "intents")
    assert result.returncode == 1
    commands = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert commands == [
        "::error file=intents/bad.yaml,line=1,col=15,title=Invalid intent::service_name: "
        "must not contain path characters ('/', '\\', '.')",
        "::error file=intents/bad.yaml,line=3,col=1,title=Invalid intent::owner: unknown field 'owner' "
        "(allowed: auto_build, blueprint_context, data_sources, dependencies, endpoints, implements, "
        "priority, purpose, replicas, reports, resources, service_name, stage_hints, storage, tier)",
    ]
    assert "1 valid, 1 invalid" in result.stdout


def test_sarif_format_is_a_code_scanning_log_with_regions(tmp_path: Path) -> None:
    result = run(_repo(tmp_path), "--format", "sarif", "intents")
    assert result.returncode == 1
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0"
    (sarif_run,) = log["runs"]
    rules = [rule["id"] for rule in sarif_run["tool"]["driver"]["rules"]]
    places = [
        (
            r["ruleId"] in rules,
            r["level"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in sarif_run["results"]
    ]
    assert places == [(True, "error", "intents/bad.yaml", 1), (True, "error", "intents/bad.yaml", 3)]


def test_sarif_of_valid_files_has_no_results_and_exits_0(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    result = run(tmp_path, "--format", "sarif", "good.yaml")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["runs"][0]["results"] == []
