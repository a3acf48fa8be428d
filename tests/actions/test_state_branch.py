"""Stateless mode's state branch on the embedded forge: kept as one commit without history, restored as it
was saved, and never overwritten by a run that started from an older state."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot.actions.statebranch import STATE_BRANCH, StateBranch, StateBranchError, state_branch_for
from tests.fixtures.forge import ForgeKit

REPO = "acme/state"


def _database(path: Path, value: str) -> Path:
    path.unlink(missing_ok=True)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("create table kept (value text)")
        db.execute("insert into kept values (?)", (value,))
    return path


def _value(path: Path) -> str:
    with closing(sqlite3.connect(path)) as db:
        return str(db.execute("select value from kept").fetchone()[0])


def test_the_state_is_one_commit_restored_as_saved_and_a_stale_run_is_refused(
    forge_kit: ForgeKit, tmp_path: Path
) -> None:
    owner = forge_kit.user("acme")
    forge_kit.repo(REPO, files={"README.md": b"x"})

    def branch(run: str) -> StateBranch:
        scratch = tmp_path / run / "git"
        return state_branch_for(
            api_base_url=forge_kit.api_url, repository=REPO, token=owner.token, scratch=scratch
        )

    first = branch("one")
    assert first.restore(tmp_path / "one" / "state.db") is None, "nothing kept yet"
    kept = first.save(_database(tmp_path / "one.db", "first"), expected=None, what="push actions-1-1")

    second, stale = branch("two"), branch("three")
    started = second.restore(tmp_path / "two" / "state.db")
    assert started == kept and _value(tmp_path / "two" / "state.db") == "first"
    assert stale.restore(tmp_path / "three" / "state.db") == kept
    newer = second.save(_database(tmp_path / "two.db", "second"), expected=started, what="review actions-2-1")

    with pytest.raises(StateBranchError, match="changed the branch intentops/state while this one ran"):
        stale.save(_database(tmp_path / "three.db", "stale"), expected=kept, what="review actions-3-1")
    assert branch("four").restore(tmp_path / "four" / "state.db") == newer
    assert _value(tmp_path / "four" / "state.db") == "second"
    commit = forge_kit.github(owner).get_repo(REPO).get_branch(STATE_BRANCH).commit
    assert commit.sha == newer and commit.parents == [], "the branch never grows"
