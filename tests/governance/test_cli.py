"""`intentops govern` and `intentops policy test`.

The seed's acceptance cases, the Claude path and error output run the installed console script, as a user
does; the rest run in-process (the same Typer app) to keep the suite fast.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bot.cli import governance_cmd
from bot.cli.main import build_app
from tests.conftest import EXAMPLES, ROOT
from tests.fixtures.anthropic_api import FakeMessagesAPI
from tests.governance.conftest import POLICIES, SEED_POLICIES, write

INTENTOPS = Path(sys.executable).parent / "intentops"
SPEC_BUILDER = EXAMPLES / "intents" / "spec-builder-v2.yaml"


def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"},
        "COLUMNS": "200",
        **(env or {}),
    }
    return subprocess.run(
        [str(INTENTOPS), *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=env
    )


def govern_json(*args: str) -> dict[str, object]:
    result = run("govern", *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    decision: dict[str, object] = json.loads(result.stdout)
    return decision


def invoke(*args: str) -> tuple[int, str, str]:
    """Run the app in-process with no model configured."""
    result = CliRunner().invoke(build_app(), list(args), env={"ANTHROPIC_API_KEY": None, "COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def govern_json_in_process(*args: str) -> dict[str, object]:
    code, stdout, stderr = invoke("govern", *args, "--format", "json")
    assert code == 0, stderr
    decision: dict[str, object] = json.loads(stdout)
    return decision


@pytest.fixture
def optimizer_intent(tmp_path: Path) -> Path:
    return write(
        tmp_path / "intents" / "queue-tuner.yaml",
        "service_name: queue-tuner\npurpose: optimize how the intent queue polls\ntier: 0\n",
    )


def test_seed_policies_require_approval_for_spec_builder_v2() -> None:
    decision = govern_json(str(SPEC_BUILDER), "--policies", str(SEED_POLICIES))
    assert decision["action"] == "requires_approval"
    # The shipped floor applies beside the repository's policies, first, and says it is the floor.
    matched = [(m["name"], m["floor"], m["source"].split(":")[0]) for m in decision["matched"]]  # type: ignore[attr-defined, index]
    assert matched == [
        ("Self-modification needs two approvals", True, "floor"),
        ("Always require approval for self-modification", False, str(SEED_POLICIES)),
    ]
    assert decision["approvals_required"] == 2
    assert decision["errors"] == []
    assert decision["alignment"]["method"] == "lexical"  # type: ignore[index]


def test_seed_policies_auto_approve_an_aligned_tier_0_optimization(optimizer_intent: Path) -> None:
    decision = govern_json(
        str(optimizer_intent), "--policies", str(SEED_POLICIES), "--alignment-score", "0.95"
    )
    assert decision["action"] == "auto_approve"


def test_seed_policies_block_alignment_below_0_70(optimizer_intent: Path) -> None:
    decision = govern_json(
        str(optimizer_intent), "--policies", str(SEED_POLICIES), "--alignment-score", "0.69"
    )
    assert decision["action"] == "blocked"


def test_text_output_shows_every_rule_the_alignment_and_the_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    # A wide console of our own: the shared one keeps whatever width the first test to import it saw.
    monkeypatch.setattr(governance_cmd, "out", Console(width=200, highlight=False, soft_wrap=True))
    code, stdout, stderr = invoke("govern", str(SPEC_BUILDER), "--policies", str(POLICIES))
    assert code == 0, stderr
    assert "Self-modification needs two approvals" in stdout
    assert "Always require approval for self-modification" in stdout
    # Every policy is listed, the ones that did not match too, with the rule that was false.
    assert re.search(r"Block anything misaligned\s+│ not matched .*false: alignment_score < 0\.70", stdout)
    assert "(lexical)" in stdout
    assert "decision: requires_approval (2 approval(s))" in stdout
    assert "alignment is scored lexically (offline)" in stderr


def test_with_a_key_claude_scores_through_the_sdk(anthropic_api: FakeMessagesAPI, tmp_path: Path) -> None:
    anthropic_api.enqueue(
        anthropic_api.tool_use({"score": 0.93, "rationale": "Serves goal 2."}, name="record_alignment")
    )
    env = {
        "ANTHROPIC_API_KEY": "sk-ant-test-key",
        "ANTHROPIC_BASE_URL": anthropic_api.base_url,
        "INTENTOPS_MODEL": "claude-haiku-4-5",
        "INTENTOPS_DATA_DIR": str(tmp_path),
    }
    result = run("govern", str(SPEC_BUILDER), "--policies", str(SEED_POLICIES), "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["alignment"] == {
        "score": 0.93,
        "method": "claude",
        "rationale": "Serves goal 2.",
        "model": decision["alignment"]["model"],
    }
    assert decision["action"] == "requires_approval"
    (request,) = anthropic_api.requests
    assert [tool["name"] for tool in request.body["tools"]] == ["record_alignment"]
    assert "Safe self-improvement" in json.dumps(request.body["system"])  # the blueprint, in the prefix
    assert "sk-ant-test-key" not in result.stdout + result.stderr
    # The score is recorded: the same intent again gives the same decision without asking the model.
    again = run("govern", str(SPEC_BUILDER), "--policies", str(SEED_POLICIES), "--format", "json", env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == decision
    assert len(anthropic_api.requests) == 1


def test_the_blueprint_is_found_above_the_intent(tmp_path: Path) -> None:
    write(tmp_path / "BLUEPRINT.md", "# Blueprint\n## Goals\nShare bookmarks within the team.\n")
    intent = write(
        tmp_path / "intents" / "bookmarks.yaml", "service_name: bookmarks\npurpose: Share bookmarks\n"
    )
    decision = govern_json_in_process(str(intent), "--policies", str(POLICIES))
    assert decision["alignment"]["score"] >= 0.8  # type: ignore[index]
    assert decision["alignment"]["rationale"].endswith("for its goals: bookmarks, share")  # type: ignore[index]


def test_author_and_changed_files_are_passed_to_the_rules(tmp_path: Path) -> None:
    intent = write(
        tmp_path / "notes.yaml", "service_name: notes\npurpose: Share notes within the team\ntier: 3\n"
    )
    common = (str(intent), "--policies", str(POLICIES), "--alignment-score", "0.9", "--author", "alice")
    assert govern_json(*common)["action"] == "auto_approve"
    changed = govern_json(
        *common, "--changed-file", "intents/notes.yaml", "--changed-file", "policies/x.yaml"
    )
    assert changed["action"] == "requires_approval"


def test_an_invalid_intent_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    intent = write(tmp_path / "notes.yaml", "service_name: Notes\npurpose: Share notes\n")
    code, _, stderr = invoke("govern", str(intent), "--policies", str(SEED_POLICIES))
    assert code == 1
    assert stderr.strip().splitlines() == [f"error: {intent}:1:15: service_name: must be lowercase"]


def test_a_bad_policy_is_one_clear_line_no_traceback_and_exit_1(tmp_path: Path) -> None:
    intent = write(tmp_path / "notes.yaml", "service_name: notes\npurpose: Share notes\n")
    policies = write(tmp_path / "p.yaml", "- name: x\n  rule: tier ==\n  action: blocked\n  reason: r\n")
    result = run("govern", str(intent), "--policies", str(policies), "--alignment-score", "0.9")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {policies}:2:9: policy 'x': rule: CEL syntax error at column 6 of the rule, near '=='"
    ]


@pytest.mark.parametrize("score", ["1.5", "-0.1", "nan", "inf", "abc"])
def test_a_score_that_is_not_a_number_from_0_to_1_is_refused(score: str) -> None:
    code, _, stderr = invoke("govern", str(SPEC_BUILDER), "--alignment-score", score)
    assert code == 2
    assert "Invalid value for '--alignment-score'" in stderr
    assert f"must be a number between 0 and 1, got '{score}'" in stderr


def test_policy_test_passes_on_the_shipped_policies() -> None:
    code, stdout, stderr = invoke("policy", "test", str(POLICIES), "--verbose")
    assert code == 0, stdout + stderr
    lines = stdout.strip().splitlines()
    assert lines[-1].startswith("PASS: ") and lines[-1].endswith("cases passed")
    assert any(line.startswith("PASS ") and "seed.yaml" in line for line in lines[:-1])


def test_policy_test_reports_a_failing_case_and_exits_1(tmp_path: Path) -> None:
    write(tmp_path / "p.yaml", SEED_POLICIES.read_text(encoding="utf-8"))
    write(
        tmp_path / "tests" / "wrong.yaml",
        "cases:\n"
        "  - name: wrong on purpose\n"
        "    intent: {service_name: spec-builder-v2, purpose: Better SPECs}\n"
        "    alignment_score: 0.95\n"
        "    expect: auto_approve\n",
    )
    code, stdout, _ = invoke("policy", "test", str(tmp_path), "--format", "json")
    assert code == 1
    report = json.loads(stdout)
    assert report["passed"] is False
    (case,) = report["cases"]
    assert case["source"].endswith("wrong.yaml:2:5")
    assert case["failures"] == ["expected auto_approve, got requires_approval"]


def test_a_missing_policy_path_says_how_to_give_one(tmp_path: Path) -> None:
    code, _, stderr = invoke("govern", str(SPEC_BUILDER), "--policies", str(tmp_path / "nope"))
    assert code == 1
    assert "nope: no such file or directory; pass --policies" in stderr


def test_an_unreadable_blueprint_is_one_clear_line(tmp_path: Path) -> None:
    blueprint = tmp_path / "BLUEPRINT.md"
    blueprint.write_bytes(b"\xff\xfe not text")
    code, _, stderr = invoke(
        "govern", str(SPEC_BUILDER), "--policies", str(POLICIES), "--blueprint", str(blueprint)
    )
    assert code == 1
    assert stderr.strip().splitlines() == [f"error: {blueprint}: the blueprint is not valid UTF-8"]


def test_team_approvers_come_with_a_warning_that_they_need_github(tmp_path: Path) -> None:
    intent = write(tmp_path / "notes.yaml", "service_name: notes\npurpose: Share notes within the team\n")
    policies = write(
        tmp_path / "p.yaml",
        "- {name: Platform, rule: 'true', action: requires_approval, approvers: ['@acme/platform'], "
        "reason: theirs}\n",
    )
    code, stdout, stderr = invoke(
        "govern", str(intent), "--policies", str(policies), "--alignment-score", "0.9"
    )
    assert code == 0 and "requires_approval" in stdout
    assert "warning: team approvers (@acme/platform)" in " ".join(stderr.split())
    assert "name approvers by login" in " ".join(stderr.split())
