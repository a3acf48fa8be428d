"""The bot's git workspace against a real bare repository: one commit per real change, none per retry."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from bot.vcs.workspace import GitIdentity, Workspace, WorkspaceError, auth_environment

BOT = GitIdentity("intentops[bot]", "bot@intentops.invalid")


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository with `main` holding one intent, like a freshly created intents repo."""
    bare = tmp_path / "origin.git"
    git("init", "--bare", "--initial-branch=main", str(bare), cwd=tmp_path)
    seed = tmp_path / "seed"
    git("clone", str(bare), str(seed), cwd=tmp_path)
    (seed / "intents").mkdir()
    (seed / "intents" / "hello.yaml").write_text("service_name: hello\npurpose: Say hello\n")
    git("add", ".", cwd=seed)
    git("-c", "user.name=a", "-c", "user.email=a@x", "commit", "-m", "intent", cwd=seed)
    git("push", "origin", "HEAD:main", cwd=seed)
    return bare


def files_on(origin: Path, branch: str) -> list[str]:
    return sorted(git("ls-tree", "-r", "--name-only", branch, cwd=origin).splitlines())


def test_publish_creates_the_branch_from_base(origin: Path, tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws", f"file://{origin}", {}, BOT)
    sha = workspace.publish(
        branch="intentops/hello",
        base="main",
        folder="services/hello",
        files={"app/main.py": b"app = None\n", "SPEC.md": b"# SPEC\n"},
        message="Build hello",
    )
    assert sha == git("rev-parse", "intentops/hello", cwd=origin)
    assert files_on(origin, "intentops/hello") == [
        "intents/hello.yaml",
        "services/hello/SPEC.md",
        "services/hello/app/main.py",
    ]
    assert git("log", "-1", "--format=%an <%ae>", "intentops/hello", cwd=origin) == (
        "intentops[bot] <bot@intentops.invalid>"
    )


def test_a_retry_with_the_same_files_makes_no_commit(origin: Path, tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws", f"file://{origin}", {}, BOT)
    args = {"branch": "intentops/hello", "base": "main", "folder": "services/hello", "message": "Build"}
    first = workspace.publish(files={"a.txt": b"1"}, **args)
    assert workspace.publish(files={"a.txt": b"1"}, **args) is None
    assert git("rev-parse", "intentops/hello", cwd=origin) == first


def test_a_new_version_replaces_the_folder_on_top_of_the_branch(origin: Path, tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws", f"file://{origin}", {}, BOT)
    args = {"branch": "intentops/hello", "base": "main", "folder": "services/hello", "message": "Build"}
    first = workspace.publish(files={"old.py": b"1", "keep.py": b"1"}, **args)
    second = workspace.publish(files={"keep.py": b"2"}, **args)
    assert second and second != first
    assert git("rev-parse", "intentops/hello~1", cwd=origin) == first
    assert files_on(origin, "intentops/hello") == ["intents/hello.yaml", "services/hello/keep.py"]


def test_a_second_workspace_continues_the_existing_branch(origin: Path, tmp_path: Path) -> None:
    args = {"branch": "intentops/hello", "base": "main", "folder": "services/hello", "message": "Build"}
    first = Workspace(tmp_path / "one", f"file://{origin}", {}, BOT).publish(files={"a": b"1"}, **args)
    second = Workspace(tmp_path / "two", f"file://{origin}", {}, BOT).publish(files={"a": b"2"}, **args)
    assert git("rev-parse", "intentops/hello~1", cwd=origin) == first
    assert git("rev-parse", "intentops/hello", cwd=origin) == second


@pytest.mark.parametrize("bad", ["../escape", "/etc/passwd", "a/../../b"])
def test_paths_outside_the_repository_are_refused(origin: Path, tmp_path: Path, bad: str) -> None:
    workspace = Workspace(tmp_path / "ws", f"file://{origin}", {}, BOT)
    with pytest.raises(WorkspaceError, match="outside the repository"):
        workspace.publish(branch="b", base="main", folder="services/x", files={bad: b"x"}, message="m")
    with pytest.raises(WorkspaceError, match="outside the repository"):
        workspace.publish(branch="b", base="main", folder=bad, files={"a": b"x"}, message="m")
    assert "b" not in git("branch", "--list", cwd=origin)


def test_git_failures_are_clear_and_carry_no_credentials(tmp_path: Path) -> None:
    env = auth_environment("bot", "ghp_supersecrettoken")
    workspace = Workspace(tmp_path / "ws", f"file://{tmp_path}/missing.git", env, BOT)
    with pytest.raises(WorkspaceError) as caught:
        workspace.publish(branch="b", base="main", folder="s", files={"a": b"1"}, message="m")
    assert str(caught.value).startswith("git fetch failed")
    assert "supersecret" not in str(caught.value)
    assert "supersecret" not in (tmp_path / "ws" / ".git" / "config").read_text()


def test_auth_travels_as_a_header_not_in_the_url() -> None:
    env = auth_environment("bot", "tok")
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert env["GIT_CONFIG_VALUE_0"] == "Authorization: Basic Ym90OnRvaw=="


def test_add_files_leaves_the_rest_of_the_tree(origin: Path, tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws", f"file://{origin}", {}, BOT)
    sha = workspace.add_files(
        branch="intentops/intent-12", base="main", files={"intents/notes.yaml": b"x: 1\n"}, message="Add"
    )
    assert sha
    assert files_on(origin, "intentops/intent-12") == ["intents/hello.yaml", "intents/notes.yaml"]
    with pytest.raises(WorkspaceError, match="outside the repository"):
        workspace.add_files(branch="b", base="main", files={"../x": b""}, message="m")


def test_export_copies_a_folder_as_it_was_at_a_commit(origin: Path, tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws", f"file://{origin}", {}, BOT)
    args = {"branch": "intentops/hello", "base": "main", "folder": "services/hello", "message": "Build"}
    first = workspace.publish(files={"app.py": b"v1", "gone.py": b"x"}, **args)
    workspace.publish(files={"app.py": b"v2"}, **args)
    assert first
    exported = workspace.export(first, "services/hello", tmp_path / "out")
    assert (exported / "app.py").read_bytes() == b"v1"
    assert (exported / "gone.py").exists()
    again = workspace.export("intentops/hello", "services/hello", tmp_path / "out")
    assert sorted(p.name for p in again.iterdir()) == ["app.py"]
    with pytest.raises(WorkspaceError, match="does not exist"):
        workspace.export(first, "services/other", tmp_path / "out2")


def test_a_worker_killed_mid_git_leaves_nothing_that_blocks_the_next_publish(
    origin: Path, tmp_path: Path
) -> None:
    workspace = Workspace(tmp_path / "ws", f"file://{origin}", {}, BOT)
    args = {"branch": "intentops/hello", "base": "main", "folder": "services/hello", "message": "Build"}
    workspace.publish(files={"a.txt": b"1\n"}, **args)  # type: ignore[arg-type]
    # What SIGKILL during `git checkout` / `git add` leaves: git's lock files and a half-written tree.
    (tmp_path / "ws" / ".git" / "index.lock").write_bytes(b"")
    (tmp_path / "ws" / ".git" / "HEAD.lock").write_bytes(b"")
    (tmp_path / "ws" / ".git" / "logs" / "HEAD.lock").write_bytes(b"")  # GitPython's, for the reflog
    (tmp_path / "ws" / "services" / "hello" / "a.txt").write_text("half written")
    (tmp_path / "ws" / "stray.tmp").write_text("left over")

    sha = Workspace(tmp_path / "ws", f"file://{origin}", {}, BOT).publish(files={"a.txt": b"2\n"}, **args)  # type: ignore[arg-type]

    assert sha == git("rev-parse", "intentops/hello", cwd=origin)
    assert git("show", "intentops/hello:services/hello/a.txt", cwd=origin) == "2"
    assert files_on(origin, "intentops/hello") == ["intents/hello.yaml", "services/hello/a.txt"]


def test_a_damaged_working_copy_is_cloned_again(origin: Path, tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws", f"file://{origin}", {}, BOT)
    args = {"branch": "intentops/hello", "base": "main", "folder": "services/hello", "message": "Build"}
    workspace.publish(files={"a.txt": b"1\n"}, **args)  # type: ignore[arg-type]
    (tmp_path / "ws" / ".git" / "index").write_bytes(b"DIRC garbage")  # a torn index file

    sha = workspace.publish(files={"a.txt": b"3\n"}, **args)  # type: ignore[arg-type]

    assert sha == git("rev-parse", "intentops/hello", cwd=origin)
    assert git("show", "intentops/hello:services/hello/a.txt", cwd=origin) == "3"


def test_a_working_copy_that_is_no_repository_any_more_is_cloned_again(origin: Path, tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws", f"file://{origin}", {}, BOT)
    args = {"branch": "intentops/hello", "base": "main", "folder": "services/hello", "message": "Build"}
    workspace.publish(files={"a.txt": b"1\n"}, **args)  # type: ignore[arg-type]
    (tmp_path / "ws" / ".git" / "HEAD").unlink()  # killed while git rewrote HEAD

    assert workspace.publish(files={"a.txt": b"4\n"}, **args) is not None  # type: ignore[arg-type]
    assert git("show", "intentops/hello:services/hello/a.txt", cwd=origin) == "4"


def _publish_together(workspace_dir: Path, origin: Path, changes: list[tuple[str, bytes]]) -> list[object]:
    """Publish each (branch, content) from its own thread, in order, while the working copy is busy, so all
    of them queue; the results (a SHA, None or the error) in the same order."""
    results: list[object] = [None] * len(changes)
    key = workspace_dir.resolve()

    def publish(index: int, branch: str, content: bytes) -> None:
        workspace = Workspace(workspace_dir, f"file://{origin}", {}, BOT)
        try:
            results[index] = workspace.publish(
                branch=branch, base="main", folder="services/s", files={"a.txt": content}, message=branch
            )
        except WorkspaceError as exc:
            results[index] = exc

    Workspace(workspace_dir, f"file://{origin}", {}, BOT)  # makes the copy's lock
    busy = Workspace._locks[key]
    threads = [threading.Thread(target=publish, args=(n, *change)) for n, change in enumerate(changes)]
    with busy:  # another build holds the working copy
        for queued, thread in enumerate(threads, start=1):
            thread.start()  # each queued before the next starts: the batch's order is the list's
            deadline = time.monotonic() + 30
            while len(Workspace._waiting.get(key, [])) < queued:
                assert time.monotonic() < deadline, "the publishes did not queue"
                time.sleep(0.01)
    for thread in threads:
        thread.join(timeout=60)
    return results


def _pushes(origin: Path) -> list[str]:
    log = origin / "pushes.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def counted_origin(origin: Path) -> Path:
    """`origin` counting its pushes (one line per push, the refs it updated) and refusing `refused/*`."""
    hooks = origin / "hooks"
    (hooks / "post-receive").write_text(
        f'#!/bin/sh\ncut -d" " -f3 | tr "\\n" " " >> {origin}/pushes.log\necho >> {origin}/pushes.log\n'
    )
    (hooks / "update").write_text('#!/bin/sh\ncase "$1" in refs/heads/refused/*) exit 1;; esac\n')
    for hook in ("post-receive", "update"):
        (hooks / hook).chmod(0o755)
    return origin


def test_builds_that_finish_together_share_one_fetch_and_one_push(
    counted_origin: Path, tmp_path: Path
) -> None:
    changes = [(f"intentops/s{n}", f"{n}\n".encode()) for n in range(5)]
    changes.append(("intentops/s0", b"again\n"))  # the same branch twice: the second builds on the first
    results = _publish_together(tmp_path / "ws", counted_origin, changes)

    assert all(isinstance(sha, str) for sha in results), results
    assert len(_pushes(counted_origin)) == 1, _pushes(counted_origin)
    for n in range(1, 5):
        assert git("rev-parse", f"intentops/s{n}", cwd=counted_origin) == results[n]
        assert git("show", f"intentops/s{n}:services/s/a.txt", cwd=counted_origin) == str(n)
    assert git("rev-parse", "intentops/s0", cwd=counted_origin) == results[5]
    assert git("rev-parse", "intentops/s0~1", cwd=counted_origin) == results[0]
    assert git("show", "intentops/s0:services/s/a.txt", cwd=counted_origin) == "again"


def test_a_branch_the_forge_refuses_fails_alone(counted_origin: Path, tmp_path: Path) -> None:
    results = _publish_together(
        tmp_path / "ws",
        counted_origin,
        [("intentops/ok", b"1\n"), ("refused/x", b"2\n"), ("intentops/ok2", b"3\n")],
    )
    assert isinstance(results[1], WorkspaceError) and "git push failed" in str(results[1]), results
    assert str(results[1]) == "git push failed: [remote rejected] (hook declined)"
    assert git("rev-parse", "intentops/ok", cwd=counted_origin) == results[0]
    assert git("rev-parse", "intentops/ok2", cwd=counted_origin) == results[2]
    assert "refused/x" not in git("branch", "--list", cwd=counted_origin)
    # A retry of the same files once the branch is allowed commits nothing new for the others.
    again = Workspace(tmp_path / "ws", f"file://{counted_origin}", {}, BOT)
    args = {"base": "main", "folder": "services/s", "message": "m"}
    assert again.publish(branch="intentops/ok", files={"a.txt": b"1\n"}, **args) is None  # type: ignore[arg-type]
