#!/usr/bin/env bash
# The whole test suite: lint, then pytest with the type check beside it. Called by `make test` (and so by
# .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/system-deps.sh

echo "== ruff"
.venv/bin/ruff check .
# mypy (one core, ~20 s cold) runs beside pytest, whose slow tests leave a core waiting; its result is
# printed after the tests and fails the run the same way.
types=$(mktemp)
trap 'rm -f "$types"' EXIT
.venv/bin/mypy >"$types" 2>&1 &
mypy_pid=$!
echo "== pytest"
# Three workers on two cores: the flow, Docker and browser tests spend much of their time waiting on the
# processes they start (measured: 572 s with two workers, 504 s with three, in the same conditions).
status=0
.venv/bin/pytest -n 3 --dist loadgroup --durations=20 "$@" || status=$?
echo "== mypy"
mypy_status=0
wait "$mypy_pid" || mypy_status=$?
cat "$types"
if [ "$status" -ne 0 ]; then exit "$status"; fi
exit "$mypy_status"
