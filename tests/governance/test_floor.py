"""The server-side floor: shipped (or configured) policies evaluated with every repository's, marked as
floor, applied even when the repository's policies do not load, never weakened by them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import output
from bot.cli.main import build_app
from pipeline.governance import (
    FloorLoadError,
    GivenScore,
    PolicyAction,
    PolicySet,
    PushContext,
    govern,
    load_floor,
    load_policy_sources,
)
from pipeline.governance.decision import RuleResult
from pipeline.governance.floor import SHIPPED_FLOOR
from pipeline.signoff import requirements_of
from tests.governance.conftest import POLICIES, SEED_POLICIES, make_intent, write

SELF_MODIFICATION = "Self-modification needs two approvals"
POLICY_CHANGES = "Policy and blueprint changes need approval"
STAGE = make_intent(service_name="spec-builder-v3", purpose="Clearer SPECs", tier=0)


def test_the_shipped_floor_holds_the_rules_a_repository_cannot_drop(shipped_floor: PolicySet) -> None:
    assert [p.policy.name for p in shipped_floor.policies] == [SELF_MODIFICATION, POLICY_CHANGES]
    assert shipped_floor.policies[0].policy.approvals == 2
    assert shipped_floor.sources == ("policies/floor/floor.yaml",)
    assert SHIPPED_FLOOR.is_file()


def test_floor_policies_are_evaluated_first_and_marked(
    shipped_floor: PolicySet, seed_policies: PolicySet
) -> None:
    decision = govern(STAGE, seed_policies, scorer=GivenScore(0.95), blueprint=None, floor=shipped_floor)
    assert [(m.name, m.floor) for m in decision.matched] == [
        (SELF_MODIFICATION, True),
        ("Always require approval for self-modification", False),
    ]
    assert decision.matched[0].source.startswith("floor:policies/floor/floor.yaml:")
    assert [e.floor for e in decision.evaluated[:2]] == [True, True]
    assert decision.approvals_required == 2
    assert decision.floor_digest == shipped_floor.digest
    assert decision.policy_digest == seed_policies.digest


def test_the_floor_applies_when_no_repository_policies_loaded(shipped_floor: PolicySet) -> None:
    decision = govern(STAGE, None, scorer=GivenScore(0.95), blueprint=None, floor=shipped_floor)
    assert decision.action is PolicyAction.REQUIRES_APPROVAL
    assert [m.name for m in decision.matched] == [SELF_MODIFICATION]
    assert decision.approvals_required == 2


EVERYTHING_GOES = b"""\
- name: Everything goes
  rule: 'true'
  action: auto_approve
  reason: We trust ourselves.
- name: Self-modification needs two approvals
  rule: is_self_modification
  action: requires_approval
  approvals: 1
  reason: One is enough for us.
"""


def test_a_repository_cannot_weaken_the_floor(shipped_floor: PolicySet) -> None:
    weakening = load_policy_sources({"policies/weak.yaml": EVERYTHING_GOES})
    decision = govern(STAGE, weakening, scorer=GivenScore(1.0), blueprint=None, floor=shipped_floor)
    assert decision.action is PolicyAction.REQUIRES_APPROVAL
    assert decision.approvals_required == 2
    # Both same-named policies stand, each with its own requirement: the floor's two approvals must be met.
    requirements = sorted((r.policy, r.approvals) for r in requirements_of(decision))
    assert requirements == [(SELF_MODIFICATION, 1), (SELF_MODIFICATION, 2)]
    pushed_policies = govern(
        make_intent(),
        weakening,
        scorer=GivenScore(1.0),
        blueprint=None,
        context=PushContext.of(changed_files=["intents/notes.yaml", "policies/weak.yaml"]),
        floor=shipped_floor,
    )
    assert pushed_policies.action is PolicyAction.REQUIRES_APPROVAL
    assert [m.name for m in pushed_policies.matched if m.floor] == [POLICY_CHANGES]


def test_without_a_floor_the_same_repository_would_have_its_way() -> None:
    weakening = load_policy_sources({"policies/weak.yaml": EVERYTHING_GOES})
    decision = govern(STAGE, weakening, scorer=GivenScore(1.0), blueprint=None)
    assert decision.approvals_required == 1


def test_a_configured_floor_file_or_directory_loads(tmp_path: Path) -> None:
    rule = "- {name: Core needs a person, rule: tier == 0, action: requires_approval, reason: Core.}\n"
    write(tmp_path / "floor" / "a.yaml", rule)
    floor = load_floor(tmp_path / "floor")
    decision = govern(STAGE, None, scorer=GivenScore(1.0), blueprint=None, floor=floor)
    assert decision.matched[0].source == f"floor:{tmp_path / 'floor' / 'a.yaml'}:1:3"


def test_a_floor_that_does_not_load_is_an_error_with_file_and_line(tmp_path: Path) -> None:
    bad = write(
        tmp_path / "floor.yaml",
        "policies:\n  - name: x\n    rule: tier ==\n    action: blocked\n    reason: r\n",
    )
    with pytest.raises(FloorLoadError) as raised:
        load_floor(bad)
    lines = str(raised.value).splitlines()
    assert lines[0] == "the policy floor does not load:"
    assert lines[1].startswith(f"  {bad}:3:11: policy 'x': rule:")
    assert raised.value.problems[0].line == 3
    with pytest.raises(FloorLoadError, match="no such file or directory"):
        load_floor(tmp_path / "missing")


def invoke(*args: str) -> tuple[int, str, str]:
    # The CLI's consoles take their width once, when first imported: set it, so tables do not fold here.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(output.out, "width", 200)
        patch.setattr(output.err, "width", 200)
        result = CliRunner().invoke(build_app(), list(args), env={"ANTHROPIC_API_KEY": None})
    return result.exit_code, result.stdout, result.stderr


def test_intentops_govern_applies_the_shipped_floor_unless_told_not_to(tmp_path: Path) -> None:
    intent = write(
        tmp_path / "spec-builder-v3.yaml", "service_name: spec-builder-v3\npurpose: SPECs\ntier: 0\n"
    )
    common = (
        "govern",
        str(intent),
        "--policies",
        str(SEED_POLICIES),
        "--alignment-score",
        "0.95",
        "--format",
        "json",
    )
    code, stdout, stderr = invoke(*common)
    assert code == 0, stderr
    assert json.loads(stdout)["approvals_required"] == 2
    code, stdout, stderr = invoke(*common, "--no-floor")
    assert code == 0, stderr
    assert json.loads(stdout)["approvals_required"] == 1
    other = write(
        tmp_path / "floor.yaml", "- {name: Nothing core, rule: tier == 0, action: blocked, reason: No.}\n"
    )
    code, stdout, stderr = invoke(*common, "--floor", str(other))
    assert json.loads(stdout)["action"] == "blocked"


def test_intentops_govern_says_which_floor_file_is_broken(tmp_path: Path) -> None:
    intent = write(tmp_path / "notes.yaml", "service_name: notes\npurpose: Share notes\n")
    broken = write(tmp_path / "floor.yaml", "- {name: x, rule: 'tier ==', action: blocked, reason: r}\n")
    code, _, stderr = invoke("govern", str(intent), "--policies", str(POLICIES), "--floor", str(broken))
    assert code == 1
    assert "the policy floor does not load" in stderr and f"{broken}:1:" in stderr


def test_the_text_output_marks_floor_and_withheld_policies(tmp_path: Path) -> None:
    intent = write(
        tmp_path / "team-todo.yaml", "service_name: team-todo\npurpose: A to-do list for the team\n"
    )
    code, stdout, stderr = invoke(
        "govern",
        str(intent),
        "--policies",
        str(POLICIES),
        "--blueprint",
        str(POLICIES.parent / "examples" / "BLUEPRINT.md"),
    )
    assert code == 0, stderr
    assert "withheld" in stdout and "lexical scores only inform" in stdout
    assert "floor:policies/floor/floor.yaml" in stdout
    assert "decision: requires_approval" in stdout


def test_policy_tests_run_with_the_floor(tmp_path: Path) -> None:
    write(tmp_path / "p.yaml", "- {name: Core is fine, rule: tier == 0, action: auto_approve, reason: ok}\n")
    case = (
        "cases:\n  - name: a stage still needs two\n"
        "    intent: {service_name: spec-builder-v3, purpose: SPECs, tier: 0}\n"
        "    alignment_score: 1\n    expect: requires_approval\n    approvals: 2\n"
    )
    write(tmp_path / "tests" / "t.yaml", case)
    assert invoke("policy", "test", str(tmp_path))[0] == 0
    code, stdout, _ = invoke("policy", "test", str(tmp_path), "--no-floor")
    assert code == 1 and "expected requires_approval, got auto_approve" in stdout


def test_the_shipped_policy_tests_see_the_floor_rule_results(shipped_floor: PolicySet) -> None:
    decision = govern(make_intent(), None, scorer=GivenScore(0.9), blueprint=None, floor=shipped_floor)
    assert [e.result for e in decision.evaluated] == [RuleResult.NOT_MATCHED, RuleResult.NOT_MATCHED]
