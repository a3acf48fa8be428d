"""Where the sandbox finds the wheelhouse: the one named, then the configured data directory's, then the
current directory's .data, then the IntentOps checkout's; a named one that is not prepared is an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.sandbox.locate import CHECKOUT_DATA, locate_wheelhouse
from pipeline.wheelhouse import STAMP, WheelhouseError


def prepared(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / STAMP).write_text("ready")
    return folder


def test_the_named_then_the_data_dir_then_the_current_dir(tmp_path: Path) -> None:
    named = prepared(tmp_path / "named")
    data = prepared(tmp_path / "data" / "wheelhouse")
    here = prepared(tmp_path / "here" / ".data" / "wheelhouse")
    cwd = tmp_path / "here"
    assert locate_wheelhouse(explicit=named, data_dir=tmp_path / "data", cwd=cwd).path == named
    assert locate_wheelhouse(data_dir=tmp_path / "data", cwd=cwd).path == data
    assert locate_wheelhouse(cwd=cwd).path == here
    assert locate_wheelhouse(cwd=cwd).venv_cache == here.parent / "venvs"


def test_anywhere_else_the_checkouts_own(tmp_path: Path) -> None:
    if not (CHECKOUT_DATA / "wheelhouse" / STAMP).is_file():
        pytest.fail("set-up prepares the checkout's wheelhouse (./scripts/wheelhouse.sh)")
    assert locate_wheelhouse(cwd=tmp_path).path == CHECKOUT_DATA / "wheelhouse"


def test_a_named_wheelhouse_that_is_not_prepared_is_never_passed_over(tmp_path: Path) -> None:
    with pytest.raises(WheelhouseError, match="looked in: .*empty"):
        locate_wheelhouse(explicit=tmp_path / "empty", cwd=tmp_path)
