#!/usr/bin/env bash
# Docker for the Docker deployer and its tests: installs Debian's docker.io, starts dockerd in the
# background when no engine answers, and builds the base image once (debootstrap + docker import), since
# no image registry is reachable from here. Idempotent: every step is skipped when already done.
#
#   scripts/docker.sh                  all four steps
#   scripts/docker.sh engine           install and start the engine only
#   scripts/docker.sh base-image       build the base image only (the engine must be running)
#   scripts/docker.sh swarm            make the engine a one-node Swarm manager (the Swarm backend's tests)
#
# Environment: INTENTOPS_BASE_IMAGE (default intentops-base:bookworm), DEBIAN_MIRROR (default: the first
# URI in apt's sources, else deb.debian.org), INTENTOPS_DOCKER_CACHE (default /var/cache/intentops),
# DOCKER_HOST (the engine to use) and the proxy variables (http_proxy, HTTPS_PROXY, no_proxy, ...), which
# `intentops docker base-image` passes through.
set -euo pipefail

BASE_IMAGE=${INTENTOPS_BASE_IMAGE:-intentops-base:bookworm}
CACHE=${INTENTOPS_DOCKER_CACHE:-/var/cache/intentops}
LOG=${CACHE}/dockerd.log

say() { echo "docker.sh: $*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_engine() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  # compose.yaml's smoke test: Docker's compose plugin, else Debian's docker-compose
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

engine_up() { docker info >/dev/null 2>&1; }

start_engine() {
  if engine_up; then
    return 0
  fi
  as_root mkdir -p "$CACHE"
  say "starting dockerd (log: $LOG)"
  # No init system here: dockerd runs detached from this shell so it outlives the script.
  as_root setsid nohup dockerd >"$LOG" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    engine_up && return 0
    sleep 0.5
  done
  say "dockerd did not answer within 30 s; last lines of $LOG:" >&2
  tail -n 20 "$LOG" >&2 || true
  exit 1
}

debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local uri
  uri=$(grep -rhoE '^(URIs:|deb) +[^ ]*https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ \
    2>/dev/null | grep -oE 'https?://[^ ]+' | head -n 1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

build_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    return 0
  fi
  local tarball=${CACHE}/$(echo "$BASE_IMAGE" | tr ':/' '__').tar
  as_root mkdir -p "$CACHE"
  if [ ! -s "$tarball" ]; then
    local root
    root=$(mktemp -d "${CACHE}/rootfs.XXXXXX")
    say "bootstrapping Debian bookworm (minbase + python3) into $root; this takes a few minutes once"
    as_root debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      bookworm "$root" "$(debian_mirror)" >"${CACHE}/debootstrap.log" 2>&1 || {
      say "debootstrap failed; last lines of ${CACHE}/debootstrap.log:" >&2
      tail -n 20 "${CACHE}/debootstrap.log" >&2
      exit 1
    }
    # Smaller image: no apt lists, caches or docs.
    as_root rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* \
      "$root"/usr/share/man/* "$root"/usr/share/locale/*
    as_root tar -C "$root" -cf "$tarball.part" .
    as_root mv "$tarball.part" "$tarball"
    as_root rm -rf "$root"
  fi
  say "importing $BASE_IMAGE from $tarball"
  docker import --change 'CMD ["python3"]' "$tarball" "$BASE_IMAGE" >/dev/null
}

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || true; }

init_swarm() {
  if [ "$(swarm_state)" = "active" ]; then
    return 0
  fi
  # Advertised on loopback: a one-node swarm that no other machine can join. A real cluster is set up by
  # its operator (docker swarm init --advertise-addr <address the nodes reach>).
  say "initialising a one-node swarm (advertised on 127.0.0.1)"
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
}

case "${1:-all}" in
  engine) install_engine; start_engine ;;
  base-image) build_base_image ;;
  swarm) init_swarm ;;
  all) install_engine; start_engine; build_base_image; init_swarm ;;
  *) say "unknown step '$1' (engine, base-image, swarm or all)" >&2; exit 2 ;;
esac
