"""Computed rule variables: self-modification and what the caller knows about the push."""

from __future__ import annotations

import pytest

from pipeline.governance import LINE_STAGES, PushContext, is_self_modification
from pipeline.governance.variables import known_variables, rule_variables
from tests.governance.conftest import make_intent


@pytest.mark.parametrize("name", [*LINE_STAGES, "spec-builder-v2", "governance-v10", "registry-v2-fast"])
def test_the_lines_own_stages_and_their_versions_are_self_modification(name: str) -> None:
    assert is_self_modification(name)


@pytest.mark.parametrize(
    "name",
    ["hello-world", "spec-analyzer", "my-registry", "registry-cache", "governance-vx", "spec-builderv2"],
)
def test_other_services_are_not(name: str) -> None:
    assert not is_self_modification(name)


def test_rules_see_every_intent_field_and_the_computed_ones() -> None:
    intent = make_intent(service_name="spec-verifier-v2", tier=0)
    context = PushContext.of(author="alice", changed_files=["intents/spec-verifier-v2.yaml"])
    variables = rule_variables(intent, context, alignment_score=1, alignment_method="given")
    assert set(variables) == known_variables()
    assert variables["alignment_score"] == 1.0 and isinstance(variables["alignment_score"], float)
    assert variables["is_self_modification"] is True
    assert variables["author"] == "alice"
    assert variables["changed_files"] == ["intents/spec-verifier-v2.yaml"]
    assert variables["priority"] == "normal"


def test_without_a_score_the_variable_is_absent() -> None:
    variables = rule_variables(make_intent(), PushContext(), alignment_score=None, alignment_method="")
    assert "alignment_score" not in variables
