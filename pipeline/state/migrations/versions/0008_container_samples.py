"""Containers' CPU and memory figures, sampled from the Docker engine to price compute per service.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "container_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("container_id", sa.String(length=80), nullable=False),
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cpu_ns", sa.BigInteger(), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_container_samples_container", "container_samples", ["container_id", "at"])
    op.create_index("ix_container_samples_service", "container_samples", ["service"])
    op.create_index("ix_container_samples_at", "container_samples", ["at"])


def downgrade() -> None:
    op.drop_index("ix_container_samples_at", table_name="container_samples")
    op.drop_index("ix_container_samples_service", table_name="container_samples")
    op.drop_index("ix_container_samples_container", table_name="container_samples")
    op.drop_table("container_samples")
