"""Calling an implementation under evaluation without letting it stop the run: each call has a deadline,
and whatever goes wrong (it raises, it hangs, it answers outside its contract) becomes a recorded failure
that counts against it, never an exception out of the evaluation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pipeline.factory.clients import StageUnavailable

T = TypeVar("T")

DEFAULT_CALL_TIMEOUT_S = 150.0
"""Longer than a stage client's own timeout (120 s), so an HTTP candidate's own timeout speaks first."""
MAX_DETAIL_CHARS = 300
TIMED_OUT = "timeout: no answer within {seconds:g} s"
RAISED = "error: {kind}: {detail}"
UNAVAILABLE = "{failure}: {detail}"
WRONG_TYPE = "malformed: it returned {got}, not {expected}"
MALFORMED = "malformed: {problem}"


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """What one call gave: its value, or why there is none; and how long it took."""

    value: T | None
    failure: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return not self.failure


def attempt(
    call: Callable[[], object],
    *,
    expect: type[T],
    timeout_s: float,
    check: Callable[[T], str] | None = None,
) -> Attempt[T]:
    """Run `call` in a thread of its own, waiting at most `timeout_s`. Its answer must be an `expect`, and
    `check` (if given) says what is wrong with it ("" for nothing). A call still running at the deadline is
    abandoned (a daemon thread: it cannot hold the process) and counts as a timeout."""
    answers: list[object] = []
    failures: list[str] = []
    done = threading.Event()

    def run() -> None:
        try:
            answers.append(call())
        except StageUnavailable as exc:
            failures.append(UNAVAILABLE.format(failure=exc.failure.value, detail=_short(exc.detail)))
        except Exception as exc:  # the implementation under test broke: recorded against it, never raised
            failures.append(RAISED.format(kind=type(exc).__name__, detail=_short(str(exc))))
        finally:
            done.set()

    started = time.monotonic()
    threading.Thread(target=run, name="shadow-call", daemon=True).start()
    finished = done.wait(timeout_s)
    elapsed = int((time.monotonic() - started) * 1000)
    if not finished:
        return Attempt(None, TIMED_OUT.format(seconds=timeout_s), elapsed)
    if failures:
        return Attempt(None, failures[0], elapsed)
    value = answers[0]
    if not isinstance(value, expect):
        return Attempt(None, WRONG_TYPE.format(got=_kind(value), expected=f"a {expect.__name__}"), elapsed)
    problem = check(value) if check is not None else ""
    if problem:
        return Attempt(None, MALFORMED.format(problem=_short(problem)), elapsed)
    return Attempt(value, "", elapsed)


def _short(text: str) -> str:
    """Printable and short: an implementation's words end up in reports and PR bodies."""
    printable = "".join(c if c.isprintable() else " " for c in text)
    return printable[:MAX_DETAIL_CHARS]


def _kind(value: object) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"
