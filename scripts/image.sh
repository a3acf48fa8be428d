#!/usr/bin/env bash
# Builds the images compose.yaml runs, on the local base image (scripts/docker.sh base-image), since no
# image registry is reachable from here:
#
#   scripts/image.sh runtime     intentops-runtime: the base with git, which the bot clones and pushes with
#                                (Debian's package, fetched once through the host's network)
#   scripts/image.sh bot         intentops-bot: IntentOps' wheel and its locked dependencies, installed on the
#                                host into the build context (offline, from uv's cache) and copied in
#   scripts/image.sh postgres    intentops-postgres: Debian's PostgreSQL on the base (its packages are fetched
#                                once, through the host's network; skipped when the image exists)
#   scripts/image.sh             all three (runtime and postgres only when missing)
#
# Environment: INTENTOPS_BASE_IMAGE (default intentops-base:bookworm), INTENTOPS_RUNTIME_IMAGE (default
# intentops-runtime:bookworm), INTENTOPS_BOT_IMAGE (default intentops-bot:latest), INTENTOPS_POSTGRES_IMAGE
# (default intentops-postgres:15), DEBIAN_MIRROR.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=${INTENTOPS_BASE_IMAGE:-intentops-base:bookworm}
BOT_IMAGE=${INTENTOPS_BOT_IMAGE:-intentops-bot:latest}
POSTGRES_IMAGE=${INTENTOPS_POSTGRES_IMAGE:-intentops-postgres:15}
RUNTIME_IMAGE=${INTENTOPS_RUNTIME_IMAGE:-intentops-runtime:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SOURCES=(bot pipeline forge templates policies monitors examples schemas scripts pyproject.toml setup.py MANIFEST.in README.md
  requirements.lock)

say() { echo "image.sh: $*" >&2; }

need_base() {
  if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "no base image $BASE_IMAGE: build it with scripts/docker.sh base-image"
    exit 1
  fi
}

bot_image() {
  local stage digest
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' RETURN
  mkdir -p "$stage/src" "$stage/context"
  for name in "${SOURCES[@]}"; do cp -r "$name" "$stage/src/"; done
  find "$stage/src" -name __pycache__ -prune -exec rm -rf {} +
  # Built once per set of sources: the image is labelled with their digest (and the runtime it is on).
  digest=$( (cd "$stage/src" && find . -type f -print0 | sort -z | xargs -0 sha256sum;
    cat "$OLDPWD/Dockerfile"; docker image inspect -f '{{.Id}}' "$RUNTIME_IMAGE") | sha256sum | cut -c1-64)
  if [ "$(docker image inspect -f '{{index .Config.Labels "org.intentops.sources"}}' "$BOT_IMAGE" 2>/dev/null)" \
    = "$digest" ]; then
    return 0
  fi
  .venv/bin/uv build -q --wheel --offline --no-build-isolation --python .venv/bin/python \
    -o "$stage/dist" "$stage/src"
  # Copies, not hard links into uv's cache: another install linking the same files would change them
  # under tar (file changed as we read it).
  .venv/bin/uv pip install -q --offline --link-mode copy --python .venv/bin/python --target "$stage/site" \
    -c requirements.lock "$stage"/dist/intentops-*.whl
  rm -rf "$stage/site/bin"  # console scripts name the host's interpreter; the image runs python3 -m
  # One archive, not thousands of files: the legacy builder sends and copies it much faster.
  tar -C "$stage/site" -cf "$stage/context/site.tar" .
  cp Dockerfile "$stage/context/Dockerfile"
  say "building $BOT_IMAGE"
  docker build -q --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE" --label "org.intentops.sources=$digest" \
    -t "$BOT_IMAGE" "$stage/context" >/dev/null
}

# Debian packages on the base, fetched through the host's network (builds cannot reach an index otherwise).
with_packages() {
  local image=$1 packages=$2 after=${3:-true}
  if docker image inspect "$image" >/dev/null 2>&1; then
    return 0
  fi
  say "building $image ($packages on $BASE_IMAGE)"
  docker build -q --network host -t "$image" - >/dev/null <<DOCKERFILE
FROM $BASE_IMAGE
RUN echo "deb $MIRROR bookworm main" > /etc/apt/sources.list \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
 && $after
DOCKERFILE
}

runtime_image() { with_packages "$RUNTIME_IMAGE" git; }

postgres_image() {
  # The data directory exists, owned by postgres, so a volume mounted there starts out postgres's.
  with_packages "$POSTGRES_IMAGE" postgresql-15 "rm -rf /var/lib/postgresql/15/main /etc/postgresql/15/main \
 && mkdir -p /var/lib/postgresql/data && chown postgres:postgres /var/lib/postgresql/data"
}

need_base
case "${1:-all}" in
  runtime) runtime_image ;;
  bot) runtime_image; bot_image ;;
  postgres) postgres_image ;;
  all) postgres_image; runtime_image; bot_image ;;
  *) say "unknown image '$1' (runtime, bot, postgres or all)"; exit 2 ;;
esac
