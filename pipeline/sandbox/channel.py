"""The results of a sandboxed run as pytest reported them while the tests ran, over the sandbox's own pipe.

The JUnit file a run leaves behind can be rewritten by the code under test (an atexit hook in the
service's package, say); this channel cannot be after the run ends, and lines without the run's token are
refused. The counts are then cross-checked: every collected test reported, the end of the run reported,
and the process's exit code the one pytest finished with. A run failing a check is an error, never a pass.
This makes faking a pass harder, not impossible: the tests and the code they test share one process.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.sandbox import channel_plugin
from pipeline.sandbox.model import TestFailure

PLUGIN_MODULE = "intentops_sandbox_channel"
READ_GRACE_S = 5.0
"""How long to wait for the pipe to close after the test process ended (a child may still hold it)."""
FAILURE_TEXT = 2000
RAN = (0, 1)
"""pytest's exit codes when the tests ran (all passed, some failed); others mean it stopped before."""
_OUTCOME = {"setup": "errors", "call": "failed", "teardown": "errors"}


@dataclass
class Channel:
    """The read end of one run's pipe, drained by a thread while the run goes on."""

    plugin_dir: Path
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.plugin_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(channel_plugin.__file__, self.plugin_dir / f"{PLUGIN_MODULE}.py")
        # The token travels through a pipe of its own, read once by the plugin: the environment of a
        # process stays readable in /proc/self/environ, whatever the process removes from os.environ.
        self.token_fd, token_write = os.pipe()
        os.write(token_write, self.token.encode())
        os.close(token_write)
        self._read, self.write_fd = os.pipe()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    @property
    def child_fds(self) -> tuple[int, int]:
        return self.write_fd, self.token_fd

    def environment(self) -> dict[str, str]:
        value = f"{self.write_fd}:{self.token_fd}"
        return {channel_plugin.ENV: value, "PYTHONPATH": str(self.plugin_dir)}

    def started(self) -> None:
        """The child holds its ends now; ours must close, or the pipe never ends."""
        for fd in self.child_fds:
            os.close(fd)

    def finish(self) -> list[str]:
        self._reader.join(timeout=READ_GRACE_S)
        return list(self.lines)

    def _drain(self) -> None:
        with os.fdopen(self._read, encoding="utf-8", errors="replace") as stream:
            for line in stream:
                self.lines.append(line)


@dataclass
class ChannelReport:
    counts: dict[str, int]
    failures: list[TestFailure]
    problems: list[str]
    """Why the report cannot be trusted as it stands (each one is an error of the run)."""
    reported: bool
    """Whether anything came through at all (pytest started and loaded the plugin)."""


def read_channel(lines: list[str], token: str, returncode: int | None, timed_out: bool) -> ChannelReport:
    events, problems = _events(lines, token)
    outcomes: dict[str, str] = {}
    failures: list[TestFailure] = []
    collected: int | None = None
    finished: int | None = None
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for event in events:
        kind = event.get("event")
        if kind == "collected":
            collected = int(event.get("count", 0))
        elif kind == "collect_error":
            counts["errors"] += 1
            failures.append(TestFailure(str(event.get("nodeid", "")), str(event.get("text", ""))))
        elif kind == "report":
            _record(event, outcomes, failures)
        elif kind == "finished":
            finished = int(event.get("exitstatus", -1))
    for outcome in outcomes.values():
        counts[outcome] += 1
    if not timed_out:
        problems += _cross_check(collected, len(outcomes), finished, returncode, counts)
    return ChannelReport(counts, failures, problems, reported=bool(events))


def _events(lines: list[str], token: str) -> tuple[list[dict[str, Any]], list[str]]:
    events, foreign = [], 0
    for line in lines:
        given, _, payload = line.strip().partition(" ")
        try:
            event = json.loads(payload) if secrets.compare_digest(given, token) else None
        except json.JSONDecodeError:
            event = None
        if isinstance(event, dict):
            events.append(event)
        else:
            foreign += 1
    problems = [f"{foreign} line(s) in the report channel did not come from the runner"] if foreign else []
    return events, problems


def _record(event: dict[str, Any], outcomes: dict[str, str], failures: list[TestFailure]) -> None:
    nodeid, when, outcome = str(event.get("nodeid", "")), str(event.get("when", "")), event.get("outcome")
    if outcome == "passed":
        if when == "call":  # a test passes by its call; a passed setup alone says nothing
            outcomes.setdefault(nodeid, "passed")
        return
    kind = "skipped" if outcome == "skipped" else _OUTCOME.get(when, "errors")
    if outcomes.get(nodeid, "passed") == "passed":  # the first problem of a test is its outcome
        outcomes[nodeid] = kind
    failures.append(TestFailure(nodeid, str(event.get("text", ""))[-FAILURE_TEXT:]))


def _cross_check(
    collected: int | None, reported: int, finished: int | None, returncode: int | None, counts: dict[str, int]
) -> list[str]:
    if collected is None and finished is None:
        return []  # pytest never got going: the caller reports its output
    problems = []
    if finished is None:
        problems.append("pytest did not report the end of the run: the process ended early")
    elif returncode != finished:
        problems.append(f"the test process exited with {returncode}, but pytest finished with {finished}")
    elif finished == 0 and (counts["failed"] or counts["errors"]):
        problems.append("pytest finished with 0 although tests failed")
    if collected is not None and finished in RAN and reported < collected:
        problems.append(f"{collected} tests were collected but only {reported} reported a result")
    return problems
