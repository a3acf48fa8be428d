"""Schema migrations of the state database (Alembic), run by IntentOps itself whenever it opens it.

Every process that opens the database (bot, worker, CLI) brings it to the newest revision first. Processes
starting together take turns: a file lock beside a SQLite database, an advisory lock on PostgreSQL. A
database written by a newer IntentOps is refused with a clear message rather than used half-understood.
"""

from __future__ import annotations

import fcntl
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from pipeline.state.errors import SchemaError

MIGRATIONS = Path(__file__).with_name("migrations")
ADVISORY_LOCK_KEY = 0x1A7E_0750  # any fixed number: one lock, held while migrating
NEWER_DATABASE = (
    "the state database {url} is at schema revision {revision}, which this IntentOps does not know "
    "(its newest is {head}): it was written by a newer IntentOps; upgrade IntentOps, or use another "
    "database (INTENTOPS_DATA_DIR or DATABASE_URL)"
)


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "the migrations have one head"
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision; a no-op (one query) when it is there already."""
    with engine.connect() as probe:
        if current_revision(probe) == head_revision():
            return
    with _exclusive(engine), engine.begin() as connection:
        revision = current_revision(connection)
        if revision == head_revision():
            return  # another process migrated it while we waited
        if revision is not None and _unknown(revision):
            url = engine.url.render_as_string(hide_password=True)
            raise SchemaError(NEWER_DATABASE.format(url=url, revision=revision, head=head_revision()))
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _unknown(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is None
    except Exception:  # alembic raises for an id it has never seen
        return True


@contextmanager
def _exclusive(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with Path(f"{database}.migrate-lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
