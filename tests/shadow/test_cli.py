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
from pipeline.ledger import Event, Ledger
from pipeline.registry import RegistryStore
from pipeline.state import Database, default_sqlite_url
from tests.conftest import EXAMPLES
from tests.fixtures.forge import ForgeKit
from tests.fixtures.stage_services import STAGE_TOKEN, stage_service

INTENTOPS = Path(sys.executable).parent / "intentops"
POLICY = (
    b"policies:\n  - name: Block low alignment\n    rule: alignment_score < 0.70\n    action: blocked\n"
    b"    reason: r\n"
)
NOTES = (
    "service_name: team-notes\npurpose: Share notes within the team\n"
    "resources:\n  - name: note\n    fields: {title: string}\n"
)
MINER = "service_name: night-miner\npurpose: Mine cryptocurrency on the build servers at night\n"


def run(data: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(data),
        "INTENTOPS_DATA_DIR": str(data),
        "INTENTOPS_STAGE_TOKEN": STAGE_TOKEN,
        **(env or {}),
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


def test_a_repositorys_ledger_history_is_replayed_from_the_forge(
    tmp_path: Path, verifier_url: str, forge_kit: ForgeKit
) -> None:
    alice = forge_kit.user("alice")
    forge_kit.user("acme")
    forge_kit.repo(
        "acme/intents",
        files={"BLUEPRINT.md": (EXAMPLES / "BLUEPRINT.md").read_bytes(), "policies/p.yaml": POLICY},
        collaborators={"alice": "write"},
    )
    clone = forge_kit.clone("acme/intents", alice)
    notes = forge_kit.commit(clone, {"intents/team-notes.yaml": NOTES}, "team notes")
    miner = forge_kit.commit(
        clone, {"intents/night-miner.yaml": MINER, "policies/p.yaml": "policies: []\n"}, "a miner, no policy"
    )
    forge_kit.git(clone, "push", "--quiet", "origin", "HEAD:main")
    data = tmp_path / "data"
    data.mkdir()
    database = Database(default_sqlite_url(data))
    database.create_all()
    ledger = Ledger(database)
    for path, sha, event in (
        ("intents/team-notes.yaml", notes, Event.DEPLOYED),
        ("intents/night-miner.yaml", miner, Event.BLOCKED),
    ):
        record, _ = ledger.receive(
            repo="acme/intents", path=path, service_name=Path(path).stem, content_hash=sha, commit_sha=sha
        )
        ledger.apply(record.id, event)
    database.dispose()

    ran = run(
        data,
        "spec-verifier",
        "--candidate",
        verifier_url,
        "--repo",
        "acme/intents",
        "--format",
        "json",
        env={"GITHUB_TOKEN": alice.token, "GITHUB_BASE_URL": forge_kit.api_url},
    )

    assert ran.returncode == 0, ran.stderr
    kept = json.loads(ran.stdout)
    assert kept["repo"] == "acme/intents" and kept["report"]["source"] == "the ledger of acme/intents"
    cases = {case["id"]: case["outcome"] for case in kept["report"]["cases"]}
    assert cases == {
        f"intents/night-miner.yaml@{miner[:7]}": "blocked",
        f"intents/team-notes.yaml@{notes[:7]}": "signed_off",
    }
    signoff = kept["report"]["metrics"][1]
    assert signoff["metric"]["name"] == "signoff_auc" and len(signoff["rows"]) == 2


def test_ledger_history_without_a_token_to_read_it_says_what_to_set(tmp_path: Path) -> None:
    database = Database(default_sqlite_url(tmp_path))
    database.create_all()
    Ledger(database).receive(
        repo="acme/intents", path="intents/x.yaml", service_name="x", content_hash="h", commit_sha="c" * 40
    )
    database.dispose()

    ran = run(tmp_path, "spec-builder", "--candidate", "builtin", "--repo", "acme/intents")

    assert ran.returncode == 1
    assert "reading them needs GITHUB_TOKEN" in ran.stderr
