"""Schema migrations of the state database, on real SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

import bot.dashboard.sessionstore
import bot.dashboard.signinlimit
import bot.queue
import bot.webhooks.deliveries
import pipeline.state.tables  # noqa: F401  (every model table on Base.metadata)
from pipeline.state import Base, Database, default_sqlite_url
from pipeline.state.migrate import SchemaError, head_revision

assert bot.queue and bot.webhooks.deliveries  # bot tables
assert bot.dashboard.sessionstore and bot.dashboard.signinlimit


def _differences(database: Database) -> list[object]:
    with database.engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_new_database_gets_exactly_the_tables_the_code_declares(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = default_sqlite_url(tmp_path) if backend == "sqlite" else request.getfixturevalue("postgres_url")
    database = Database(url)
    try:
        database.create_all()
        # A model changed without a migration under pipeline/state/migrations/versions shows up here.
        assert _differences(database) == []
        with database.engine.connect() as connection:
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == head_revision()
    finally:
        database.dispose()


def test_a_database_made_before_migrations_keeps_its_rows_and_is_brought_up_to_date(tmp_path: Path) -> None:
    url = default_sqlite_url(tmp_path)
    legacy = create_engine(url)
    with legacy.begin() as connection:  # what 0.1 left: tables from create_all, no alembic_version
        Base.metadata.tables["policy_sets"].create(connection)
        row = "INSERT INTO policy_sets (scope, files, saved_at) VALUES ('acme/intents', '{}', '2026-11-01')"
        connection.execute(text(row))
    legacy.dispose()

    database = Database(url)
    try:
        database.create_all()
        assert _differences(database) == []
        with database.engine.connect() as connection:
            assert connection.scalar(text("SELECT scope FROM policy_sets")) == "acme/intents"
    finally:
        database.dispose()


def test_a_database_from_a_newer_intentops_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    database = Database(default_sqlite_url(tmp_path))
    try:
        database.create_all()
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        with pytest.raises(SchemaError, match="9999_from_the_future.*newer IntentOps"):
            database.create_all()
        assert "jobs" in inspect(database.engine).get_table_names()  # nothing dropped
    finally:
        database.dispose()


def test_the_cli_says_so_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    database = Database(default_sqlite_url(tmp_path))
    database.create_all()
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0042'"))
    database.dispose()

    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "INTENTOPS_DATA_DIR": str(tmp_path)}
    ran = subprocess.run(
        [str(Path(sys.executable).parent / "intentops"), "usage"], env=env, capture_output=True, text=True
    )

    assert ran.returncode == 1
    assert ran.stderr.startswith("intentops: the state database") and "revision 0042" in ran.stderr
    assert "Traceback" not in ran.stderr and "internal error" not in ran.stderr


def _open(url: str) -> None:
    database = Database(url)
    database.create_all()
    database.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_starting_together_migrate_once_without_errors(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = default_sqlite_url(tmp_path) if backend == "sqlite" else request.getfixturevalue("postgres_url")
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_open, args=(url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    database = Database(url)
    try:
        assert _differences(database) == []
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [
                (head_revision(),)
            ]
    finally:
        database.dispose()
