"""The state database as IntentOps 0.1 created it (before migrations, with `create_all`).

The tables are declared here, frozen, rather than taken from the models, which will move on. Creating them
with `checkfirst` makes this revision safe on a database made by 0.1 without migrations: the tables it
already has are left as they are, the missing ones are created, and it is then stamped.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BASELINE = sa.MetaData()

sa.Table(
    "alignment_scores",
    BASELINE,
    sa.Column("key", sa.String(length=64), nullable=False),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("method", sa.String(length=16), nullable=False),
    sa.Column("rationale", sa.Text(), nullable=False),
    sa.Column("model", sa.String(length=100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("key"),
)

sa.Table(
    "deploy_instances",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=63), nullable=False),
    sa.Column("version", sa.String(length=200), nullable=False),
    sa.Column("backend", sa.String(length=16), nullable=False),
    sa.Column("handle", sa.String(length=100), nullable=False),
    sa.Column("url", sa.String(length=2000), nullable=False),
    sa.Column("port", sa.Integer(), nullable=False),
    sa.Column("health_path", sa.String(length=500), nullable=False),
    sa.Column("service_dir", sa.String(length=2000), nullable=False),
    sa.Column("log_path", sa.String(length=2000), nullable=False),
    sa.Column("started_marker", sa.String(length=100), nullable=False),
    sa.Column("image", sa.String(length=300), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_deploy_instances_name", "name"),
)

sa.Table(
    "intents",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("repo", sa.String(length=200), nullable=False),
    sa.Column("path", sa.String(length=500), nullable=False),
    sa.Column("service_name", sa.String(length=63), nullable=False),
    sa.Column("content_hash", sa.String(length=64), nullable=False),
    sa.Column("priority", sa.String(length=16), nullable=False),
    sa.Column("state", sa.String(length=32), nullable=False),
    sa.Column("waiting_for", sa.Text(), nullable=False),
    sa.Column("author", sa.String(length=100), nullable=False),
    sa.Column("source", sa.String(length=32), nullable=False),
    sa.Column("commit_sha", sa.String(length=64), nullable=False),
    sa.Column("pr_number", sa.Integer(), nullable=True),
    sa.Column("pr_url", sa.String(length=500), nullable=False),
    sa.Column("issue_number", sa.Integer(), nullable=True),
    sa.Column("head_sha", sa.String(length=64), nullable=False),
    sa.Column("decision", sa.JSON(), nullable=True),
    sa.Column("report", sa.JSON(), nullable=True),
    sa.Column("service_url", sa.String(length=500), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("repo", "path", name="uq_intents_repo_path"),
    sa.Index("ix_intents_service_name", "service_name"),
    sa.Index("ix_intents_state", "state"),
    sa.Index("ix_intents_updated_at", "updated_at"),
)

sa.Table(
    "jobs",
    BASELINE,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("kind", sa.String(length=100), nullable=False),
    sa.Column("key", sa.String(length=512), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("priority", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("max_attempts", sa.Integer(), nullable=False),
    sa.Column("run_after", sa.Double(), nullable=False),
    sa.Column("lease_owner", sa.String(length=200), nullable=True),
    sa.Column("lease_expires_at", sa.Double(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("updated_at", sa.Double(), nullable=False),
    sa.Column("finished_at", sa.Double(), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("key"),
    sa.Index("ix_jobs_claim", "state", "priority", "run_after"),
)

sa.Table(
    "llm_usage",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("month", sa.String(length=7), nullable=False),
    sa.Column("stage", sa.String(length=64), nullable=False),
    sa.Column("model", sa.String(length=128), nullable=False),
    sa.Column("budget_key", sa.String(length=512), nullable=True),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("estimate_usd", sa.Float(), nullable=False),
    sa.Column("cost_usd", sa.Float(), nullable=False),
    sa.Column("input_tokens", sa.Integer(), nullable=False),
    sa.Column("output_tokens", sa.Integer(), nullable=False),
    sa.Column("cache_creation_input_tokens", sa.Integer(), nullable=False),
    sa.Column("cache_read_input_tokens", sa.Integer(), nullable=False),
    sa.Column("message_id", sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_llm_usage_budget_key", "budget_key"),
    sa.Index("ix_llm_usage_month", "month"),
    sa.Index("ix_llm_usage_stage", "stage"),
)

sa.Table(
    "policy_sets",
    BASELINE,
    sa.Column("scope", sa.String(length=300), nullable=False),
    sa.Column("files", sa.Text(), nullable=False),
    sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("scope"),
)

sa.Table(
    "registry_instances",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=63), nullable=False),
    sa.Column("version", sa.String(length=200), nullable=False),
    sa.Column("url", sa.String(length=2000), nullable=False),
    sa.Column("health_path", sa.String(length=500), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_heartbeat", sa.DateTime(timezone=True), nullable=True),
    sa.Column("intent_path", sa.String(length=500), nullable=False),
    sa.Column("spec_hash", sa.String(length=128), nullable=False),
    sa.Column("commit_sha", sa.String(length=64), nullable=False),
    sa.Column("pr_number", sa.Integer(), nullable=True),
    sa.Column("approvers", sa.Text(), nullable=False),
    sa.Column("image_digest", sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("name", "version", name="uq_registry_instance"),
    sa.Index("ix_registry_instances_name", "name"),
)

sa.Table(
    "webhook_deliveries",
    BASELINE,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("delivery_id", sa.String(length=100), nullable=False),
    sa.Column("hook_id", sa.String(length=40), nullable=False),
    sa.Column("event", sa.String(length=100), nullable=False),
    sa.Column("action", sa.String(length=100), nullable=True),
    sa.Column("sender", sa.String(length=100), nullable=True),
    sa.Column("payload_sha256", sa.String(length=64), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=True),
    sa.Column("outcome", sa.String(length=16), nullable=False),
    sa.Column("jobs", sa.Integer(), nullable=False),
    sa.Column("received_at", sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("delivery_id", "hook_id", name="uq_webhook_delivery"),
)

sa.Table(
    "decisions",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("intent_id", sa.Integer(), nullable=False),
    sa.Column("content_hash", sa.String(length=64), nullable=False),
    sa.Column("action", sa.String(length=32), nullable=False),
    sa.Column("decision", sa.JSON(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["intent_id"], ["intents.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_decisions_intent_id", "intent_id"),
)

sa.Table(
    "intent_events",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("intent_id", sa.Integer(), nullable=False),
    sa.Column("stage", sa.String(length=32), nullable=False),
    sa.Column("outcome", sa.String(length=16), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("detail", sa.JSON(), nullable=True),
    sa.Column("content_hash", sa.String(length=64), nullable=False),
    sa.Column("duration_ms", sa.Integer(), nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["intent_id"], ["intents.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_intent_events_intent_at", "intent_id", "at"),
)

sa.Table(
    "signoffs",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("intent_id", sa.Integer(), nullable=False),
    sa.Column("pr_number", sa.Integer(), nullable=False),
    sa.Column("reviewer", sa.String(length=100), nullable=False),
    sa.Column("head_sha", sa.String(length=64), nullable=False),
    sa.Column("via", sa.String(length=16), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["intent_id"], ["intents.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("intent_id", "pr_number", "reviewer", "head_sha", name="uq_signoffs_once"),
    sa.Index("ix_signoffs_intent_id", "intent_id"),
)


def upgrade() -> None:
    BASELINE.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    BASELINE.drop_all(op.get_bind(), checkfirst=True)
