"""Alignment scores recorded in the state database, so the same intent and blueprint are scored once.

A model's score can differ from call to call. Recording the first score for an (intent text, blueprint,
scorer) triple makes a redelivered webhook, a retried job or a second worker reach the same decision, and
saves the cost of asking again. The first score written wins; a failed scoring is never recorded.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy import DateTime, Float, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from pipeline.governance.alignment import (
    PROMPT_VERSION,
    Alignment,
    AlignmentMethod,
    AlignmentScorer,
    intent_data,
)
from pipeline.intents import Intent
from pipeline.state import Base, Database


class AlignmentRow(Base):
    __tablename__ = "alignment_scores"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(16))
    rationale: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def alignment_key(intent: Intent, blueprint: str, *, namespace: str) -> str:
    """What a score depends on: the scorer (`namespace`, e.g. 'claude:claude-sonnet-4-5'), the prompt's
    version, everything of the intent the model is shown, and the blueprint."""
    material = {
        "namespace": namespace,
        "prompt": PROMPT_VERSION,
        "intent": intent_data(intent),
        "blueprint": blueprint,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode("utf-8")).hexdigest()


class AlignmentCache:
    def __init__(self, database: Database) -> None:
        self._database = database

    def get(self, key: str) -> Alignment | None:
        with self._database.session() as session:
            row = session.get(AlignmentRow, key)
            if row is None:
                return None
            return Alignment(row.score, AlignmentMethod(row.method), row.rationale, model=row.model)

    def put_if_absent(self, key: str, alignment: Alignment) -> Alignment:
        """Record `alignment` unless a score is already recorded; return the recorded one either way."""
        row = AlignmentRow(
            key=key,
            score=alignment.score,
            method=alignment.method.value,
            rationale=alignment.rationale,
            model=alignment.model,
            created_at=datetime.now(UTC),
        )
        try:
            with self._database.session() as session:
                if session.execute(select(AlignmentRow.key).where(AlignmentRow.key == key)).first() is None:
                    session.add(row)
        except IntegrityError:
            pass  # another worker recorded it first; its score is the one that counts
        recorded = self.get(key)
        return recorded if recorded is not None else alignment


class CachingScorer:
    """Wraps a scorer: each distinct (intent, blueprint) is scored once, later calls reuse the record."""

    def __init__(self, inner: AlignmentScorer, cache: AlignmentCache, *, namespace: str) -> None:
        self._inner = inner
        self._cache = cache
        self._namespace = namespace

    def score(self, intent: Intent, blueprint: str) -> Alignment:
        key = alignment_key(intent, blueprint, namespace=self._namespace)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        return self._cache.put_if_absent(key, self._inner.score(intent, blueprint))
