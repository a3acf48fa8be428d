"""Operations on a bare repository through the real `git` command (no working tree ever exists)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ZERO_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's well-known empty tree (SHA-1 repositories)
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
SAFE_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]*$")
# Fixed identity and environment so that server-side commits never depend on the host's git config.
_BASE_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
}
_LOG_FORMAT = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B%x00"


class GitError(RuntimeError):
    """A git command failed in a way the caller did not expect."""


@cache
def git_path() -> str:
    """PATH for git and what it runs (hooks need `sh`): git's own directory, then the system's."""
    found = shutil.which("git")
    if found is None:
        raise GitError("git is not installed (apt-get install git)")
    return f"{Path(found).resolve().parent}:/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    date: str = ""


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Person
    committer: Person
    message: str


@dataclass(frozen=True)
class FileChange:
    """One file of a diff: status is added/modified/removed/renamed, as GitHub names them."""

    path: str
    status: str
    additions: int = 0
    deletions: int = 0
    blob_sha: str = ZERO_SHA
    previous_path: str | None = None
    patch: str = ""


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str
    sha: str
    size: int
    path: str


@dataclass
class Edit:
    """Files to write (bytes) or delete (None) in one commit."""

    files: Mapping[str, bytes | None] = field(default_factory=dict)


_STATUS = {"A": "added", "M": "modified", "D": "removed", "R": "renamed", "C": "copied", "T": "changed"}


# Refuses pushes to the branches named in FORGE_PROTECTED, which the forge sets for each push according
# to branch protection and the pusher's role. Git runs it before any ref moves.
PRE_RECEIVE_HOOK = """#!/bin/sh
status=0
while read -r old new ref; do
  for branch in $FORGE_PROTECTED; do
    if [ "$ref" = "refs/heads/$branch" ]; then
      echo "error: GH006: Protected branch update failed for $ref." >&2
      echo "error: Changes must be made through a pull request." >&2
      status=1
    fi
  done
done
exit $status
"""


class BareRepo:
    """A bare repository on disk. Every method runs git with a clean, fixed environment."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def run(
        self,
        *args: str,
        input_bytes: bytes | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        full_env = {"PATH": git_path(), "HOME": str(self.path), **_BASE_ENV}
        full_env.update(env or {})
        result = subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            input=input_bytes,
            capture_output=True,
            env=full_env,
            check=False,
        )
        if check and result.returncode != 0:
            raise GitError(f"git {args[0]} failed: {result.stderr.decode(errors='replace').strip()}")
        return result

    def text(self, *args: str, input_bytes: bytes | None = None, env: dict[str, str] | None = None) -> str:
        return self.run(*args, input_bytes=input_bytes, env=env).stdout.decode("utf-8", errors="replace")

    def init(self, default_branch: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.run("init", "--bare", "--quiet", f"--initial-branch={default_branch}")
        # Pushes over HTTP are authorized by the forge before git ever sees them.
        self.run("config", "http.receivepack", "true")
        self.run("config", "uploadpack.allowFilter", "true")
        self.run("config", "receive.denyNonFastForwards", "false")
        self.install_hooks()

    def install_hooks(self) -> None:
        hook = self.path / "hooks" / "pre-receive"
        if not hook.exists() or hook.read_text() != PRE_RECEIVE_HOOK:
            hook.parent.mkdir(parents=True, exist_ok=True)
            hook.write_text(PRE_RECEIVE_HOOK)
            hook.chmod(0o755)

    def resolve(self, rev: str) -> str | None:
        """The commit a name points to, or None when it does not exist."""
        result = self.run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False
        )
        return result.stdout.decode().strip() or None if result.returncode == 0 else None

    def refs(self, prefix: str = "refs/") -> dict[str, str]:
        out = self.text("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        pairs = (line.split(" ", 1) for line in out.splitlines() if line)
        return {name: sha for name, sha in pairs}

    def branch_sha(self, branch: str) -> str | None:
        """The tip of a branch. Plain names are read from the ref files (git writes them atomically), which
        is much cheaper than a git process; anything unusual goes through `git for-each-ref`."""
        ref = f"refs/heads/{branch}"
        if not SAFE_REF.match(branch) or ".." in branch or "//" in branch:
            return self.refs(ref).get(ref)
        try:
            value = (self.path / ref).read_text().strip()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return self._packed_ref(ref)
        return value if SHA_RE.match(value) else self.refs(ref).get(ref)

    def _packed_ref(self, ref: str) -> str | None:
        try:
            lines = (self.path / "packed-refs").read_text().splitlines()
        except FileNotFoundError:
            return None
        for line in lines:
            sha, _, name = line.partition(" ")
            if name == ref and SHA_RE.match(sha):
                return sha
        return None

    def update_ref(self, ref: str, new: str, old: str | None = None) -> bool:
        """Move a ref, only if it still points to `old` (None: any value). Returns False on a lost race."""
        args = ["update-ref", ref, new] + ([old] if old is not None else [])
        return self.run(*args, check=False).returncode == 0

    def delete_ref(self, ref: str, old: str | None = None) -> bool:
        args = ["update-ref", "-d", ref] + ([old] if old is not None else [])
        return self.run(*args, check=False).returncode == 0

    def commit_info(self, rev: str) -> CommitInfo:
        return self.log(rev, max_count=1)[0]

    def log(self, *revs: str, max_count: int | None = None, reverse: bool = False) -> list[CommitInfo]:
        args = ["log", f"--format={_LOG_FORMAT}", "-z"]
        if max_count is not None:
            args.append(f"--max-count={max_count}")
        if reverse:
            args.append("--reverse")
        fields = self.run(*args, *revs, "--").stdout.decode("utf-8", errors="replace").split("\x00")
        commits = []
        for i in range(0, len(fields) - 9, 11):
            chunk = [f.lstrip("\n") if n == 0 else f for n, f in enumerate(fields[i : i + 10])]
            sha, tree, parents, an, ae, ad, cn, ce, cd, message = chunk
            commits.append(
                CommitInfo(sha, tree, tuple(parents.split()), Person(an, ae, ad), Person(cn, ce, cd), message)
            )
        return commits

    def log_path(self, rev: str, path: str, max_count: int = 250) -> list[CommitInfo]:
        """Commits reachable from `rev` that touch `path`, newest first."""
        shas = self.text("rev-list", f"--max-count={max_count}", rev, "--", path).split()
        return [self.commit_info(sha) for sha in shas]

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.run("merge-base", "--is-ancestor", ancestor, descendant, check=False).returncode == 0

    def merge_base(self, a: str, b: str) -> str | None:
        result = self.run("merge-base", a, b, check=False)
        return result.stdout.decode().strip() or None

    def count(self, spec: str) -> int:
        return int(self.text("rev-list", "--count", spec).strip() or 0)

    def merge_tree(self, base: str, head: str) -> str | None:
        """The tree of merging head into base, or None when they conflict (git merge-tree --write-tree)."""
        result = self.run("merge-tree", "--write-tree", "--no-messages", base, head, check=False)
        if result.returncode == 0:
            return result.stdout.decode().split("\n", 1)[0].strip()
        if result.returncode == 1:
            return None
        raise GitError(f"git merge-tree failed: {result.stderr.decode(errors='replace').strip()}")

    def commit_tree(
        self, tree: str, parents: list[str], message: str, author: Person, committer: Person
    ) -> str:
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
        }
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.text(*args, input_bytes=message.encode(), env=env).strip()

    def write_files(self, parent: str | None, edit: Edit) -> str:
        """A new tree: `parent`'s tree with the files of `edit` written or removed (a private index file)."""
        with tempfile.TemporaryDirectory(prefix="forge-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent:
                self.run("read-tree", parent, env=env)
            lines = []
            for path, content in edit.files.items():
                if content is None:  # mode 0 removes the path from the index (no work tree needed)
                    lines.append(f"0 {ZERO_SHA}\t{path}")
                    continue
                blob = self.text("hash-object", "-w", "--stdin", input_bytes=content).strip()
                lines.append(f"100644 {blob}\t{path}")
            self.run(
                "update-index",
                "-z",
                "--index-info",
                input_bytes="".join(f"{line}\0" for line in lines).encode(),
                env=env,
            )
            return self.text("write-tree", env=env).strip()

    def tree_entry(self, rev: str, path: str) -> TreeEntry | None:
        out = self.text("ls-tree", "--long", "-z", "--full-tree", rev, "--", path) if path else ""
        for record in out.split("\x00"):
            if record:
                return _parse_tree_line(record)
        return None

    def list_dir(self, rev: str, path: str) -> list[TreeEntry]:
        spec = f"{rev}:{path}" if path else f"{rev}^{{tree}}"
        out = self.text("ls-tree", "--long", "-z", spec)
        entries = [_parse_tree_line(r) for r in out.split("\x00") if r]
        prefix = f"{path}/" if path else ""
        return [TreeEntry(e.mode, e.kind, e.sha, e.size, prefix + e.path) for e in entries]

    def blob(self, sha: str) -> bytes:
        return self.run("cat-file", "blob", sha).stdout

    def shortstat(self, spec: str) -> tuple[int, int, int]:
        """(files changed, lines added, lines deleted) of `git diff spec` (e.g. `base...head`), one call."""
        out = self.text("diff", "--no-ext-diff", "--no-color", "-M", "--shortstat", spec)
        numbers = dict.fromkeys(("file", "insertion", "deletion"), 0)
        for part in out.strip().split(","):
            words = part.split()
            for key in numbers:
                if len(words) >= 2 and words[1].startswith(key):
                    numbers[key] = int(words[0])
        return numbers["file"], numbers["insertion"], numbers["deletion"]

    def changes(
        self, old: str | None, new: str, *, with_patch: bool = False, with_counts: bool = True
    ) -> list[FileChange]:
        """Files changed from `old` to `new` (old None: the root commit's files); line counts and patches
        cost a git process each, so callers that need neither (push payloads) skip them."""
        base = old or EMPTY_TREE
        counts: dict[str, tuple[int, int]] = {}
        if with_counts:
            counts = _parse_numstat(
                self.text("diff-tree", "-r", "-z", "--numstat", "-M", base, new).split("\x00")
            )
        raw = self.text("diff-tree", "-r", "-z", "-M", base, new).split("\x00")
        patches = _split_patch(self.text("diff-tree", "-r", "-p", "-M", base, new)) if with_patch else {}
        return _parse_raw(raw, counts, patches)


def _parse_tree_line(record: str) -> TreeEntry:
    meta, path = record.split("\t", 1)
    mode, kind, sha, size = meta.split()
    return TreeEntry(mode, kind, sha, int(size) if size != "-" else 0, path)


def _parse_numstat(fields: list[str]) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    i = 0
    while i < len(fields):
        record = fields[i]
        if not record.strip():
            i += 1
            continue
        added, deleted, path = record.split("\t", 2)
        if not path:  # a rename: the next two fields are the old and new paths
            path = fields[i + 2]
            i += 2
        counts[path] = (int(added) if added != "-" else 0, int(deleted) if deleted != "-" else 0)
        i += 1
    return counts


def _parse_raw(
    fields: list[str], counts: dict[str, tuple[int, int]], patches: dict[str, str]
) -> list[FileChange]:
    changes = []
    i = 0
    while i < len(fields):
        meta = fields[i]
        if not meta.startswith(":"):
            i += 1
            continue
        parts = meta[1:].split()
        status_letter, new_blob = parts[4][0], parts[3]
        previous = None
        if status_letter in "RC":
            previous, path = fields[i + 1], fields[i + 2]
            i += 3
        else:
            path = fields[i + 1]
            i += 2
        added, deleted = counts.get(path, (0, 0))
        blob = new_blob if status_letter != "D" else parts[2]
        status = _STATUS.get(status_letter, "modified")
        changes.append(FileChange(path, status, added, deleted, blob, previous, patches.get(path, "")))
    return changes


def _split_patch(text: str) -> dict[str, str]:
    """Per file, the hunks of a unified diff (GitHub's `patch` field starts at the first @@)."""
    patches: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("diff --git "):
            if current is not None:
                patches[current] = "\n".join(lines)
            current, lines = None, []
        elif lines or line.startswith("@@"):
            lines.append(line)
        elif line.startswith(("+++ ", "--- ")) and line[4:] != "/dev/null":
            current = line[6:]
    if current is not None:
        patches[current] = "\n".join(lines)
    return patches
