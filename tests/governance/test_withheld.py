"""A heuristic alignment score can never be the reason for auto-approval: an auto_approve policy whose rule
reads `alignment_score` matches but is withheld under the lexical scorer; rules that do not read the score
still decide."""

from __future__ import annotations

import pytest

from pipeline.governance import (
    LEXICAL_ONLY_INFORMS,
    AlignmentMethod,
    GivenScore,
    LexicalScorer,
    PolicyAction,
    PolicySet,
    govern,
    load_policy_sources,
)
from pipeline.governance.decision import RuleResult
from tests.governance.conftest import make_intent

POLICIES = b"""\
- name: Aligned tools go ahead
  rule: alignment_score >= 0.8 && tier >= 2
  action: auto_approve
  reason: Aligned.
- name: Experiments go ahead
  rule: tier == 3
  action: auto_approve
  reason: Cheap to undo.
"""
TODO = make_intent(service_name="team-todo", purpose="A to-do list for the team", tier=2)


@pytest.fixture(scope="module")
def policies() -> PolicySet:
    return load_policy_sources({"p.yaml": POLICIES})


def test_only_a_model_or_the_callers_own_what_if_may_grant() -> None:
    grants = {method: method.can_grant_auto_approval for method in AlignmentMethod}
    assert grants == {
        AlignmentMethod.LEXICAL: False,
        AlignmentMethod.CLAUDE: True,
        AlignmentMethod.GIVEN: True,
        AlignmentMethod.SERVICE: False,
    }


def test_a_lexical_score_matches_but_is_withheld(policies: PolicySet, blueprint: str) -> None:
    decision = govern(TODO, policies, scorer=LexicalScorer(), blueprint=blueprint)
    assert decision.alignment.score is not None and decision.alignment.score >= 0.8
    assert decision.action is PolicyAction.REQUIRES_APPROVAL
    assert (
        decision.summary
        == LEXICAL_ONLY_INFORMS
        == ("auto-approval needs a model's alignment; lexical scores only inform")
    )
    (matched,) = decision.matched
    assert (matched.name, matched.withheld) == ("Aligned tools go ahead", LEXICAL_ONLY_INFORMS)
    first = decision.evaluated[0]
    assert (first.result, first.withheld) == (RuleResult.MATCHED, LEXICAL_ONLY_INFORMS)
    assert decision.approvals_required == 1
    assert decision.to_json()["matched"][0]["withheld"] == LEXICAL_ONLY_INFORMS


@pytest.mark.parametrize("method", [AlignmentMethod.CLAUDE, AlignmentMethod.GIVEN])
def test_a_models_score_or_a_given_one_grants(policies: PolicySet, method: AlignmentMethod) -> None:
    decision = govern(TODO, policies, scorer=GivenScore(0.9, method=method), blueprint=None)
    assert decision.action is PolicyAction.AUTO_APPROVE
    assert decision.matched[0].withheld == ""


def test_a_rule_that_does_not_read_the_score_still_auto_approves_with_a_lexical_one(
    policies: PolicySet, blueprint: str
) -> None:
    # `tier == 3`: no word of the intent's text can change this rule's outcome, so the lexical scorer is
    # not its reason; the score-reading policy beside it is withheld and says so.
    intent = make_intent(service_name="team-todo", purpose="A to-do list for the team", tier=3)
    decision = govern(intent, policies, scorer=LexicalScorer(), blueprint=blueprint)
    assert decision.action is PolicyAction.AUTO_APPROVE
    assert decision.summary == "policy 'Experiments go ahead': Cheap to undo."
    assert {m.name: m.withheld for m in decision.matched} == {
        "Aligned tools go ahead": LEXICAL_ONLY_INFORMS,
        "Experiments go ahead": "",
    }


def test_a_rule_reading_the_score_anywhere_is_withheld(blueprint: str) -> None:
    # Reading the score in any part of the rule counts, even where it cannot change the outcome.
    rule = b"- {name: x, rule: 'tier == 2 || alignment_score > 2.0', action: auto_approve, reason: r}\n"
    policies = load_policy_sources({"p.yaml": rule})
    decision = govern(TODO, policies, scorer=LexicalScorer(), blueprint=blueprint)
    assert decision.action is PolicyAction.REQUIRES_APPROVAL
    assert decision.matched[0].withheld == LEXICAL_ONLY_INFORMS


def test_the_shipped_policies_never_auto_approve_on_a_lexical_score(
    shipped_policies: PolicySet, shipped_floor: PolicySet, blueprint: str
) -> None:
    decision = govern(
        TODO, shipped_policies, scorer=LexicalScorer(), blueprint=blueprint, floor=shipped_floor
    )
    assert decision.action is PolicyAction.REQUIRES_APPROVAL
    assert [(m.name, m.withheld) for m in decision.matched] == [
        ("Auto-approve aligned internal tools", LEXICAL_ONLY_INFORMS)
    ]


def test_blocked_by_a_lexical_score_stays_blocked(seed_policies: PolicySet, blueprint: str) -> None:
    intent = make_intent(service_name="pet-horoscope", purpose="Weekly horoscopes for pets")
    decision = govern(intent, seed_policies, scorer=LexicalScorer(), blueprint=blueprint)
    assert decision.action is PolicyAction.BLOCKED


def test_a_stage_services_score_does_not_grant_either_and_the_decision_says_whose_it_was(
    policies: PolicySet, blueprint: str
) -> None:
    """A scorer the line routes to a service has not been shown to resist padding: it informs."""
    service = GivenScore(0.99, "scored by the alignment-scorer service", method=AlignmentMethod.SERVICE)
    decision = govern(TODO, policies, scorer=service, blueprint=blueprint)
    assert decision.action is PolicyAction.REQUIRES_APPROVAL
    assert decision.summary == "auto-approval needs a model's alignment; service scores only inform"
