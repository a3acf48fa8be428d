"""Alembic's entry point for the state database. IntentOps runs it itself (`Database.create_all`), on the
connection it passes in `config.attributes["connection"]`; there is no alembic.ini."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
metadata = context.config.attributes.get("metadata")  # only to write a new revision (autogenerate)
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
