"""The assembly-line monitor's filings: one open pull request per rule, a few a day.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_filings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo", sa.String(length=200), nullable=False),
        sa.Column("rule", sa.String(length=48), nullable=False),
        sa.Column("open_rule", sa.String(length=48), nullable=True),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("pr_number", sa.Integer(), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repo", "open_rule", name="uq_monitor_filings_open"),
        sa.UniqueConstraint("repo", "day", "slot", name="uq_monitor_filings_slot"),
    )


def downgrade() -> None:
    op.drop_table("monitor_filings")
