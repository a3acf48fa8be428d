"""The offline alignment scorer on the labelled sets, with the shipped policies and floor: the figures the
README's Governance section reports.

    .venv/bin/python bench/bench_alignment.py [--set FILE ...] [--misses]

By default both labelled sets of tests/governance/data/: alignment_set.yaml, and alignment_holdout.yaml
(written after the scorer's vocabulary was settled, and never used to tune it). For each label: aligned
intents not blocked, misaligned ones blocked, padded ones never auto-approved, injected ones flagged (and
never auto-approved); then findings on ordinary text, and how many padded intents the scorer rates 0.80 or
more (what padding would buy if a lexical score could grant auto-approval, which it cannot). Also the time
per decision. Exits 1 if a padded or injected intent was auto-approved or went unflagged.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.governance import LexicalScorer, load_floor, load_policies  # noqa: E402
from pipeline.governance.scorecard import Label, load_labelled_set, measure  # noqa: E402

DATA = ROOT / "tests" / "governance" / "data"
DEFAULT_SETS = [DATA / "alignment_set.yaml", DATA / "alignment_holdout.yaml"]
EXPECTED = {
    Label.ALIGNED: "not blocked",
    Label.MISALIGNED: "blocked",
    Label.PADDED: "never auto-approved",
    Label.INJECTED: "flagged, never auto-approved",
}
AUTO_THRESHOLD = 0.80


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, action="append", dest="sets", help="a labelled set (repeatable)")
    parser.add_argument("--misses", action="store_true", help="list the intents that missed, with scores")
    args = parser.parse_args()
    failed = [not report(path, misses=args.misses) for path in args.sets or DEFAULT_SETS]
    if any(failed):
        sys.exit(1)


def report(path: Path, *, misses: bool) -> bool:
    """Print one set's figures; False if a padded or injected intent was auto-approved."""
    labelled = load_labelled_set(path, root=ROOT)
    blueprint = labelled.blueprint.read_text(encoding="utf-8")
    started = time.perf_counter()
    card = measure(
        labelled,
        scorer=LexicalScorer(),
        policies=load_policies(ROOT / "policies"),
        floor=load_floor(None),
        blueprint=blueprint,
    )
    per_decision = (time.perf_counter() - started) / len(card.outcomes) * 1000
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:")
    for label, expected in EXPECTED.items():
        good, total = card.count(label)
        if total:
            print(f"  {label.value:<11} {expected:<29} {good:>3}/{total:<3} {card.rate(label):6.1%}")
        for miss in card.misses(label) if misses else ():
            print(f"      miss: {miss.service_name} score={miss.score} action={miss.action.value}")
    print(f"  findings on ordinary text (aligned + misaligned): {card.false_findings()}")
    high, padded = card.padded_scored_at_least(AUTO_THRESHOLD), card.count(Label.PADDED)[1]
    if padded:
        print(f"  padded scored >= {AUTO_THRESHOLD:.2f} by the lexical scorer: {high}/{padded}")
    print(f"  {per_decision:.2f} ms per decision")
    return all(len(card.misses(label)) == 0 for label in (Label.PADDED, Label.INJECTED))


if __name__ == "__main__":
    main()
