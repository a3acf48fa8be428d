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
from dataclasses import dataclass, field
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


UNFINISHED = "the commit was not made (the working copy's holder stopped first): try again"
PUSH_FAILED_FLAG = "!"


@dataclass(eq=False)
class _Change:
    """One commit asked of a working copy (`publish`, `add_files`), waiting for whoever makes it."""

    branch: str
    base: str
    files: Mapping[str, bytes]
    message: str
    replace: PurePosixPath | None
    commit: str = ""
    _done: threading.Event = field(default_factory=threading.Event)
    _sha: str | None = None
    _error: WorkspaceError | None = None

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def finish(self, *, sha: str | None = None, error: WorkspaceError | None = None) -> None:
        self._sha, self._error = sha, error
        self._done.set()

    def result(self) -> str | None:
        if self._error is not None:
            raise self._error
        return self._sha


def _push_outcomes(porcelain: str) -> dict[str, str | None]:
    """`git push --porcelain`'s lines per destination ref: None when it was updated (or already was), the
    reason when it was refused."""
    outcomes: dict[str, str | None] = {}
    for line in porcelain.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or len(parts[0]) != 1 or ":" not in parts[1]:
            continue
        destination = parts[1].rsplit(":", 1)[1]
        outcomes[destination] = parts[2].strip() if parts[0] == PUSH_FAILED_FLAG else None
    return outcomes


def _workspace_error(exc: WorkspaceError | GitError) -> WorkspaceError:
    """GitPython's own errors (a folder that is no repository) as ours; `_run` already turned commands'."""
    return exc if isinstance(exc, WorkspaceError) else WorkspaceError(f"git failed: {type(exc).__name__}")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


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
    _waiting: dict[Path, list[_Change]] = {}
    _locks_guard = threading.Lock()

    def __init__(
        self, directory: Path, remote_url: str, env: Mapping[str, str], identity: GitIdentity
    ) -> None:
        self.directory = directory
        self.remote_url = remote_url
        self._env = dict(env)
        self._identity = identity
        self._key = directory.resolve()
        with self._locks_guard:
            self._lock = self._locks.setdefault(self._key, threading.Lock())

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
        """Queue the change; whoever holds the working copy next makes it, with every change queued by then
        (one fetch and one push for all their branches), so many builds finishing together wait for one
        round trip, not one each."""
        change = _Change(branch=branch, base=base, files=files, message=message, replace=replace)
        with self._locks_guard:
            self._waiting.setdefault(self._key, []).append(change)
        try:
            with self._exclusive():
                if not change.finished:
                    with self._locks_guard:
                        batch, self._waiting[self._key] = self._waiting[self._key], []
                    self._commit_batch(batch)
        except BaseException:
            with self._locks_guard:
                if change in self._waiting.get(self._key, []):
                    self._waiting[self._key].remove(change)
            raise
        return change.result()

    def _commit_batch(self, batch: list[_Change]) -> None:
        """Commit each change on its branch, then push them all at once. A change whose checkout fails
        (a damaged copy) has the copy cloned afresh and is tried once more, as `_fresh` does; every change
        ends with its commit, None (nothing to commit) or its error."""
        try:
            repo = self._fresh(self._fetched_origin)
            made: dict[str, list[_Change]] = {}
            for change in batch:
                try:
                    self._commit_one(repo, change, made)
                except (WorkspaceError, GitError):
                    self._push(repo, made)
                    made = {}
                    shutil.rmtree(self.directory, ignore_errors=True)
                    repo = self._fetched_origin()
                    try:
                        self._commit_one(repo, change, made)
                    except (WorkspaceError, GitError) as exc:
                        change.finish(error=_workspace_error(exc))
            self._push(repo, made)
        except (WorkspaceError, GitError) as exc:
            failure = _workspace_error(exc)
            for change in batch:
                if not change.finished:
                    change.finish(error=failure)
        finally:
            for change in batch:
                if not change.finished:
                    change.finish(error=WorkspaceError(UNFINISHED))

    def _fetched_origin(self) -> Repo:
        repo = self._repo()
        self._run("fetch", repo.git.fetch, "--prune", "origin")
        return repo

    def _commit_one(self, repo: Repo, change: _Change, made: dict[str, list[_Change]]) -> None:
        """Commit `change` on its branch as the remote has it, as an earlier change of this batch left it,
        or new from its base; a change that changes nothing is finished with None."""
        if change.branch in made:
            start = made[change.branch][-1].commit
        elif change.branch in {ref.remote_head for ref in repo.remotes.origin.refs}:
            start = f"origin/{change.branch}"
        else:
            start = f"origin/{change.base}"
        self._run("checkout", repo.git.checkout, "--force", "-B", change.branch, start)
        self._run("clean", repo.git.clean, "-fdx")
        if change.replace is not None and (self.directory / change.replace).exists():
            shutil.rmtree(self.directory / change.replace)
        for relative, content in change.files.items():
            self._write(self.directory / relative, content)
        self._run("add", repo.git.add, "--all", "--", ".")
        if not repo.is_dirty(index=True, working_tree=False, untracked_files=False):
            change.finish(sha=None)
            return
        actor = Actor(self._identity.name, self._identity.email)
        change.commit = str(repo.index.commit(change.message, author=actor, committer=actor).hexsha)
        made.setdefault(change.branch, []).append(change)

    def _push(self, repo: Repo, made: dict[str, list[_Change]]) -> None:
        """One push for every branch in `made` (its newest commit); each change learns its branch's fate."""
        if not made:
            return
        refspecs = [f"{changes[-1].commit}:refs/heads/{branch}" for branch, changes in made.items()]
        status, stdout, stderr = repo.git.push(
            "--porcelain", "origin", *refspecs, with_extended_output=True, with_exceptions=False
        )
        outcomes = _push_outcomes(stdout)
        for branch, changes in made.items():
            refused = outcomes.get(f"refs/heads/{branch}")
            if refused is None and (status == 0 or f"refs/heads/{branch}" in outcomes):
                for change in changes:
                    change.finish(sha=change.commit)
                continue
            detail = refused or _last_line(stderr) or f"exit {status}"
            for change in changes:
                change.finish(error=WorkspaceError(f"git push failed: {detail}"))

    def _fetched(self, ref: str) -> Repo:
        repo = self._repo()
        self._run("fetch", repo.git.fetch, "--prune", "origin")
        self._run("fetch", repo.git.fetch, "origin", ref)
        return repo

    @staticmethod
    def _write(path: Path, content: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
