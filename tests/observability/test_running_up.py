"""The state commands find a running `intentops up` from the directory it was started in, without
INTENTOPS_DATA_DIR; a variable the user set, or an `up` that is gone, leaves them alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot.cli.running import adopt_running_up, marked_running, running_up


def test_state_commands_read_a_running_up(tmp_path: Path) -> None:
    marker = tmp_path / ".data" / "running-up.json"
    data = tmp_path / ".data" / "up" / "bot"
    with marked_running(data, marker):
        environ: dict[str, str] = {}
        said = adopt_running_up(["services"], environ, marker=marker)
        assert environ == {"INTENTOPS_DATA_DIR": str(data)} and "running `intentops up`" in said
        chosen = {"INTENTOPS_DATA_DIR": "/elsewhere"}
        assert adopt_running_up(["services"], chosen, marker=marker) == ""
        assert chosen == {"INTENTOPS_DATA_DIR": "/elsewhere"}
        assert adopt_running_up(["validate"], {}, marker=marker) == ""
    assert not marker.exists(), "the marker goes when up stops"


def test_a_gone_up_is_ignored(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    marker = tmp_path / "running-up.json"
    marker.write_text(json.dumps({"pid": int(gone.stdout), "data_dir": str(tmp_path)}), encoding="utf-8")
    assert running_up(marker) is None
    environ: dict[str, str] = {}
    assert adopt_running_up(["usage"], environ, marker=marker) == "" and environ == {}
