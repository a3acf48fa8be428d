"""The data directory is for its owner only: the state database holds sessions and tokens, the forge's
holds webhook secrets, and beside them lie the registry token and the demo's credentials.

Folders are made 0700 and secret files 0600 when they are created (`private_dir`, `private_file`; SQLite
gives a database's -wal and -shm files the database file's own mode). Long-running commands also check
a data directory at start (`secure_data_dir`): anything others may read is fixed, and each fix is
reported, so a directory left by an older IntentOps or another tool does not stay open.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
OTHERS = 0o077
"""Group and other permission bits: none may be set on a private path."""
SECRET_SUFFIXES = (".db", ".db-wal", ".db-shm", ".db-journal")
SECRET_NAMES = frozenset({"credentials.json", "registry-token"})
SEARCH_DEPTH = 2
"""How many folders below a data directory secret files are looked for (bot/state.db, forge/forge.db)."""

MODE_FIXED = "{path} could be read by others (mode {old:03o}); changed to {new:03o}"
MODE_NOT_FIXED = "{path} can be read by others (mode {old:03o}) and could not be changed: {error}"


@dataclass(frozen=True)
class ModeFix:
    """A path whose mode let others in; `error` is set when it could not be changed."""

    path: Path
    old: int
    new: int
    error: str = ""

    def line(self) -> str:
        if self.error:
            return MODE_NOT_FIXED.format(path=self.path, old=self.old, error=self.error)
        return MODE_FIXED.format(path=self.path, old=self.old, new=self.new)


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents with mode 0700 (existing folders are left as they are)."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # made by another process meanwhile
            continue
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 (in a private folder) unless it exists."""
    private_dir(path.parent)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    return path


def is_secret(name: str) -> bool:
    return name in SECRET_NAMES or name.endswith(SECRET_SUFFIXES)


def _secret_files(folder: Path, depth: int) -> Iterator[Path]:
    """Secret files in `folder` and up to `depth` folders below it; symbolic links are not followed."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.is_symlink():
            continue
        if entry.is_file() and is_secret(entry.name):
            yield Path(entry.path)
        elif entry.is_dir() and depth > 0:
            yield from _secret_files(Path(entry.path), depth - 1)


def private_paths(root: Path) -> list[Path]:
    """`root`, every secret file up to SEARCH_DEPTH folders below it, and the folders between."""
    files = sorted(_secret_files(root, SEARCH_DEPTH))
    folders = {root}
    for file in files:
        folders.update(parent for parent in file.parents if parent.is_relative_to(root))
    return sorted(folders) + files


def _fix(path: Path) -> ModeFix | None:
    try:
        mode = stat.S_IMODE(path.lstat().st_mode)
    except FileNotFoundError:  # gone meanwhile (a -shm file of a closed database)
        return None
    if not mode & OTHERS:
        return None
    wanted = mode & ~OTHERS
    try:
        os.chmod(path, wanted)
    except OSError as exc:
        return ModeFix(path, mode, wanted, exc.strerror or str(exc))
    return ModeFix(path, mode, wanted)


def secure_data_dir(root: Path) -> list[ModeFix]:
    """Take group and other permissions off `root` (if it exists), its secret files and the folders
    holding them; returns what had to change, or could not."""
    if not root.is_dir():
        return []
    return [fix for path in private_paths(root) if (fix := _fix(path)) is not None]
