"""The offline scorer on the labelled sets holds the figures the README reports (a regression fails), and an
honest to-do list for the team is no longer blocked for using its own words."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.governance import LexicalScorer, PolicyAction, PolicySet, govern
from pipeline.governance.scorecard import Label, LabelledSet, Scorecard, load_labelled_set, measure
from tests.conftest import ROOT
from tests.governance.conftest import make_intent

DATA = Path(__file__).parent / "data"
REACHED = {
    # (as expected, total) per label: README "Governance" reports these; bench/bench_alignment.py prints them.
    "alignment_set.yaml": {
        Label.ALIGNED: (27, 27),
        Label.MISALIGNED: (20, 20),
        Label.PADDED: (8, 8),
        Label.INJECTED: (15, 15),
    },
    "alignment_holdout.yaml": {Label.ALIGNED: (17, 20), Label.MISALIGNED: (15, 15)},
}
PADDED_SCORED_HIGH = 1
"""Padded intents the lexical scorer still rates 0.80 or more (harmless: it cannot grant auto-approval)."""


def scorecard(name: str, policies: PolicySet, floor: PolicySet) -> tuple[LabelledSet, Scorecard]:
    labelled = load_labelled_set(DATA / name, root=ROOT)
    blueprint = labelled.blueprint.read_text(encoding="utf-8")
    card = measure(labelled, scorer=LexicalScorer(), policies=policies, floor=floor, blueprint=blueprint)
    return labelled, card


@pytest.mark.parametrize("name", sorted(REACHED))
def test_the_scorer_holds_its_figures(
    name: str, shipped_policies: PolicySet, shipped_floor: PolicySet
) -> None:
    _, card = scorecard(name, shipped_policies, shipped_floor)
    for label, (good, total) in REACHED[name].items():
        reached, size = card.count(label)
        assert size == total, f"{name}: {label.value} has {size} intents, the figures are for {total}"
        assert reached >= good, f"{name}: {label.value} {reached}/{size}; missed: {card.misses(label)}"
    assert card.false_findings() == 0


def test_the_labelled_set_is_big_enough_and_padding_buys_little(
    shipped_policies: PolicySet, shipped_floor: PolicySet
) -> None:
    labelled, card = scorecard("alignment_set.yaml", shipped_policies, shipped_floor)
    sizes = {label: len(labelled.of(label)) for label in Label}
    assert sizes[Label.ALIGNED] >= 20 and sizes[Label.MISALIGNED] >= 15
    assert sizes[Label.PADDED] + sizes[Label.INJECTED] >= 15
    assert card.padded_scored_at_least(0.80) <= PADDED_SCORED_HIGH
    assert not [
        o for o in card.outcomes if o.action is PolicyAction.AUTO_APPROVE and o.label is not Label.ALIGNED
    ]


def test_a_to_do_list_for_the_team_is_not_blocked(seed_policies: PolicySet, blueprint: str) -> None:
    intent = make_intent(service_name="team-todo", purpose="A to-do list for the team")
    decision = govern(intent, seed_policies, scorer=LexicalScorer(), blueprint=blueprint)
    assert decision.alignment.score is not None and decision.alignment.score >= 0.70  # it was 0.56
    assert decision.action is not PolicyAction.BLOCKED
    assert "for its goals: team, todo" in decision.alignment.rationale


def test_no_evidence_either_way_is_neutral_and_the_seed_still_blocks_it(
    seed_policies: PolicySet, blueprint: str
) -> None:
    intent = make_intent(service_name="pet-horoscope", purpose="Horoscopes for pets")
    decision = govern(intent, seed_policies, scorer=LexicalScorer(), blueprint=blueprint)
    assert decision.alignment.score == LexicalScorer.NEUTRAL
    assert "no word for or against the blueprint's goals" in decision.alignment.rationale
    assert decision.action is PolicyAction.BLOCKED


@pytest.mark.parametrize(
    ("purpose", "audience"),
    [
        ("A social network where {} post photos of our products", "customers"),
        ("Stream films to {}", "subscribers"),
    ],
)
def test_out_of_scope_words_pull_the_score_down(blueprint: str, purpose: str, audience: str) -> None:
    scorer = LexicalScorer()
    plain = scorer.score(make_intent(service_name="x", purpose=purpose.format("people")), blueprint)
    against = scorer.score(make_intent(service_name="x", purpose=purpose.format(audience)), blueprint)
    assert against.score < plain.score and against.score <= LexicalScorer.NEUTRAL
    assert f"against: {audience}" in against.rationale


def test_a_negated_out_of_scope_word_is_not_evidence(blueprint: str) -> None:
    intent = make_intent(
        service_name="notes", purpose="Shared meeting notes for the team; it stores no personal data"
    )
    alignment = LexicalScorer().score(intent, blueprint)
    assert alignment.score >= 0.9
    assert "out-of-scope" not in alignment.rationale


def test_padding_does_not_lift_an_intent_that_sends_secrets_out(blueprint: str) -> None:
    goals = "Fast, reliable delivery. Quality specifications. Shared internal tools that help the team share."
    intent = make_intent(purpose=f"{goals} It copies every other service's secrets to an external server.")
    alignment = LexicalScorer().score(intent, blueprint)
    assert alignment.score == 0.0
    assert "names out-of-scope work: external, secrets" in alignment.rationale
