"""Stateless mode: the line's state database kept as the one file of a branch of the intents repository.

Without DATABASE_URL a workflow run starts with nothing; the state (ledger, sign-offs, tested heads, the
queue) is fetched from the branch `intentops/state` before the run and pushed back after it, as a single
commit with no history (the branch never grows). The push is leased on the commit the run started from,
so two runs at once never lose each other's record silently: the second one's push is refused.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from bot.line import git_base_url
from bot.vcs.workspace import auth_environment

STATE_BRANCH = "intentops/state"
STATE_FILE = "state.db"
GIT_USER = "x-access-token"
IDENTITY = {
    "GIT_AUTHOR_NAME": "intentops",
    "GIT_AUTHOR_EMAIL": "intentops@users.noreply.intentops",
    "GIT_COMMITTER_NAME": "intentops",
    "GIT_COMMITTER_EMAIL": "intentops@users.noreply.intentops",
}
GIT_TIMEOUT_S = 300
SAVE_MESSAGE = "The line's state after {what}"
LOST_RACE = (
    "another run changed the branch {branch} while this one ran: this run's changes on the forge are made "
    "but its record of them is not kept; give the workflow a `concurrency:` group so runs take turns"
)
GIT_FAILED = "git {what} on {remote} failed: {reason}"


class StateBranchError(RuntimeError):
    """The state branch could not be read or written; the message is safe to show (no credentials)."""


@dataclass(frozen=True)
class StateBranch:
    """The state branch of `remote`, handled through a scratch git directory `scratch`."""

    remote: str
    token: str = field(repr=False)
    scratch: Path
    branch: str = STATE_BRANCH

    def _env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        return {**base, "GIT_CONFIG_NOSYSTEM": "1", **IDENTITY, **auth_environment(GIT_USER, self.token)}

    def _git(self, *args: str, what: str, stdin: bytes | None = None) -> bytes:
        if not (self.scratch / "HEAD").exists():
            self.scratch.mkdir(parents=True, exist_ok=True)
            self._run(["git", "init", "--quiet", "--bare", str(self.scratch)], what="init")
        return self._run(["git", "--git-dir", str(self.scratch), *args], what=what, stdin=stdin)

    def _run(self, argv: list[str], *, what: str, stdin: bytes | None = None) -> bytes:
        try:
            done = subprocess.run(
                argv, input=stdin, capture_output=True, env=self._env(), timeout=GIT_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StateBranchError(GIT_FAILED.format(what=what, remote=self.remote, reason=exc)) from None
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip().splitlines()
            reason = said[-1] if said else f"exit {done.returncode}"
            raise StateBranchError(GIT_FAILED.format(what=what, remote=self.remote, reason=reason))
        return done.stdout

    def head(self) -> str | None:
        """The branch's commit on the remote (None when it does not exist yet)."""
        listed = self._git("ls-remote", self.remote, f"refs/heads/{self.branch}", what="ls-remote").decode()
        return listed.split()[0] if listed.strip() else None

    def restore(self, target: Path) -> str | None:
        """Write the kept database to `target`; the commit it came from (None: no state kept yet)."""
        commit = self.head()
        if commit is None:
            return None
        self._git("fetch", "--quiet", "--depth=1", self.remote, commit, what="fetch")
        data = self._git("cat-file", "blob", f"{commit}:{STATE_FILE}", what="read the state file")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return commit

    def save(self, database_file: Path, *, expected: str | None, what: str) -> str:
        """Push a consistent copy of `database_file` as the branch's only commit, if the branch is still at
        `expected` (None: if it still does not exist). Returns the new commit."""
        copy = self.scratch.parent / f"{STATE_FILE}.snapshot"
        snapshot(database_file, copy)
        blob = self._git("hash-object", "-w", str(copy), what="store the state file").decode().strip()
        tree = self._git("mktree", what="make a tree", stdin=f"100644 blob {blob}\t{STATE_FILE}\n".encode())
        message = SAVE_MESSAGE.format(what=what)
        made = self._git("commit-tree", tree.decode().strip(), "-m", message, what="commit")
        commit = made.decode().strip()
        ref = f"refs/heads/{self.branch}"
        lease = f"--force-with-lease={ref}:{expected or ''}"
        try:
            self._git("push", "--quiet", lease, self.remote, f"{commit}:{ref}", what="push")
        except StateBranchError as exc:
            if self.head() != expected:
                raise StateBranchError(LOST_RACE.format(branch=self.branch)) from exc
            raise
        return commit


def snapshot(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (its online backup), even while it is open elsewhere."""
    target.unlink(missing_ok=True)
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(target)) as copy:
        live.backup(copy)


def state_branch_for(*, api_base_url: str, repository: str, token: str, scratch: Path) -> StateBranch:
    """The state branch of `repository` on the forge behind `api_base_url`."""
    return StateBranch(remote=f"{git_base_url(api_base_url)}/{repository}.git", token=token, scratch=scratch)
