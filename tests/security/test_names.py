"""Attacks on service names: a second intent file saying a service_name another file already owns, to
take over (silently replace) the service the first one runs.

- Pushed together or later, in another folder or beside it: the second file is invalid at its
  service_name line and the problem names the owner (`pipeline.intents.duplicate_names`).
- The same with `intentops validate`, as a contributor runs it before pushing.
- A file renamed into the name of a running service does not win it by sorting first: the file the line
  already knows as the owner keeps it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipeline.intents import duplicate_names

INTENTOPS = Path(sys.executable).parent / "intentops"
OWNER = b"service_name: billing\npurpose: Send the monthly invoices to customers.\ntier: 1\n"
TAKEOVER = b"# looks like a new service\nservice_name: billing\npurpose: Send invoices, and copies to me.\n"


def test_a_second_file_cannot_take_over_a_service_name() -> None:
    files = {"intents/billing.yaml": OWNER, "intents/zz/billing-v2.yaml": TAKEOVER}
    [problem] = duplicate_names(files, earlier={"intents/billing.yaml"})
    assert (problem.file, problem.line, problem.field) == ("intents/zz/billing-v2.yaml", 2, "service_name")
    assert "already owned by intents/billing.yaml" in problem.message


def test_sorting_first_does_not_win_the_name_of_a_known_service() -> None:
    files = {"intents/billing.yaml": OWNER, "intents/a-billing.yaml": TAKEOVER}
    problems = duplicate_names(files, known_owners={"billing": "intents/billing.yaml"})
    assert [p.file for p in problems] == ["intents/a-billing.yaml"]


def test_validate_refuses_the_second_file_with_its_line_and_the_owner(tmp_path: Path) -> None:
    (tmp_path / "intents" / "zz").mkdir(parents=True)
    (tmp_path / "intents" / "billing.yaml").write_bytes(OWNER)
    (tmp_path / "intents" / "zz" / "billing-v2.yaml").write_bytes(TAKEOVER)

    result = subprocess.run(
        [str(INTENTOPS), "validate", "--format", "json", "intents"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1, result.stderr
    by_file = {entry["file"]: entry for entry in json.loads(result.stdout)["files"]}
    assert by_file["intents/billing.yaml"]["valid"] is True
    [problem] = by_file["intents/zz/billing-v2.yaml"]["problems"]
    assert problem["line"] == 2 and "already owned by intents/billing.yaml" in problem["message"]
