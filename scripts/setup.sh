#!/usr/bin/env bash
# Creates .venv from requirements.lock and installs the project into it. Idempotent: when the lock and
# pyproject.toml have not changed since the last successful run, it does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "setup: IntentOps needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
if ! command -v git >/dev/null; then
  echo "setup: git is required (apt-get install git)" >&2
  exit 1
fi

stamp=.venv/.intentops-setup
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-64)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/intentops ]; then
  exec ./scripts/wheelhouse.sh
fi

echo "setup: creating .venv and installing locked dependencies"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
.venv/bin/uv pip sync --quiet --python .venv/bin/python --require-hashes requirements.lock
.venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps -e .
echo "$want" > "$stamp"
./scripts/wheelhouse.sh
echo "setup: done (.venv)"
