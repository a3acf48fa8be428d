"""Shadow evaluation reports: a candidate stage implementation judged beside the incumbent on recent intents.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("candidate", sa.String(length=500), nullable=False),
        sa.Column("candidate_version", sa.String(length=100), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_shadow_reports_stage_at", "shadow_reports", ["stage", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_shadow_reports_stage_at", table_name="shadow_reports")
    op.drop_table("shadow_reports")
