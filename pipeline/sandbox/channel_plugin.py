"""A pytest plugin the sandbox loads (-p) to report each test as it ends, over a pipe of its own.

Copied beside the service (never into it) and imported by pytest before any conftest or service code.
It takes the pipe's descriptor from the environment and a per-run token from a second pipe (read once,
so code imported later cannot read it there), keeps both only inside closures, and stops its descriptor
from reaching processes the tests start. Every line it writes carries the token, so lines the code under
test might write into the pipe are told apart.
Stand-alone: it runs in the service's venv, where only the standard library and pytest exist.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

ENV = "INTENTOPS_SANDBOX_CHANNEL"
TEXT_LIMIT = 2000


def _channel() -> Callable[[dict[str, Any]], None]:
    fd_text, _, token_fd = os.environ.pop(ENV, "").partition(":")
    if not fd_text.isdigit() or not token_fd.isdigit():
        return lambda _event: None  # not run by the sandbox: report nothing
    with os.fdopen(int(token_fd), "rb") as source:
        token = source.read().decode()
    fd = int(fd_text)
    os.set_inheritable(fd, False)
    stream = os.fdopen(fd, "w", encoding="utf-8", buffering=1)

    def send(event: dict[str, Any]) -> None:
        if not stream.closed:
            stream.write(f"{token} {json.dumps(event)}\n")
            if event["event"] == "finished":
                stream.close()  # nothing after the end counts, whatever runs at exit

    return send


def _hooks() -> tuple[Callable[..., None], ...]:
    send = _channel()

    def pytest_collection_finish(session: Any) -> None:
        send({"event": "collected", "count": len(session.items)})

    def pytest_collectreport(report: Any) -> None:
        if report.failed:
            send({"event": "collect_error", "nodeid": report.nodeid, "text": _text(report)})

    def pytest_runtest_logreport(report: Any) -> None:
        send(
            {
                "event": "report",
                "nodeid": report.nodeid,
                "when": report.when,
                "outcome": report.outcome,
                "text": _text(report) if report.outcome != "passed" else "",
            }
        )

    def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
        send({"event": "finished", "exitstatus": int(exitstatus)})

    return pytest_collection_finish, pytest_collectreport, pytest_runtest_logreport, pytest_sessionfinish


def _text(report: Any) -> str:
    return str(getattr(report, "longreprtext", "") or report.longrepr or "")[-TEXT_LIMIT:]


pytest_collection_finish, pytest_collectreport, pytest_runtest_logreport, pytest_sessionfinish = _hooks()
