"""The embedded forge's speed, against baselines measured in the same run.

    .venv/bin/python bench/bench_forge.py [--runs 30] [--clones 50]

- PR create and PR get through PyGithub (retry=None, no pacing), against GET /user (the cheapest
  authenticated REST call: HTTP, auth and one row, no git).
- Push of a small commit until its `push` webhook is received on 127.0.0.1, against the same `git push`
  with no webhook configured.
- N concurrent clones of a small repository, against one clone alone.
Targets (issue 4): PR create and get under 20 ms median; push to webhook under 150 ms median;
50 concurrent clones without error.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from github import Auth, Github  # noqa: E402

from forge.admin import Account  # noqa: E402
from forge.server import ForgeServer  # noqa: E402

GIT_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=cwd, env={**GIT_ENV, "HOME": str(cwd)}, check=True, capture_output=True
    )


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


class PushWaiter(BaseHTTPRequestHandler):
    """Signals each received `push` delivery."""

    arrived = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()
        if self.headers.get("X-GitHub-Event") == "push":
            PushWaiter.arrived.set()

    def log_message(self, format: str, *args: object) -> None:
        return


def bench_pulls(server: ForgeServer, account: Account, runs: int) -> None:
    gh = Github(
        auth=Auth.Token(account.token),
        base_url=server.api_url,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    repo = gh.get_repo("bench/pulls")
    base = repo.get_branch("main").commit.sha
    for n in range(runs):
        repo.create_git_ref(f"refs/heads/b{n}", base)
        repo.create_file(f"f{n}.txt", f"file {n}", f"{n}\n", branch=f"b{n}")
    user = timed(lambda: gh.get_user().login, runs)  # .login forces the request (PyGithub is lazy)
    numbers: list[int] = []
    create = timed(
        lambda: numbers.append(
            repo.create_pull(title="t", body="", head=f"b{len(numbers)}", base="main").number
        ),
        runs,
    )
    get = timed(lambda: repo.get_pull(numbers[0]).mergeable, runs)
    baseline = statistics.median(user)
    print(f"GET /user (baseline)      {median_ms(user):7.1f} ms median")
    for label, samples in (("PR create", create), ("PR get", get)):
        verdict = "ok" if median_ms(samples) < 20 else "MISSED"
        ratio = statistics.median(samples) / baseline
        print(f"{label:<25} {median_ms(samples):7.1f} ms median  x{ratio:.1f}  target < 20 ms: {verdict}")


def local_push_baseline(workdir: Path, runs: int) -> list[float]:
    """The same small push to a bare repository on disk: what git costs without the forge."""
    git(workdir, "init", "--quiet", "--bare", "--initial-branch=main", "local.git")
    git(workdir, "clone", "--quiet", str(workdir / "local.git"), "local")
    clone = workdir / "local"
    counter = iter(range(10**6))

    def push() -> None:
        n = next(counter)
        (clone / "n.txt").write_text(f"{n}\n")
        git(clone, "add", "n.txt")
        git(clone, "-c", "user.name=b", "-c", "user.email=b@x", "commit", "--quiet", "-m", f"n{n}")
        git(clone, "push", "--quiet", "origin", "HEAD:main")

    return timed(push, runs)


def bench_push(server: ForgeServer, account: Account, workdir: Path, runs: int) -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), PushWaiter)
    threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    clone = workdir / "push-clone"
    git(workdir, "clone", "--quiet", server.admin.clone_url("bench/push", account), str(clone))
    counter = iter(range(10**6))

    def push() -> None:
        n = next(counter)
        (clone / "n.txt").write_text(f"{n}\n")
        git(clone, "-c", "user.name=b", "-c", "user.email=b@x", "commit", "--quiet", "-am", f"n{n}")
        git(clone, "push", "--quiet", "origin", "main")

    (clone / "n.txt").write_text("start\n")
    git(clone, "add", "n.txt")
    local = local_push_baseline(workdir, runs)
    plain = timed(push, runs)
    server.admin.add_webhook(
        "bench/push", f"http://127.0.0.1:{receiver.server_address[1]}/", events_=["push"]
    )

    def push_and_wait() -> None:
        PushWaiter.arrived.clear()
        push()
        if not PushWaiter.arrived.wait(10):
            raise RuntimeError("push webhook not delivered within 10 s")

    hooked = timed(push_and_wait, runs)
    receiver.shutdown()
    ratio = statistics.median(hooked) / statistics.median(plain)
    print(f"git push to a file:// repo {median_ms(local):6.1f} ms median (git alone, no HTTP)")
    print(
        f"git push, no webhook      {median_ms(plain):7.1f} ms median (baseline)"
        f"  x{statistics.median(plain) / statistics.median(local):.2f} the file:// push"
    )
    print(
        f"push -> webhook received  {median_ms(hooked):7.1f} ms median  x{ratio:.2f}"
        f"  target < 150 ms: {'ok' if median_ms(hooked) < 150 else 'MISSED'}"
    )


def bench_clones(server: ForgeServer, account: Account, workdir: Path, count: int) -> None:
    url = server.admin.clone_url("bench/clone", account)

    def clone(n: int) -> float:
        started = time.perf_counter()
        git(workdir, "clone", "--quiet", url, str(workdir / f"clone-{n}"))
        return time.perf_counter() - started

    single = clone(-1)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(clone, range(count)))
    wall = time.perf_counter() - started
    print(f"one clone (baseline)      {single * 1000:7.1f} ms")
    print(
        f"{count} concurrent clones     {wall * 1000:7.1f} ms wall, slowest {max(results) * 1000:.0f} ms,"
        f" x{wall / single:.1f} one clone; {len(results)} of {count} succeeded"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--clones", type=int, default=50)
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} CPUs (other work on the machine inflates the times)")
    with tempfile.TemporaryDirectory(prefix="bench-forge-") as tmp:
        workdir = Path(tmp)
        with ForgeServer(workdir / "forge") as server:
            account = server.admin.create_user("bench")
            for name in ("pulls", "push", "clone"):
                server.admin.create_repo(f"bench/{name}")
            bench_pulls(server, account, args.runs)
            bench_push(server, account, workdir, args.runs)
            bench_clones(server, account, workdir, args.clones)


if __name__ == "__main__":
    main()
