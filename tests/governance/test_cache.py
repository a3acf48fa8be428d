"""Recorded alignment scores (real SQLite): one score per intent and blueprint, the first one wins."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.governance import (
    AlignmentMethod,
    AlignmentUnavailable,
    ClaudeScorer,
    PolicyAction,
    PolicySet,
    govern,
)
from pipeline.governance.alignment import Alignment
from pipeline.governance.cache import AlignmentCache, CachingScorer, alignment_key
from pipeline.llm.base import LLMError
from pipeline.state import Database
from tests.fixtures.fake_llm import ScriptedLLM, tool_answer
from tests.governance.conftest import make_intent

NAMESPACE = "claude:claude-test"


def test_the_same_intent_is_scored_once_and_decided_the_same_way(
    scripted_llm: ScriptedLLM, database: Database, seed_policies: PolicySet
) -> None:
    # A model that would answer differently the second time is never asked twice.
    scripted_llm.script(
        tool_answer({"score": 0.95, "rationale": "first"}), tool_answer({"score": 0.1, "rationale": "x"})
    )
    scorer = CachingScorer(ClaudeScorer(scripted_llm), AlignmentCache(database), namespace=NAMESPACE)
    intent = make_intent(service_name="queue-tuner", purpose="optimize the intent queue", tier=0)
    decisions = [govern(intent, seed_policies, scorer=scorer, blueprint="# Blueprint") for _ in range(3)]
    assert len(scripted_llm.requests) == 1
    assert {d.action for d in decisions} == {PolicyAction.AUTO_APPROVE}
    assert decisions[0] == decisions[2]


def test_records_survive_a_new_process(scripted_llm: ScriptedLLM, database: Database) -> None:
    scripted_llm.script(tool_answer({"score": 0.8, "rationale": "kept"}, model="claude-x"))
    CachingScorer(ClaudeScorer(scripted_llm), AlignmentCache(database), namespace=NAMESPACE).score(
        make_intent(), "B"
    )
    reopened = Database(database.url)
    try:
        again = CachingScorer(ClaudeScorer(ScriptedLLM()), AlignmentCache(reopened), namespace=NAMESPACE)
        assert again.score(make_intent(), "B") == Alignment(
            0.8, AlignmentMethod.CLAUDE, "kept", model="claude-x"
        )
    finally:
        reopened.dispose()


def test_a_changed_intent_blueprint_or_scorer_is_scored_again(
    scripted_llm: ScriptedLLM, database: Database
) -> None:
    scripted_llm.script(*(tool_answer({"score": 0.5 + i / 10, "rationale": str(i)}) for i in range(4)))
    cache = AlignmentCache(database)
    scorer = CachingScorer(ClaudeScorer(scripted_llm), cache, namespace=NAMESPACE)
    other_model = CachingScorer(ClaudeScorer(scripted_llm), cache, namespace="claude:other")
    scores = [
        scorer.score(make_intent(), "B").score,
        scorer.score(make_intent(purpose="Share notes with everyone"), "B").score,
        scorer.score(make_intent(), "B2").score,
        other_model.score(make_intent(), "B").score,
        scorer.score(make_intent(), "B").score,
    ]
    assert scores == [0.5, 0.6, 0.7, 0.8, 0.5]


def test_a_failed_scoring_is_not_recorded(scripted_llm: ScriptedLLM, database: Database) -> None:
    scripted_llm.script(LLMError("overloaded"), tool_answer({"score": 0.9, "rationale": "ok"}))
    scorer = CachingScorer(ClaudeScorer(scripted_llm), AlignmentCache(database), namespace=NAMESPACE)
    with pytest.raises(AlignmentUnavailable):
        scorer.score(make_intent(), "B")
    assert scorer.score(make_intent(), "B").score == 0.9


def test_the_first_recorded_score_wins(database: Database) -> None:
    cache = AlignmentCache(database)
    key = alignment_key(make_intent(), "B", namespace=NAMESPACE)
    first = cache.put_if_absent(key, Alignment(0.9, AlignmentMethod.CLAUDE, "first"))
    second = cache.put_if_absent(key, Alignment(0.2, AlignmentMethod.CLAUDE, "second"))
    assert first == second == Alignment(0.9, AlignmentMethod.CLAUDE, "first")


def test_racing_workers_agree_on_one_score(database: Database) -> None:
    key = alignment_key(make_intent(), "B", namespace=NAMESPACE)
    caches = [AlignmentCache(database) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda i: caches[i].put_if_absent(key, Alignment(i / 10, AlignmentMethod.CLAUDE, str(i))),
                range(8),
            )
        )
    assert len(set(results)) == 1
