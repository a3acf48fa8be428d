"""The bot's logs: plain text by default, one JSON object a line on request (INTENTOPS_LOG_FORMAT=json),
and the context of the work in every line of it.

Every logger stays a standard `logging` logger; structlog's ProcessorFormatter renders their records and
adds what `structlog.contextvars` holds for the thread that logs. A worker binds the job it runs (job id
and kind, the delivery id, repository, intent path and pull request it is about) for the whole job, so
every line the job's work logs carries them, whichever module logs it. Jobs a job enqueues inherit its
trace (`current_trace`, kept beside their payload by the queue), so a build job queued by a push event
still names the push's delivery id.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from bot.queue import Job
    from pipeline.state import Database

TRACE_KEYS = ("delivery_id", "repo", "intent", "pr")
"""What a job passes on to the jobs it enqueues."""
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET_AT_INFO = ("bot.webhooks.intake",)
"""Loggers whose INFO lines (an event no flow handles) are noise in a terminal; WARNING and up still show."""


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def json_formatter() -> logging.Formatter:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
    )


class _TextWithContext(logging.Formatter):
    """The plain format, with the bound context (job, delivery, intent) appended in brackets."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        bound = structlog.contextvars.get_contextvars()
        if not bound:
            return line
        return f"{line} [{' '.join(f'{key}={value}' for key, value in sorted(bound.items()))}]"


def configure_logging(
    log_format: LogFormat | str = LogFormat.TEXT, *, level: int = logging.INFO, quiet: bool = False
) -> None:
    """The root logger's handlers (one on stderr when it has none) in `log_format`; the `bot` loggers at
    `level`. `quiet`: lines about events nothing handles are left out below WARNING (`intentops up`)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    as_json = LogFormat(log_format) is LogFormat.JSON
    for handler in root.handlers:
        handler.setFormatter(json_formatter() if as_json else _TextWithContext(TEXT_FORMAT))
    logging.getLogger("bot").setLevel(level)
    if as_json:  # uvicorn's lines (started, requests) reach the root handler when it is not configured
        logging.getLogger("uvicorn").setLevel(level)
    for name in QUIET_AT_INFO:
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.NOTSET)


def current_trace() -> dict[str, str]:
    """The trace of the work this thread is doing, for the jobs it enqueues."""
    bound = structlog.contextvars.get_contextvars()
    return {key: str(bound[key]) for key in TRACE_KEYS if bound.get(key) not in (None, "")}


def _delivery_id(database: Database, row_id: object) -> str | None:
    from sqlalchemy import select

    from bot.webhooks.deliveries import DeliveryRow

    if not isinstance(row_id, int):
        return None
    with database.session() as session:
        found = session.execute(select(DeliveryRow.delivery_id).where(DeliveryRow.id == row_id)).scalar()
    return str(found) if found else None


def job_context(job: Job, database: Database) -> dict[str, Any]:
    """What every log line of `job`'s work carries."""
    payload = job.payload
    context: dict[str, Any] = {"job_id": job.id, "job_kind": job.kind, "attempt": job.attempts}
    context.update(job.trace)
    if "delivery" in payload and "delivery_id" not in context:
        context["delivery_id"] = _delivery_id(database, payload["delivery"])
    if isinstance(payload.get("repo"), str):
        context["repo"] = payload["repo"]
    if isinstance(payload.get("path"), str):
        context["intent"] = payload["path"]
    if isinstance(payload.get("number"), int):
        context["pr"] = payload["number"]
    return {key: value for key, value in context.items() if value not in (None, "")}


@contextmanager
def job_log_context(job: Job, database: Database) -> Iterator[None]:
    """Bind `job`'s context for the log lines logged in this thread while it runs."""
    with structlog.contextvars.bound_contextvars(**job_context(job, database)):
        yield
