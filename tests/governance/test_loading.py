"""Loading policies: the seed's JSON unchanged, YAML, and every problem named by file and line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.governance import PolicyAction, PolicyLoadError, PolicyStore, load_policies, load_policy_sources
from tests.governance.conftest import POLICIES, SEED_POLICIES, write

GOOD = b"""\
- name: Tier three is experimental
  rule: tier == 3
  action: auto_approve
  reason: Experiments are cheap to undo.
"""


def seed_json_from_the_design(shared_dir: Path) -> str:
    text = (shared_dir / "SEED-FACTS.md").read_text(encoding="utf-8")
    match = re.search(r"```json\n(.*?)```", text, re.DOTALL)
    assert match, "SEED-FACTS.md has no JSON block"
    return match.group(1)


def test_the_shipped_seed_file_is_the_design_documents_json_unchanged(shared_dir: Path) -> None:
    assert SEED_POLICIES.read_text(encoding="utf-8") == seed_json_from_the_design(shared_dir)


def test_the_seed_json_loads_with_positions(shared_dir: Path) -> None:
    policies = load_policy_sources({"seed.json": seed_json_from_the_design(shared_dir).encode()})
    assert [(p.policy.name, p.policy.action, p.location.line) for p in policies.policies] == [
        ("Always require approval for self-modification", PolicyAction.REQUIRES_APPROVAL, 3),
        ("Auto-approve infrastructure improvements", PolicyAction.AUTO_APPROVE, 9),
        ("Block anything misaligned", PolicyAction.BLOCKED, 15),
    ]
    assert (
        policies.policies[1].rule.cel
        == "alignment_score >= 0.90 && purpose.contains('optimize') && tier == 0"
    )


def test_a_directory_loads_its_files_in_name_order_and_skips_tests_and_the_floor() -> None:
    policies = load_policies(POLICIES)
    assert policies.sources == (str(POLICIES / "defaults.yaml"), str(POLICIES / "seed.json"))
    assert len(policies.policies) == 5
    assert len({p.policy.name for p in policies.policies}) == 5


def test_a_list_and_a_mapping_with_policies_are_both_accepted() -> None:
    as_list = load_policy_sources({"a.yaml": GOOD})
    as_mapping = load_policy_sources(
        {"a.yaml": b"policies:\n" + b"".join(b"  " + line + b"\n" for line in GOOD.splitlines())}
    )
    assert as_list.policies[0].policy == as_mapping.policies[0].policy


def test_approvals_and_approvers_load() -> None:
    text = b"""\
policies:
  - name: Payments need the finance team
    rule: purpose.contains('invoice')
    action: requires_approval
    approvals: 2
    approvers: [alice, "@acme/finance"]
    reason: Money moves.
"""
    (loaded,) = load_policy_sources({"p.yaml": text}).policies
    assert loaded.policy.required_approvals() == 2
    assert loaded.policy.approvers == ("alice", "@acme/finance")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            b"- name: x\n  rule: tier == 0\n  action: approve\n  reason: r\n",
            "p.yaml:3:11: action: must be one of 'auto_approve', 'requires_approval' or 'blocked', "
            "got 'approve'",
        ),
        (b"- name: x\n  rule: tier == 0\n  action: blocked\n", "p.yaml:1:3: missing required field 'reason'"),
        (
            b"- name: x\n  rule: tier == 0\n  action: blocked\n  reason: r\n  aprovers: [a]\n",
            "p.yaml:5:3: unknown field 'aprovers' (allowed: name, rule, action, reason, approvals, "
            "approvers)",
        ),
        (
            b"- name: x\n  rule: tierr == 0\n  action: blocked\n  reason: r\n",
            "p.yaml:2:9: policy 'x': rule: unknown variable tierr",
        ),
        (
            b"- name: x\n  rule: tier ==\n  action: blocked\n  reason: r\n",
            "p.yaml:2:9: policy 'x': rule: CEL syntax error",
        ),
        (b"- name: x\n  name: y\n", "p.yaml:2:3: duplicate key 'name' (first given on line 1)"),
        (b"- name: x\n  rule: [a\n", "p.yaml:3:1: YAML syntax error"),
        (
            b"- !!python/object:os.system {}\n",
            "p.yaml:1:3: the tag '!!python/object:os.system' is not allowed",
        ),
        (b"", "p.yaml:1:1: the file is empty"),
        (b"just text\n", "p.yaml:1:1: a policy file holds a list of policies"),
        (
            b"policies: []\nversion: 2\n",
            "p.yaml:2:1: a policy file holds a list of policies, or a mapping with one key 'policies' "
            "holding that list (unknown key 'version')",
        ),
        (b"- just text\n", "p.yaml:1:3: a policy must be a mapping"),
        (b"\xff\xfe", "p.yaml:1:1: the file is not valid UTF-8 (byte 0xff)"),
        (
            b"- name: x\n  rule: 'true'\n  action: requires_approval\n  reason: r\n  approvals: !!int abc\n",
            "p.yaml:5:14: approvals: '!!int abc' is not an integer",
        ),
        (
            b"- name: x\n  rule: 'true'\n  action: requires_approval\n  reason: r\n  approvals: 11\n",
            "p.yaml:5:14: approvals: must be a whole number from 1 to 10, got 11",
        ),
        (b"- name: x\n  approvals: " + b"9" * 5000 + b"\n", "p.yaml:2:14: approvals: '99999"),
        (b"- name: !!bool yes\n", "p.yaml:1:9: name: '!!bool yes' is not true or false"),
        (b"%YAML 1.1\n---\n- name: x\n", "p.yaml:1:1: YAML 1.1 is not supported; remove the %YAML directive"),
        (b"- name: x\n  rule: ab\x07c\n", "p.yaml:2:11: the character U+0007 is not allowed in YAML"),
        (b"- " + b"[" * 5000 + b"]" * 5000 + b"\n", "p.yaml:1:35: the document nests deeper than 32 levels"),
        (
            b"- name: x\n  rule: 'true'\n  action: blocked\n  reason: r\n  approvals: 2\n",
            "p.yaml:1:3: approvals and approvers apply only to requires_approval policies",
        ),
    ],
)
def test_problems_name_file_line_and_column(text: bytes, problem: str) -> None:
    with pytest.raises(PolicyLoadError) as raised:
        load_policy_sources({"p.yaml": text})
    assert any(str(p).startswith(problem) for p in raised.value.problems), raised.value.problems


def test_json_errors_have_positions_too() -> None:
    with pytest.raises(PolicyLoadError) as raised:
        load_policy_sources(
            {
                "p.json": b'{"policies": [{"name": "x", "rule": "tier == 0",\n'
                b' "action": "nope", "reason": "r"}]}'
            }
        )
    assert str(raised.value).startswith("p.json:2:12: action: must be one of")


def test_an_alias_bomb_is_refused_before_expansion() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 8):
        lines.append(f"{chr(97 + level)}: &{chr(97 + level)} [{', '.join(['*' + chr(96 + level)] * 10)}]")
    with pytest.raises(PolicyLoadError, match="expands to more than"):
        load_policy_sources({"p.yaml": "\n".join(lines).encode()})


def test_duplicate_policy_names_across_files_are_refused() -> None:
    with pytest.raises(PolicyLoadError) as raised:
        load_policy_sources({"a.yaml": GOOD, "b.yaml": GOOD})
    assert str(raised.value) == (
        "b.yaml:1:3: policy name 'Tier three is experimental' is already used at a.yaml:1:3; "
        "names must be unique"
    )


def test_every_bad_file_is_reported_not_only_the_first() -> None:
    with pytest.raises(PolicyLoadError) as raised:
        load_policy_sources({"a.yaml": b"- 1\n", "b.yaml": b"- 2\n", "c.yaml": GOOD})
    assert [p.file for p in raised.value.problems] == ["a.yaml", "b.yaml"]


def test_paths_that_hold_no_policies_are_reported(tmp_path: Path) -> None:
    with pytest.raises(PolicyLoadError, match="no such file or directory"):
        load_policies(tmp_path / "missing")
    with pytest.raises(PolicyLoadError, match=r"no policy files \(\*.yaml, \*.yml, \*.json\)"):
        load_policies(tmp_path)


def test_the_digest_changes_with_the_policies_and_only_with_them(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", GOOD.decode())
    first = load_policies(tmp_path)
    assert load_policies(tmp_path).digest == first.digest
    write(tmp_path / "a.yaml", GOOD.decode().replace("tier == 3", "tier >= 3"))
    assert load_policies(tmp_path).digest != first.digest


def test_a_store_keeps_the_last_good_set_in_force_when_an_update_is_refused() -> None:
    store = PolicyStore()
    good = store.update({"a.yaml": GOOD})
    assert good.accepted and good.in_force is store.current
    refused = store.update({"a.yaml": GOOD, "b.yaml": b"- name: broken\n  rule: tier ==\n"})
    assert not refused.accepted
    assert refused.in_force is good.in_force
    assert store.current is good.in_force
    assert refused.problems and {p.file for p in refused.problems} == {"b.yaml"}


def test_a_store_keeps_the_last_good_set_when_a_file_would_break_the_parser() -> None:
    store = PolicyStore()
    store.update({"a.yaml": GOOD})
    deep = b"- " + b"[" * 5000 + b"]" * 5000 + b"\n"

    update = store.update({"a.yaml": GOOD, "b.yaml": deep, "c.yaml": b"- name: !!int abc\n"})

    assert [str(problem)[:9] for problem in update.problems] == ["b.yaml:1:", "c.yaml:1:"]
    assert update.in_force is not None and update.in_force.sources == ("a.yaml",)


def test_a_store_that_never_loaded_has_nothing_in_force() -> None:
    update = PolicyStore().update({"a.yaml": b"nope: 1\n"})
    assert update.in_force is None and not update.accepted


def test_seed_json_is_valid_json_that_python_reads_identically() -> None:
    via_json = json.loads(SEED_POLICIES.read_text(encoding="utf-8"))["policies"]
    loaded = load_policies(SEED_POLICIES).policies
    assert [
        p.policy.model_dump(include={"name", "rule", "action", "reason"}, mode="json") for p in loaded
    ] == via_json


def one_policy(directive: str, fields: dict[str, str]) -> str:
    policy = {"name": "n", "rule": "'true'", "action": "requires_approval", "reason": "r", **fields}
    return directive + "- " + "\n  ".join(f"{key}: {value}" for key, value in policy.items()) + "\n"


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300)
    | st.text(alphabet="-:[]{}&*!|>'\" \nabcnameruleactionreason#01", max_size=200)
    | st.builds(
        lambda directive, field, value: one_policy(directive, {field: value}),
        st.sampled_from(["", "%YAML 1.1\n---\n", "%YAML 1.2\n---\n", "%YAML 9.9\n---\n"]),
        st.sampled_from(["approvals", "name", "rule", "action"]),
        st.builds(
            str.__add__,
            st.sampled_from(["", "!!int ", "!!float ", "!!bool ", "!!null ", "!!str "]),
            st.text(alphabet="0123456789abcxo_+-.:eEinfyesNUL~", max_size=10)
            | st.integers(4300, 5000).map(lambda digits: "9" * digits),
        ),
    )
)
def test_any_file_either_loads_or_is_refused_with_problems(data: bytes | str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    try:
        load_policy_sources({"p.yaml": raw})
    except PolicyLoadError as exc:
        assert exc.problems and all(p.file == "p.yaml" and p.message for p in exc.problems)


def test_any_failure_reading_one_file_is_that_files_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.governance import loading

    def compile_rule(text: str, **options: Any) -> object:
        if "purpose" in text:
            raise RecursionError("maximum recursion depth exceeded")
        return real(text, **options)

    real = loading.compile_rule
    monkeypatch.setattr(loading, "compile_rule", compile_rule)
    store = PolicyStore()
    store.update({"a.yaml": GOOD})
    bad = GOOD.replace(b"tier == 3", b"purpose == ''")

    update = store.update({"a.yaml": GOOD, "b.yaml": bad})

    (problem,) = update.problems
    assert str(problem) == (
        "b.yaml: the file could not be read (RecursionError: maximum recursion depth exceeded); "
        "please report this"
    )
    assert update.in_force is not None and update.in_force.sources == ("a.yaml",)
