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


def test_up_prints_every_intents_stages_once(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from bot.cli.demo_cmd import LineWatcher
    from pipeline.ledger import Ledger, Outcome, Stage
    from pipeline.state import Database

    database = Database(f"sqlite:///{tmp_path / 'state.db'}")
    database.create_all()
    try:
        ledger = Ledger(database)
        stack = SimpleNamespace(bot=SimpleNamespace(line=SimpleNamespace(ledger=ledger)))
        watcher = LineWatcher(stack, 0.0)  # type: ignore[arg-type]  # receive() records `received`
        notes, _ = ledger.receive(
            repo="demo/intents", path="intents/notes.yaml", service_name="notes", content_hash="a"
        )
        watcher.poll()
        links, _ = ledger.receive(
            repo="demo/intents", path="intents/links.yaml", service_name="links", content_hash="b"
        )
        ledger.record(notes.id, Stage.GOVERNED, Outcome.SUCCEEDED, "auto_approve")
        watcher.poll()
        watcher.poll()
    finally:
        database.dispose()
    lines = [line.split("] ", 1)[1] for line in capsys.readouterr().out.splitlines() if "] " in line]
    assert [" ".join(line.split()) for line in lines] == [
        "notes received succeeded from push",
        "links received succeeded from push",
        "notes governed succeeded auto_approve",
    ]
