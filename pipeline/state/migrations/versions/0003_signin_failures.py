"""Refused dashboard sign-ins in the state database (they used to be counted in one process's memory).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("attempted_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signin_failures_key_hash", "signin_failures", ["key_hash"])
    op.create_index("ix_signin_failures_attempted_at", "signin_failures", ["attempted_at"])


def downgrade() -> None:
    op.drop_index("ix_signin_failures_attempted_at", table_name="signin_failures")
    op.drop_index("ix_signin_failures_key_hash", table_name="signin_failures")
    op.drop_table("signin_failures")
