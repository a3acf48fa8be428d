"""What the line tested, per pull request head; governed policy changes; stage events written once.

Revision ID: 0004
Revises: 0003

Intents whose pull request head was built and tested green before this revision get that head recorded
as tested, so a pull request open during the upgrade still merges and deploys.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("intent_events", sa.Column("once_key", sa.String(length=300), nullable=True))
    op.create_index(
        "uq_intent_events_once",
        "intent_events",
        ["intent_id", "stage", "outcome", "once_key"],
        unique=True,
    )
    tested = op.create_table(
        "tested_heads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("intent_id", sa.Integer(), nullable=False),
        sa.Column("head_sha", sa.String(length=64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("by", sa.String(length=16), nullable=False),
        sa.Column("pushed_by", sa.String(length=100), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["intent_id"], ["intents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("intent_id", "head_sha", name="uq_tested_heads_once"),
    )
    op.create_index("ix_tested_heads_intent_id", "tested_heads", ["intent_id"])
    op.create_table(
        "governed_pulls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo", sa.String(length=200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("head_sha", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repo", "number", name="uq_governed_pulls_once"),
    )
    _backfill(tested)


def _backfill(tested: sa.Table) -> None:
    intents = sa.table(
        "intents",
        sa.column("id", sa.Integer()),
        sa.column("head_sha", sa.String()),
        sa.column("report", sa.JSON()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(intents.c.id, intents.c.head_sha, intents.c.report)).all()
    now = datetime.now(UTC)
    built = [
        {
            "intent_id": row.id,
            "head_sha": row.head_sha,
            "ok": True,
            "by": "build",
            "pushed_by": "",
            "summary": "tested before this record existed",
            "at": now,
        }
        for row in rows
        if row.head_sha and isinstance(row.report, dict) and row.report.get("verdict") == "ready"
    ]
    if built:
        op.bulk_insert(tested, built)


def downgrade() -> None:
    op.drop_table("governed_pulls")
    op.drop_index("ix_tested_heads_intent_id", table_name="tested_heads")
    op.drop_table("tested_heads")
    op.drop_index("uq_intent_events_once", table_name="intent_events")
    op.drop_column("intent_events", "once_key")
