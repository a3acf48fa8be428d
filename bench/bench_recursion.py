"""The line before and after it improves itself: the same corpus through the built-in spec-builder and
through the adopted spec-builder-v2.

    .venv/bin/python bench/bench_recursion.py [--limit N]

The corpus is real work: the bundled example history (the intents `intentops shadow` replays) and the
example intents that are not stages themselves, at least 30. Two fresh lines on one machine, in one run:

- before: the line as shipped, every stage built in;
- after: the line that built spec-builder-v2 from its intent, proved it, and adopted it through the pull
  request two people approved (what `intentops demo --self-improve` does).

Each intent is pushed on its own and waited for (a pull request, or the SPEC below the gate, or blocked).
Prints, for each line, the median optimizer rounds of the SPECs built, the median time from push to pull
request (over the intents both lines opened one for), and the gate pass rate, then after / before ratios.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli.demo_cmd import TimelineRow, Watcher, commit_intent, timeline_rows  # noqa: E402
from bot.cli.selfimprove import ADOPTED, FOLLOWING_PATH, STAGE_PATH, drive, served_by  # noqa: E402
from bot.cli.stack import AUTHOR, REPO, Stack, port_or_free, start_stack  # noqa: E402
from bot.vcs.workspace import auth_environment  # noqa: E402
from pipeline.intents import load_intent  # noqa: E402
from pipeline.ledger import IntentRecord, IntentState, Stage  # noqa: E402
from pipeline.shadow import BUNDLED_HISTORY  # noqa: E402

MIN_CORPUS = 30
SETTLED = (
    IntentState.AWAITING_SIGNOFF,
    IntentState.APPROVED,
    IntentState.NEEDS_HUMAN,
    IntentState.BLOCKED,
    IntentState.INVALID,
    IntentState.FAILED,
)
WITH_PR = (IntentState.AWAITING_SIGNOFF, IntentState.APPROVED)
TIMEOUT_S = 300.0
TIMED = (Stage.RECEIVED, Stage.GOVERNED, Stage.SPEC, Stage.CODE, Stage.TESTS, Stage.PR)
"""Where the time from push to pull request goes: each stage's own time, as the demo's timeline gives it."""


def corpus() -> list[tuple[str, str]]:
    """(path, text) of each intent: the bundled history's, then the examples that are not stages."""
    history = yaml.safe_load(BUNDLED_HISTORY.read_text(encoding="utf-8"))
    found = {
        entry["path"]: entry["intent"]
        if isinstance(entry["intent"], str)
        else yaml.safe_dump(entry["intent"], sort_keys=False, allow_unicode=True)
        for entry in history["intents"]
    }
    for path in sorted((ROOT / "examples" / "intents").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if load_intent(text.encode(), source=str(path)).implements is None:
            found.setdefault(f"intents/{path.name}", text)
    reserved = {STAGE_PATH, FOLLOWING_PATH}
    return [(path, text) for path, text in found.items() if path not in reserved]


@dataclass
class Run:
    label: str
    rounds: list[int] = field(default_factory=list)
    reached: int = 0
    built: int = 0
    to_pr: dict[str, float] = field(default_factory=dict)
    served_by: set[str] = field(default_factory=set)
    stage_s: dict[str, list[float]] = field(default_factory=dict)
    """Seconds per stage (as the demo's timeline counts them) of the builds that opened a pull request."""
    tests: list[int] = field(default_factory=list)

    def add(
        self, path: str, record: IntentRecord, seconds: float, served: str, rows: list[TimelineRow]
    ) -> None:
        if record.state in WITH_PR:
            self.to_pr[path] = seconds
            for row in rows:
                self.stage_s.setdefault(row.stage, []).append(row.took_s)
        report = record.report
        if report is not None and report.tests is not None:
            self.tests.append(report.tests.passed + report.tests.failed)
        if report is None:
            return  # blocked or invalid: never built
        self.built += 1
        self.reached += report.spec.reached_gate
        self.rounds.append(max(len(report.spec.rounds) - 1, 0))
        if served:
            self.served_by.add(served)

    @property
    def gate_rate(self) -> float:
        return self.reached / self.built if self.built else 0.0


def _git(clone: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", *args], cwd=clone, env=env, check=True, capture_output=True)


def _settle(stack: Stack, path: str, after: str) -> IntentRecord:
    """The intent's record once the line is done with the commit `after` (a PR, below the gate, blocked)."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        record = stack.bot.line.ledger.find(REPO, path)
        if record is not None and record.commit_sha == after and record.state in SETTLED:
            return record
        time.sleep(0.05)
    raise SystemExit(f"{path} was not settled within {TIMEOUT_S:.0f}s")


def push_corpus(stack: Stack, data: Path, intents: list[tuple[str, str]], label: str) -> Run:
    env = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "HOME": str(data),
        "GIT_CONFIG_GLOBAL": "/dev/null",
        **auth_environment(AUTHOR, stack.credentials.tokens[AUTHOR]),
    }
    clone = data / f"clone-{label}"
    subprocess.run(["git", "clone", "-q", f"{stack.forge.url}/{REPO}.git", str(clone)], env=env, check=True)
    _git(clone, env, "config", "user.name", AUTHOR)
    _git(clone, env, "config", "user.email", f"{AUTHOR}@example.invalid")
    (clone / "intents").mkdir(exist_ok=True)
    run = Run(label)
    for number, (path, text) in enumerate(intents, 1):
        _git(clone, env, "pull", "-q", "--rebase", "origin", "main")
        (clone / path).write_text(text, encoding="utf-8")
        _git(clone, env, "add", path)
        _git(clone, env, "commit", "-qm", f"Add {path}")
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=clone, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        started, pushed_at = time.monotonic(), datetime.now(UTC)
        _git(clone, env, "push", "-q", "origin", "HEAD:main")
        record = _settle(stack, path, head)
        seconds = time.monotonic() - started
        rows = timeline_rows(stack.bot.line.ledger.history(record.id), pushed_at)
        run.add(path, record, seconds, served_by(stack, record), rows)
        print(f"  [{label} {number:2}/{len(intents)}] {path:<36} {record.state.value:<17} {seconds:5.1f}s")
    return run


def _line(data: Path) -> Stack:
    return start_stack(data, bot_port=port_or_free(0), forge_port=port_or_free(0))


def _adopt(stack: Stack) -> None:
    started = time.monotonic()
    watchers: dict[str, Watcher] = {}

    def watch(path: str, states: tuple[IntentState, ...]) -> IntentRecord:
        return watchers.setdefault(path, Watcher(stack, started, path)).wait(*states)

    if not drive(stack, commit=commit_intent, watch=watch):
        raise SystemExit(f"the line did not adopt {ADOPTED}: nothing to compare")


def _median(values: list[float] | list[int]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _mean(values: list[int]) -> float:
    return float(statistics.fmean(values)) if values else float("nan")


def _ratio(after: float, before: float) -> str:
    return f"{after / before:6.2f}x" if before else "     -"


def report(before: Run, after: Run) -> None:
    both = sorted(set(before.to_pr) & set(after.to_pr))
    rows = [
        ("median optimizer rounds", _median(before.rounds), _median(after.rounds), " "),
        ("mean optimizer rounds", _mean(before.rounds), _mean(after.rounds), " "),
        ("gate pass rate", before.gate_rate, after.gate_rate, " "),
        ("median push -> PR", _median(list(before.to_pr.values())), _median(list(after.to_pr.values())), "s"),
    ]
    for stage in TIMED:
        name = f"  median {stage.value} stage"
        rows.append(
            (
                name,
                _median(before.stage_s.get(stage.value, [])),
                _median(after.stage_s.get(stage.value, [])),
                "s",
            )
        )
    rows.append(("median tests per service", _median(before.tests), _median(after.tests), " "))
    if both:
        paired = (_median([before.to_pr[p] for p in both]), _median([after.to_pr[p] for p in both]))
        rows.append((f"  ... on the same {len(both)}", *paired, "s"))
    print()
    print(f"{'':<26}{'before':>10}{'after':>10}{'after/before':>14}")
    for name, old, new, unit in rows:
        print(f"{name:<26}{old:>9.2f}{unit}{new:>9.2f}{unit}{_ratio(new, old):>14}")
    print(
        f"\nSPECs built: before {before.built} ({before.reached} at the gate, "
        f"{len(before.to_pr)} pull requests), after {after.built} ({after.reached} at the gate, "
        f"{len(after.to_pr)} pull requests)"
    )
    print(f"spec-builder served by: before {sorted(before.served_by)}, after {sorted(after.served_by)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=0, help="push only the first N intents (a quick look)")
    args = parser.parse_args()
    intents = corpus()
    if len(intents) < MIN_CORPUS and not args.limit:
        raise SystemExit(f"the corpus has {len(intents)} intents, fewer than {MIN_CORPUS}")
    intents = intents[: args.limit] if args.limit else intents
    print(f"corpus: {len(intents)} intents (the bundled history and the examples)")
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch)
        runs: list[Run] = []
        for label in ("before", "after"):
            print(f"{label}: a fresh line" + (f", then it adopts {ADOPTED}" if label == "after" else ""))
            stack = _line(data / label)
            try:
                if label == "after":
                    _adopt(stack)
                runs.append(push_corpus(stack, data, intents, label))
            finally:
                stack.stop(undeploy=True)
        report(*runs)


if __name__ == "__main__":
    main()
