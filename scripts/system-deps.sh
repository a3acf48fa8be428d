#!/usr/bin/env bash
# Installs and starts what the tests and the demo need beyond Python packages. Idempotent: each part is
# skipped when it is already there. Parts are added by the features that need them.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v git >/dev/null || need_apt+=(git)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "system-deps: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- Docker (deploy): Debian's docker.io, dockerd started in the background, the local base image ---
./scripts/docker.sh
# --- end Docker ---

# --- PostgreSQL (job queue tests): Debian's postgresql, a throwaway cluster on 127.0.0.1 ---
./scripts/postgres.sh start >/dev/null
# --- end PostgreSQL ---

# --- Chromium (dashboard browser tests): Debian's chromium, driven by Playwright; no browser download ---
if [ ! -x /usr/bin/chromium ]; then
  echo "system-deps: installing chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# --- end Chromium ---
