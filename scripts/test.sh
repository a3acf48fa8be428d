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
.venv/bin/pytest -n 2 --dist loadgroup --durations=20 "$@"
