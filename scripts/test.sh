#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest. Called by `make test` (and so by .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/system-deps.sh

echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
# Three workers on two cores: the flow, Docker and browser tests spend much of their time waiting on the
# processes they start (measured: 572 s with two workers, 504 s with three, in the same conditions).
.venv/bin/pytest -n 3 --dist loadgroup --durations=20 "$@"
