"""A git working copy the bot commits generated files from (GitPython), one per repository.

Credentials never touch the remote URL, the command line or `.git/config`: they travel in an
`http.extraHeader` given to git through `GIT_CONFIG_*` environment variables, so neither `ps`, git's
error messages nor a copied checkout can leak them.
"""

from __future__ import annotations

import base64
import fcntl
import shutil
import tarfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from git import Actor, GitCommandError, Repo
from git.exc import GitError


class WorkspaceError(RuntimeError):
    """A git operation failed; the message is safe to show (no credentials)."""


@dataclass(frozen=True)
class GitIdentity:
    name: str
    email: str


def auth_environment(username: str, token: str) -> dict[str, str]:
    basic = base64.b64encode(f"{username}:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        "GIT_TERMINAL_PROMPT": "0",
    }


def _check_relative(path: str) -> PurePosixPath:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise WorkspaceError(f"refusing to write outside the repository: {path!r}")
    return pure


class Workspace:
    """Clone once, then fetch; `publish` replaces a folder on a branch and pushes one commit.

    One operation at a time per working copy, across threads and worker processes (a file lock beside it).
    A worker killed in the middle of a git command leaves git's own lock files behind (`index.lock`, ...);
    whoever holds our lock next knows no git of ours is running there, so it removes them, and a checkout
    that still fails means a damaged copy: it is cloned afresh, since it is only a cache of the remote.
    """

    _locks: dict[Path, threading.Lock] = {}
    _locks_guard = threading.Lock()

    def __init__(
        self, directory: Path, remote_url: str, env: Mapping[str, str], identity: GitIdentity
    ) -> None:
        self.directory = directory
        self.remote_url = remote_url
        self._env = dict(env)
        self._identity = identity
        with self._locks_guard:
            self._lock = self._locks.setdefault(directory.resolve(), threading.Lock())

    def _repo(self) -> Repo:
        if (self.directory / ".git").is_dir():
            repo = Repo(self.directory)
        else:
            self.directory.parent.mkdir(parents=True, exist_ok=True)
            repo = Repo.init(self.directory)
            repo.create_remote("origin", self.remote_url)
        repo.git.update_environment(**self._env)
        return repo

    def _run(self, what: str, action: Callable[..., Any], *args: str, **kwargs: Any) -> Any:
        try:
            return action(*args, **kwargs)
        except GitCommandError as exc:
            # GitPython's message holds the command line and stderr; neither holds the credentials.
            stderr = (exc.stderr or "").strip().removeprefix("stderr:").strip().strip("'").splitlines()
            detail = stderr[-1].strip() if stderr else f"exit {exc.status}"
            raise WorkspaceError(f"git {what} failed: {detail}") from None

    def publish(
        self,
        *,
        branch: str,
        base: str,
        folder: str,
        files: Mapping[str, bytes],
        message: str,
    ) -> str | None:
        """Make `folder` on `branch` hold exactly `files` (paths relative to the folder); the branch starts
        from `base` when it does not exist. Returns the new head SHA, or None when nothing changed (so a
        retry makes no empty commit)."""
        folder_path = _check_relative(folder)
        placed = {str(folder_path / _check_relative(name)): content for name, content in files.items()}
        return self._commit(branch=branch, base=base, files=placed, message=message, replace=folder_path)

    def add_files(self, *, branch: str, base: str, files: Mapping[str, bytes], message: str) -> str | None:
        """Add or overwrite `files` (paths relative to the repository root) on `branch`, leaving the rest."""
        placed = {str(_check_relative(name)): content for name, content in files.items()}
        return self._commit(branch=branch, base=base, files=placed, message=message, replace=None)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.directory.parent / f".{self.directory.name}.lock"
        with self._lock, lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._remove_stale_git_locks()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _remove_stale_git_locks(self) -> None:
        git_dir = self.directory / ".git"
        if not git_dir.is_dir():
            return
        # git's and GitPython's: index.lock, HEAD.lock, refs/**.lock, logs/**.lock (reflogs), config.lock...
        for stale in [
            *git_dir.glob("*.lock"),
            *(git_dir / "refs").rglob("*.lock"),
            *(git_dir / "logs").rglob("*.lock"),
        ]:
            stale.unlink(missing_ok=True)

    def _fresh(self, prepare: Callable[[], Repo]) -> Repo:
        """Run `prepare` (fetch, checkout); if it fails, the copy may be damaged (a torn index, a half-done
        checkout): clone afresh and run it once more. A remote that is down fails both times, as it should."""
        try:
            return prepare()
        except (WorkspaceError, GitError):
            shutil.rmtree(self.directory, ignore_errors=True)
            return prepare()

    def export(self, ref: str, folder: str, destination: Path) -> Path:
        """Copy `folder` as it is at commit `ref` into `destination` (replaced); returns the copy."""
        folder_path = _check_relative(folder)
        with self._exclusive():
            repo = self._fresh(lambda: self._fetched(ref))
            if not self._run("ls-tree", repo.git.ls_tree, "-d", ref, str(folder_path)).strip():
                raise WorkspaceError(f"{folder} does not exist at {ref[:12]}")
            if destination.exists():
                shutil.rmtree(destination)
            destination.mkdir(parents=True)
            archive = destination.parent / f".{destination.name}.tar"
            try:
                with archive.open("wb") as handle:
                    self._run("archive", repo.git.archive, ref, str(folder_path), output_stream=handle)
                with tarfile.open(archive) as tar:
                    tar.extractall(destination, filter="data")
            finally:
                archive.unlink(missing_ok=True)
            return destination / folder_path

    def tree_ids(self, refs: tuple[str, ...], folder: str) -> dict[str, str | None]:
        """The git tree id of `folder` at each commit of `refs` (None where it does not exist): equal ids
        mean byte-for-byte the same files, which is how a deploy proves it runs what was tested."""
        folder_path = _check_relative(folder)
        found: dict[str, str | None] = {}
        with self._exclusive():
            repo = self._fresh(lambda: self._fetched_all(refs))
            for ref in refs:
                listing = self._run("ls-tree", repo.git.ls_tree, "-d", ref, str(folder_path)).split()
                found[ref] = listing[2] if len(listing) >= 3 and listing[1] == "tree" else None
        return found

    def _fetched_all(self, refs: tuple[str, ...]) -> Repo:
        repo = self._repo()
        self._run("fetch", repo.git.fetch, "--prune", "origin")
        for ref in refs:
            self._run("fetch", repo.git.fetch, "origin", ref)
        return repo

    def _commit(
        self,
        *,
        branch: str,
        base: str,
        files: Mapping[str, bytes],
        message: str,
        replace: PurePosixPath | None,
    ) -> str | None:
        with self._exclusive():
            repo = self._fresh(lambda: self._checked_out(branch, base))
            if replace is not None and (self.directory / replace).exists():
                shutil.rmtree(self.directory / replace)
            for relative, content in files.items():
                self._write(self.directory / relative, content)
            self._run("add", repo.git.add, "--all", "--", ".")
            if not repo.is_dirty(index=True, working_tree=False, untracked_files=False):
                return None
            actor = Actor(self._identity.name, self._identity.email)
            commit = repo.index.commit(message, author=actor, committer=actor)
            self._run("push", repo.git.push, "origin", f"HEAD:refs/heads/{branch}")
            return str(commit.hexsha)

    def _fetched(self, ref: str) -> Repo:
        repo = self._repo()
        self._run("fetch", repo.git.fetch, "--prune", "origin")
        self._run("fetch", repo.git.fetch, "origin", ref)
        return repo

    def _checked_out(self, branch: str, base: str) -> Repo:
        """`branch` as the remote has it (or new from `base`), with a clean tree whatever was left in it."""
        repo = self._repo()
        self._run("fetch", repo.git.fetch, "--prune", "origin")
        remote_refs = {ref.remote_head for ref in repo.remotes.origin.refs}
        start = f"origin/{branch}" if branch in remote_refs else f"origin/{base}"
        self._run("checkout", repo.git.checkout, "--force", "-B", branch, start)
        self._run("clean", repo.git.clean, "-fdx")
        return repo

    @staticmethod
    def _write(path: Path, content: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
