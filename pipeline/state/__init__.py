"""The state database: one SQLAlchemy metadata, SQLite by default, PostgreSQL via DATABASE_URL."""

from pipeline.state.db import Base, Database, default_sqlite_url

__all__ = ["Base", "Database", "default_sqlite_url"]
