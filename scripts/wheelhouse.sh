#!/usr/bin/env bash
# Prepares the wheelhouse of the generated services (their pinned dependencies, from requirements.lock)
# so that the sandbox, local deploys and Docker builds install offline. Needs the network the first time;
# afterwards it does nothing until requirements.lock changes.
set -euo pipefail
cd "$(dirname "$0")/.."

dir="${INTENTOPS_DATA_DIR:-.data}/wheelhouse"
want=$(sha256sum requirements.lock | cut -c1-64)
if [ -f "$dir/.lock-sha256" ] && [ "$(cat "$dir/.lock-sha256")" = "$want" ]; then
  exit 0
fi
.venv/bin/intentops wheelhouse --dir "$dir"
echo "$want" > "$dir/.lock-sha256"
