"""The whole line, offline: push -> PR opened, and merge -> healthy, for hello-world-like intents.

    .venv/bin/python bench/bench_line.py [--runs 5]

Each run pushes a new intent (tier 1, so a person signs off), waits for its pull request, approves and
merges it as the reviewer, and waits until the deployed service answers. Baseline, measured in the same
run against the same forge: a bare `git push` of a one-file commit (the floor of "push -> anything").
Prints medians and their ratios to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from github import Auth, Github

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli.stack import AUTHOR, REPO, REVIEWER, Stack, port_or_free, start_stack  # noqa: E402
from bot.vcs.workspace import auth_environment  # noqa: E402
from pipeline.ledger import IntentState  # noqa: E402

INTENT = """\
service_name: {name}
purpose: Say hello in several languages, to test the assembly line from intent to running service.
tier: 1
resources:
  - name: greeting
    fields: {{language: string, message: string}}
    required: [language]
"""


def git(clone: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", *args], cwd=clone, env=env, check=True, capture_output=True)


def wait(stack: Stack, path: str, state: IntentState, timeout: float = 300.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = stack.bot.line.ledger.find(REPO, path)
        if record is not None and record.state is state:
            return time.monotonic()
        time.sleep(0.05)
    raise SystemExit(f"{path} did not reach {state.value} within {timeout}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch)
        stack = start_stack(
            data / "line", bot_port=port_or_free(0), forge_port=port_or_free(0), merge_on_signoff=False
        )
        try:
            measure(stack, data, args.runs)
        finally:
            stack.stop(undeploy=True)


def measure(stack: Stack, data: Path, runs: int) -> None:
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
    reviewer = Github(
        auth=Auth.Token(stack.credentials.tokens[REVIEWER]),
        base_url=stack.forge.api_url,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    ).get_repo(REPO)
    bare, to_pr, to_healthy = [], [], []
    for run in range(runs):
        (clone / f"notes-{run}.txt").write_text("x\n")
        git(clone, env, "add", ".")
        git(clone, env, "commit", "-qm", "baseline")
        started = time.monotonic()
        git(clone, env, "push", "-q", "origin", "HEAD:main")
        bare.append(time.monotonic() - started)

        name = f"hello-{run}"
        path = f"intents/{name}.yaml"
        (clone / "intents").mkdir(exist_ok=True)
        (clone / path).write_text(INTENT.format(name=name))
        git(clone, env, "add", ".")
        git(clone, env, "commit", "-qm", f"Add {name}")
        started = time.monotonic()
        git(clone, env, "push", "-q", "origin", "HEAD:main")
        to_pr.append(wait(stack, path, IntentState.AWAITING_SIGNOFF) - started)

        record = stack.bot.line.ledger.find(REPO, path)
        assert record is not None and record.pr_number is not None
        pull = reviewer.get_pull(record.pr_number)
        pull.create_review(commit=reviewer.get_commit(pull.head.sha), event="APPROVE")
        wait(stack, path, IntentState.APPROVED)
        started = time.monotonic()
        pull.merge(merge_method="merge")
        done = wait(stack, path, IntentState.DEPLOYED)
        record = stack.bot.line.ledger.find(REPO, path)
        assert record is not None and httpx.get(f"{record.service_url}/health", timeout=10).status_code == 200
        to_healthy.append(done - started)
        git(clone, env, "pull", "-q", "--rebase", "origin", "main")
    base = statistics.median(bare)
    print(f"runs: {runs}")
    print(f"bare git push (baseline):  median {base * 1000:8.0f} ms")
    for label, values in (("push -> PR opened", to_pr), ("merge -> healthy", to_healthy)):
        median = statistics.median(values)
        print(f"{label:<26} median {median * 1000:8.0f} ms  ({median / base:6.1f}x the baseline)")


if __name__ == "__main__":
    main()
