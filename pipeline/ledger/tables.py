"""Tables of the intent ledger: one row per intent file, its stage history, decisions and sign-offs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pipeline.state import Base


class IntentRow(Base):
    __tablename__ = "intents"
    __table_args__ = (UniqueConstraint("repo", "path", name="uq_intents_repo_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(500))
    service_name: Mapped[str] = mapped_column(String(63), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    state: Mapped[str] = mapped_column(String(32), index=True)
    waiting_for: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(100), default="")
    source: Mapped[str] = mapped_column(String(32), default="push")
    commit_sha: Mapped[str] = mapped_column(String(64), default="")
    pr_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pr_url: Mapped[str] = mapped_column(String(500), default="")
    issue_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    head_sha: Mapped[str] = mapped_column(String(64), default="")
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    service_url: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class IntentEventRow(Base):
    __tablename__ = "intent_events"
    __table_args__ = (
        Index("ix_intent_events_intent_at", "intent_id", "at"),
        # A stage event written with a key is written once: a retried job does not record its stage twice.
        Index("uq_intent_events_once", "intent_id", "stage", "outcome", "once_key", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intent_id: Mapped[int] = mapped_column(ForeignKey("intents.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    once_key: Mapped[str | None] = mapped_column(String(300), nullable=True)


class DecisionRow(Base):
    """The audit log of governance decisions: every decision ever taken, never updated."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intent_id: Mapped[int] = mapped_column(ForeignKey("intents.id", ondelete="CASCADE"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SignoffRow(Base):
    __tablename__ = "signoffs"
    __table_args__ = (
        UniqueConstraint("intent_id", "pr_number", "reviewer", "head_sha", name="uq_signoffs_once"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intent_id: Mapped[int] = mapped_column(ForeignKey("intents.id", ondelete="CASCADE"), index=True)
    pr_number: Mapped[int] = mapped_column(Integer)
    reviewer: Mapped[str] = mapped_column(String(100))
    head_sha: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TestedHeadRow(Base):
    """A head of an intent's pull request whose service the line tested: built by the line, or a commit
    someone else pushed that the line tested again. Only a head tested green is signed off and deployed."""

    __tablename__ = "tested_heads"
    __table_args__ = (UniqueConstraint("intent_id", "head_sha", name="uq_tested_heads_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intent_id: Mapped[int] = mapped_column(ForeignKey("intents.id", ondelete="CASCADE"), index=True)
    head_sha: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    by: Mapped[str] = mapped_column(String(16))
    """`build`: the line's own commit; `retest`: a commit pushed by someone else, tested again."""
    pushed_by: Mapped[str] = mapped_column(String(100), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GovernedPullRow(Base):
    """A pull request that changes what governs the line (policies, BLUEPRINT.md): its decision under the
    policies in force and the plan of what it would change, per head."""

    __tablename__ = "governed_pulls"
    __table_args__ = (UniqueConstraint("repo", "number", name="uq_governed_pulls_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    head_sha: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(100), default="")
    files: Mapped[list[str]] = mapped_column(JSON)
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ShadowReportRow(Base):
    """A shadow evaluation: a candidate implementation of a stage run beside the incumbent on recent intents,
    with its verdict and its typed report (`pipeline.shadow.ShadowReport`, read back by `ShadowStore`)."""

    __tablename__ = "shadow_reports"
    __table_args__ = (Index("ix_shadow_reports_stage_at", "stage", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo: Mapped[str] = mapped_column(String(200), default="")
    """The intents repository whose history was replayed; empty for the bundled example history."""
    stage: Mapped[str] = mapped_column(String(32))
    candidate: Mapped[str] = mapped_column(String(500))
    """The candidate as it was named: a stage service's name in the registry, or its URL."""
    candidate_version: Mapped[str] = mapped_column(String(100), default="")
    verdict: Mapped[str] = mapped_column(String(16))
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
