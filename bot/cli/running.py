"""Where a running `intentops up` keeps its state, so the state commands find it without being told.

`up` writes `.data/running-up.json` (its pid and data directory) in the directory it was started from and
removes it when it stops. `intentops services`, `usage`, `stages` and `shadow`, run from the same
directory with neither INTENTOPS_DATA_DIR nor DATABASE_URL set, read that state (and say so). A marker
whose process is gone is ignored. Light on purpose: `bot.cli.main` imports it before any command.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path

MARKER = Path(".data") / "running-up.json"
STATE_COMMANDS = frozenset({"services", "usage", "stages", "shadow"})
EXPLICIT = ("INTENTOPS_DATA_DIR", "DATABASE_URL")
USING = "intentops: reading the state of the running `intentops up` (pid {pid}) in {data_dir}\n"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_up(marker: Path = MARKER) -> tuple[int, Path] | None:
    """The pid and bot data directory of the `up` that wrote `marker`, if it still runs."""
    try:
        found = json.loads(marker.read_text(encoding="utf-8"))
        pid, data_dir = int(found["pid"]), Path(found["data_dir"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (pid, data_dir) if _alive(pid) else None


@contextmanager
def marked_running(data_dir: Path, marker: Path = MARKER) -> Iterator[None]:
    """While the block runs, `marker` names this process and the bot's `data_dir`."""
    marker.parent.mkdir(parents=True, exist_ok=True)
    record = {"pid": os.getpid(), "data_dir": str(data_dir.absolute())}
    marker.write_text(json.dumps(record), encoding="utf-8")
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def adopt_running_up(argv: list[str], environ: MutableMapping[str, str], *, marker: Path = MARKER) -> str:
    """Point a state command at a running `up`'s data (INTENTOPS_DATA_DIR in `environ`) when the user named
    none; what to tell the user, or "" when nothing changed."""
    command = argv[0] if argv else ""
    if command not in STATE_COMMANDS or any(environ.get(name) for name in EXPLICIT):
        return ""
    running = running_up(marker)
    if running is None:
        return ""
    pid, data_dir = running
    environ["INTENTOPS_DATA_DIR"] = str(data_dir)
    return USING.format(pid=pid, data_dir=data_dir)
