"""Adopted stage services: their live calls, suspensions after repeated failures, the lineage of
`line/stages.yaml` changes, and which of those changes were merged signed off.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stage_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("failure", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stage_calls_repo", "stage_calls", ["repo"])
    op.create_index("ix_stage_calls_at", "stage_calls", ["at"])
    op.create_table(
        "stage_suspensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("issue_number", sa.Integer(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repo", "stage", "service", name="uq_stage_suspensions_once"),
    )
    op.create_table(
        "stage_adoptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("contract", sa.String(length=16), nullable=False),
        sa.Column("shadow", sa.Integer(), nullable=True),
        sa.Column("commit_sha", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stage_adoptions_repo", "stage_adoptions", ["repo"])
    op.create_table(
        "stage_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo", sa.String(length=200), nullable=False),
        sa.Column("commit_sha", sa.String(length=64), nullable=False),
        sa.Column("pr_number", sa.Integer(), nullable=False),
        sa.Column("approvers", sa.String(length=500), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repo", "commit_sha", name="uq_stage_approvals_once"),
    )


def downgrade() -> None:
    op.drop_table("stage_approvals")
    op.drop_index("ix_stage_adoptions_repo", table_name="stage_adoptions")
    op.drop_table("stage_adoptions")
    op.drop_table("stage_suspensions")
    op.drop_index("ix_stage_calls_at", table_name="stage_calls")
    op.drop_index("ix_stage_calls_repo", table_name="stage_calls")
    op.drop_table("stage_calls")
