"""`intentops shadow`, run as a user runs it (the installed console script), against a stage service served
on 127.0.0.1, with the bundled example history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.factory.contracts import Stage
from pipeline.registry import RegistryStore
from pipeline.state import Database, default_sqlite_url
from tests.fixtures.stage_services import STAGE_TOKEN, stage_service

INTENTOPS = Path(sys.executable).parent / "intentops"


def run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(data),
        "INTENTOPS_DATA_DIR": str(data),
        "INTENTOPS_STAGE_TOKEN": STAGE_TOKEN,
    }
    return subprocess.run(
        [str(INTENTOPS), "shadow", *args], env=env, cwd=data, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def verifier_url() -> object:
    with stage_service(Stage.SPEC_VERIFIER) as url:
        yield url


def test_a_run_is_kept_and_shown_again(tmp_path: Path, verifier_url: str) -> None:
    ran = run(tmp_path, "spec-verifier", "--candidate", verifier_url, "--intents", "5", "--format", "json")

    assert ran.returncode == 0, ran.stderr
    kept = json.loads(ran.stdout)
    report = kept["report"]
    assert (report["stage"], report["candidate"], report["incumbent"]) == (
        "spec-verifier",
        verifier_url,
        "builtin",
    )
    assert report["verdict"] == "no better" and report["source"] == "the bundled example history"
    assert len(report["cases"]) == 5
    assert [m["metric"]["name"] for m in report["metrics"]][:2] == ["gate_auc", "signoff_auc"]

    shown = run(tmp_path, "spec-verifier", "--rows")

    assert shown.returncode == 0, shown.stderr
    assert (
        f"shadow report {kept['id']}: spec-verifier, {verifier_url} beside builtin, 5 intents" in shown.stdout
    )
    assert "known_bad_low" in shown.stdout and "known-bad/no-security-section/notes" in shown.stdout
    assert "verdict: no better" in shown.stdout


def test_a_candidate_named_in_the_registry_is_called_at_its_url(tmp_path: Path, verifier_url: str) -> None:
    database = Database(default_sqlite_url(tmp_path))
    database.create_all()
    RegistryStore(database).register(name="spec-verifier-v2", version="1a2b3c4", url=verifier_url)
    database.dispose()

    ran = run(
        tmp_path, "spec-verifier", "--candidate", "spec-verifier-v2", "--intents", "3", "--format", "json"
    )

    assert ran.returncode == 0, ran.stderr
    kept = json.loads(ran.stdout)
    assert (kept["report"]["candidate"], kept["candidate_version"]) == ("spec-verifier-v2", "1a2b3c4")
    assert kept["report"]["metrics"][-2]["candidate"] == 0, "no call failed"


def test_nothing_kept_yet_says_how_to_run_one(tmp_path: Path) -> None:
    shown = run(tmp_path, "spec-builder")

    assert shown.returncode == 1
    assert "no shadow report on spec-builder yet" in shown.stderr and "--candidate" in shown.stderr


@pytest.mark.parametrize(
    ("candidate", "message"),
    [
        ("spec-builder-v9", "'spec-builder-v9' is not a service in the registry"),
        ("http://203.0.113.5:8207", "plain http to a host that is not loopback"),
    ],
)
def test_a_candidate_that_cannot_be_called_is_refused_in_one_line(
    tmp_path: Path, candidate: str, message: str
) -> None:
    ran = run(tmp_path, "spec-builder", "--candidate", candidate)

    assert ran.returncode == 1
    assert message in ran.stderr and "Traceback" not in ran.stderr


def test_a_history_file_that_is_not_one_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "history.yaml"
    bad.write_text("version: 1\nintents: []\n", encoding="utf-8")

    ran = run(tmp_path, "spec-builder", "--candidate", "builtin", "--cases", str(bad))

    assert ran.returncode == 1
    assert f"{bad}:2:" in ran.stderr and "intents" in ran.stderr
