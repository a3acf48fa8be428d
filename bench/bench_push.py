"""Many intents in one push: time until the last pull request is open, and the line's CPU per intent.

    .venv/bin/python bench/bench_push.py [--intents 100] [--runs 1]

A fresh line (the embedded forge and the bot, offline, local deployer) in this process. One commit adds
`--intents` intent files (tier 2, with resource hints, so each is governed, specified, generated and its
tests run in the sandbox, and waits for a person's sign-off on its pull request). Baseline, in the same
run: a bare `git push` of the same commit to a repository of the same forge that has no webhook.

Printed: time from the push until the last pull request is open, its ratio to the bare push, and the
line's CPU seconds per intent: user + system time of this process (the forge and the bot, every thread)
and of every process it started and waited for (git on both sides, the sandboxes' pytest runs), from
the kernel's accounting, minus what the pushing `git` client itself used.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli.stack import AUTHOR, OWNER, REPO, Stack, port_or_free, start_stack  # noqa: E402
from bot.vcs.workspace import auth_environment  # noqa: E402

BARE_REPO = f"{OWNER}/bare-push"
"""The baseline's repository: the same forge, no webhook, so a push there costs only git and the forge."""
TIMEOUT_S = float(os.environ.get("BENCH_PUSH_TIMEOUT", "900"))
INTENT = """\
service_name: {name}
purpose: Keep the team's {noun} records in one place, with a title and a note, so everyone can share them.
tier: 2
blueprint_context: Shared internal tools for the team.
storage: sqlite
resources:
  - name: {noun}
    fields: {{title: string, note: string, stars: integer}}
    required: [title]
"""
NOUNS = ("bookmark", "recipe", "snippet", "contact", "meeting", "ticket", "reading", "idea")


@dataclass(frozen=True)
class Usage:
    """CPU seconds (user + system) of this process and of its children that were waited for."""

    cpu: float

    @classmethod
    def now(cls) -> Usage:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime)


@dataclass(frozen=True)
class Run:
    bare_s: float
    to_last_pr_s: float
    cpu_per_intent_s: float
    intents: int


def git(clone: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", *args], cwd=clone, env=env, check=True, capture_output=True)


def timed_push(clone: Path, env: dict[str, str], remote: str, ref: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the git client and its children) of one `git push`."""
    started = time.monotonic()
    process = subprocess.Popen(
        ["git", "push", "-q", remote, f"HEAD:{ref}"], cwd=clone, env=env, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        message = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise SystemExit(f"git push to {remote} failed: {message}")
    return elapsed, usage.ru_utime + usage.ru_stime


def intent_files(count: int) -> dict[str, str]:
    files = {}
    for n in range(count):
        noun = NOUNS[n % len(NOUNS)]
        name = f"{noun}s-{n:03d}"
        files[f"intents/{name}.yaml"] = INTENT.format(name=name, noun=noun)
    return files


def opened(stack: Stack, paths: set[str]) -> int:
    records = stack.bot.line.ledger.list_intents(limit=len(paths) + 50)
    return sum(1 for r in records if r.repo == REPO and r.path in paths and r.pr_number is not None)


def one_run(count: int) -> Run:
    with tempfile.TemporaryDirectory(prefix="bench-push-") as scratch:
        data = Path(scratch)
        stack = start_stack(
            data / "line", bot_port=port_or_free(0), forge_port=port_or_free(0), merge_on_signoff=False
        )
        try:
            return measure(stack, data, count)
        finally:
            stack.stop(undeploy=True)


def measure(stack: Stack, data: Path, count: int) -> Run:
    stack.forge.admin.create_repo(BARE_REPO)
    stack.forge.admin.add_collaborator(BARE_REPO, AUTHOR, "write")
    env = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "HOME": str(data),
        "GIT_CONFIG_GLOBAL": "/dev/null",
        **auth_environment(AUTHOR, stack.credentials.tokens[AUTHOR]),
    }
    clone = data / "clone"
    subprocess.run(["git", "clone", "-q", f"{stack.forge.url}/{REPO}.git", str(clone)], env=env, check=True)
    git(clone, env, "config", "user.name", AUTHOR)
    git(clone, env, "config", "user.email", f"{AUTHOR}@example.invalid")
    git(clone, env, "remote", "add", "bare", f"{stack.forge.url}/{BARE_REPO}.git")
    files = intent_files(count)
    for path, text in files.items():
        (clone / path).parent.mkdir(parents=True, exist_ok=True)
        (clone / path).write_text(text)
    git(clone, env, "add", ".")
    git(clone, env, "commit", "-qm", f"Add {count} intents")
    bare_s, _ = timed_push(clone, env, "bare", "refs/heads/baseline")  # a new branch: all the objects

    before = Usage.now()
    started = time.monotonic()
    _, client_cpu = timed_push(clone, env, "origin", "main")
    paths = set(files)
    deadline = started + TIMEOUT_S
    while (done := opened(stack, paths)) < count:
        if time.monotonic() > deadline:
            states = stack.bot.line.ledger.counts_by_state()
            jobs = stack.bot.app.state.context.queue.counts()
            raise SystemExit(f"{done} of {count} pull requests open after {TIMEOUT_S:.0f}s: {states} {jobs}")
        time.sleep(0.25)
    to_last = time.monotonic() - started
    cpu = Usage.now().cpu - before.cpu - client_cpu
    return Run(bare_s=bare_s, to_last_pr_s=to_last, cpu_per_intent_s=cpu / count, intents=count)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--intents", type=int, default=100, help="intent files in the one push")
    parser.add_argument("--runs", type=int, default=1, help="fresh lines to measure (medians printed)")
    args = parser.parse_args()
    if args.intents < 1 or args.runs < 1:
        parser.error("--intents and --runs must be at least 1")
    runs = []
    for n in range(args.runs):
        run = one_run(args.intents)
        runs.append(run)
        print(
            f"run {n + 1}: bare push {run.bare_s * 1000:.0f} ms, last PR after {run.to_last_pr_s:.1f} s, "
            f"{run.cpu_per_intent_s:.2f} CPU s per intent",
            flush=True,
        )
    bare = statistics.median(r.bare_s for r in runs)
    last = statistics.median(r.to_last_pr_s for r in runs)
    cpu = statistics.median(r.cpu_per_intent_s for r in runs)
    print(f"{args.intents} intents in one push, {args.runs} run(s), medians, {os.cpu_count()} CPUs")
    print(f"bare git push of the same commit (baseline) {bare * 1000:10.0f} ms")
    ratio = f"({last / bare:.0f}x the baseline)"
    print(f"push -> last pull request open              {last * 1000:10.0f} ms  {ratio}")
    print(f"per intent                                   {last / args.intents * 1000:10.0f} ms")
    print(f"line CPU per intent (all processes)         {cpu:10.2f} s")


if __name__ == "__main__":
    main()
