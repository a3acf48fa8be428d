"""A worker on a host that cannot run builds (no prepared wheelhouse) refuses to start, in one line, before
it claims a job it would only fail."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bot.app import open_state_database
from bot.queue import JobQueue, JobState
from pipeline.state import default_sqlite_url
from tests.bot.test_cli import INTENTOPS, bot_env  # noqa: F401 - bot_env: a fixture
from tests.conftest import ROOT


def test_a_worker_without_a_wheelhouse_refuses_to_start_in_one_line(
    tmp_path: Path,
    bot_env: dict[str, str],  # noqa: F811
) -> None:
    database = open_state_database(default_sqlite_url(tmp_path / "data"))
    job_id = JobQueue(database).enqueue("intent.build", key="k", payload={}).job_id
    done = subprocess.run(
        [INTENTOPS, "worker"], env=bot_env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    wheelhouse = tmp_path / "data" / "wheelhouse"
    assert len(errors) == 1 and errors[0].startswith("error: worker: this host cannot run builds: ")
    assert f"no prepared wheelhouse at {wheelhouse}" in errors[0]
    job = JobQueue(database).get(job_id)
    assert job is not None and job.state is JobState.QUEUED and job.attempts == 0  # never claimed
    database.dispose()
