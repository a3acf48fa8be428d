"""Recent intents from the ledger as shadow cases: each with its content at its commit, what governed it
(the blueprint and policies of the commit before), and what was decided. Files come from a dict."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.governance.floor import load_floor
from pipeline.ledger import Event, Ledger
from pipeline.shadow import HumanOutcome, ShadowDataError, cases_from_ledger, load_history
from pipeline.shadow.history import BUNDLED_HISTORY
from pipeline.state import Database
from tests.fixtures.clock import ManualClock

REPO = "acme/intents"
POLICY_V1 = (
    b"policies:\n  - name: Block low alignment\n    rule: alignment_score < 0.70\n    action: blocked\n"
    b"    reason: r\n"
)
POLICY_V2 = (
    b"policies:\n  - name: Approve everything\n    rule: 'true'\n    action: auto_approve\n    reason: r\n"
)
NOTES = b"service_name: notes\npurpose: Share notes within the team\n"
SNEAKY = b"service_name: sneaky\npurpose: Approve itself with the policy it brings\n"


class DictRepo:
    """An intents repository as a dict of commits: each commit's parent and files."""

    def __init__(self) -> None:
        self.parents: dict[str, str | None] = {}
        self.trees: dict[str, dict[str, bytes]] = {}
        self.reads: list[tuple[str, str]] = []

    def commit(self, sha: str, parent: str | None, changes: dict[str, bytes]) -> None:
        tree = dict(self.trees[parent]) if parent else {}
        tree.update(changes)
        self.parents[sha], self.trees[sha] = parent, tree

    def read(self, path: str, ref: str) -> bytes | None:
        self.reads.append((path, ref))
        return self.trees[ref].get(path)

    def parent(self, sha: str) -> str | None:
        return self.parents[sha]

    def list_dir(self, folder: str, ref: str) -> list[str]:
        return sorted(path for path in self.trees[ref] if path.startswith(folder + "/"))


def _receive(ledger: Ledger, clock: ManualClock, path: str, commit: str, *, repo: str = REPO) -> int:
    clock.advance(60)
    record, _ = ledger.receive(
        repo=repo,
        path=path,
        service_name=Path(path).stem,
        content_hash=commit,
        author="alice",
        commit_sha=commit,
    )
    return record.id


@pytest.fixture
def repo() -> DictRepo:
    repo = DictRepo()
    repo.commit("c1", None, {"BLUEPRINT.md": b"# Blueprint v1", "policies/p.yaml": POLICY_V1})
    repo.commit("c2", "c1", {"intents/notes.yaml": NOTES})
    repo.commit("c3", "c2", {"policies/p.yaml": POLICY_V2, "intents/sneaky.yaml": SNEAKY})
    repo.commit("c4", "c3", {"intents/broken.yaml": b"service_name: [not, a, name]\npurpose: Something\n"})
    return repo


def test_the_last_intents_come_with_what_governed_them_before_their_commit(
    database: Database, clock: ManualClock, repo: DictRepo
) -> None:
    ledger = Ledger(database, clock=clock)
    notes = _receive(ledger, clock, "intents/notes.yaml", "c2")
    ledger.apply(notes, Event.DEPLOYED)
    sneaky = _receive(ledger, clock, "intents/sneaky.yaml", "c3")
    ledger.apply(sneaky, Event.CLOSED)
    _receive(ledger, clock, "intents/broken.yaml", "c4")
    _receive(ledger, clock, "intents/elsewhere.yaml", "c2", repo="acme/other")

    picked = cases_from_ledger(
        ledger, repo=REPO, read=repo.read, parent=repo.parent, list_dir=repo.list_dir, floor=load_floor(None)
    )

    assert [case.path for case in picked.cases] == ["intents/sneaky.yaml", "intents/notes.yaml"]
    sneaky_case, notes_case = picked.cases
    assert sneaky_case.policies == {"policies/p.yaml": POLICY_V1}, "the policy it brought did not govern it"
    assert (sneaky_case.outcome, notes_case.outcome) == (HumanOutcome.REJECTED, HumanOutcome.SIGNED_OFF)
    assert notes_case.blueprint == "# Blueprint v1" and notes_case.intent.service_name == "notes"
    assert notes_case.id == "intents/notes.yaml@c2" and notes_case.author == "alice"
    (skipped,) = picked.skipped
    assert (
        skipped.startswith("intents/broken.yaml: its file at c4 no longer loads: ")
        and "service_name" in skipped
    )


def test_at_most_n_intents_and_each_commit_read_once(
    database: Database, clock: ManualClock, repo: DictRepo
) -> None:
    ledger = Ledger(database, clock=clock)
    for index in range(5):
        path = f"intents/notes-{index}.yaml"
        repo.commit(f"n{index}", "c2", {path: NOTES})
        _receive(ledger, clock, path, f"n{index}")

    picked = cases_from_ledger(
        ledger, repo=REPO, read=repo.read, parent=repo.parent, list_dir=repo.list_dir, floor=None, limit=3
    )

    assert [case.path for case in picked.cases] == [f"intents/notes-{i}.yaml" for i in (4, 3, 2)]
    assert repo.reads.count(("BLUEPRINT.md", "c2")) == 1, "one parent's governing files are read once"


def test_an_intent_of_the_first_commit_was_governed_by_nothing(
    database: Database, clock: ManualClock, repo: DictRepo
) -> None:
    repo.commit("c0", None, {"intents/notes.yaml": NOTES})
    ledger = Ledger(database, clock=clock)
    _receive(ledger, clock, "intents/notes.yaml", "c0")

    (case,) = cases_from_ledger(
        ledger, repo=REPO, read=repo.read, parent=repo.parent, list_dir=repo.list_dir, floor=None
    ).cases

    assert (case.blueprint, dict(case.policies)) == ("", {})


def test_a_number_of_intents_out_of_range_is_refused(database: Database, repo: DictRepo) -> None:
    with pytest.raises(ValueError, match="between 1 and 200, not 0"):
        cases_from_ledger(
            Ledger(database),
            repo=REPO,
            read=repo.read,
            parent=repo.parent,
            list_dir=repo.list_dir,
            floor=None,
            limit=0,
        )


def test_the_bundled_history_has_every_kind_of_decision() -> None:
    cases = load_history(floor=None, limit=200)

    assert len(cases) >= 20
    assert {case.outcome for case in cases} == set(HumanOutcome)
    assert all(case.blueprint and case.policies for case in cases)
    assert len({case.intent.service_name for case in cases}) == len(cases)


def test_a_history_that_is_not_one_is_refused_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "history.yaml"
    text = BUNDLED_HISTORY.read_text(encoding="utf-8").replace("outcome: rejected", "outcome: shelved", 1)
    bad.write_text(text, encoding="utf-8")
    line = text.splitlines().index("    outcome: shelved") + 1

    with pytest.raises(ShadowDataError, match=rf"^{bad}:{line}:\d+: intents\.\d+\.outcome: Input should be"):
        load_history(bad, floor=None)


def test_an_invalid_intent_in_a_history_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "history.yaml"
    text = (
        "version: 1\nintents:\n  - path: intents/x.yaml\n    intent:\n"
        "      service_name: Bad/Name\n      purpose: p\n"
    )
    bad.write_text(text, encoding="utf-8")

    with pytest.raises(ShadowDataError, match=rf"{bad}:5:\d+: service_name"):
        load_history(bad, floor=None)
