#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (the job queue runs on SQLite and PostgreSQL).
#
#   scripts/postgres.sh start   install Debian's postgresql if missing, start (or reuse) the cluster, print its URL
#   scripts/postgres.sh url     print the URL of the running cluster (exit 1 if it is not running)
#   scripts/postgres.sh stop    stop the cluster and delete its files
#
# The cluster lives in $INTENTOPS_PG_DIR (default /tmp/intentops-pg-<uid>), listens on 127.0.0.1 only, on a
# port free when it was created, and requires a password (random, kept in the cluster's directory, mode 600).
# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user. Idempotent and
# safe to call concurrently (a lock serialises callers). The URL is the last line on stdout.
set -euo pipefail

command=${1:-start}
dir=${INTENTOPS_PG_DIR:-/tmp/intentops-pg-$(id -u)}
data=$dir/data
role=intentops

say() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    return 1
  fi
  echo "$bin"
}

install_postgres() {
  if find_bin >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    say "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
    exit 1
  fi
  say "installing Debian's postgresql"
  apt-get update -qq
  # Debian's package starts a default cluster on 5432 where it can; ours is separate and ignores it.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

# Run a PostgreSQL tool as the cluster's owner.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_in_use() {
  python3 -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)' "$1"
}

url() {
  echo "postgresql+psycopg://$role:$(cat "$dir/password")@127.0.0.1:$(cat "$dir/port")/postgres"
}

running() {
  [ -f "$data/PG_VERSION" ] && as_owner "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1
}

init_cluster() {
  say "creating a cluster in $dir"
  rm -rf "$dir"
  mkdir -p "$dir/socket"
  python3 -c 'import secrets; print(secrets.token_hex(16))' >"$dir/password"
  chmod 600 "$dir/password"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres: "$dir"
  fi
  as_owner "$bin/initdb" -D "$data" -U "$role" --pwfile="$dir/password" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }
  free_port >"$dir/port"
}

start_cluster() {
  if [ ! -f "$data/PG_VERSION" ]; then
    init_cluster
  fi
  local port
  port=$(cat "$dir/port")
  if port_in_use "$port"; then
    # Something else took the port since the cluster was made: pick another one.
    free_port >"$dir/port"
    port=$(cat "$dir/port")
  fi
  # The server must not inherit the lock (fd 9), or it would hold it for its whole life.
  # fsync off: the cluster is thrown away, and tests need speed, not durability across power loss.
  as_owner "$bin/pg_ctl" start -D "$data" -w -t 60 -l "$dir/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/socket -c fsync=off -c max_connections=200" \
    >/dev/null 9>&- || {
    tail -n 20 "$dir/server.log" >&2
    exit 1
  }
}

case "$command" in
  start)
    install_postgres
    bin=$(find_bin)
    mkdir -p "$(dirname "$dir")"
    exec 9>"$dir.lock"
    flock 9
    running || start_cluster
    url
    ;;
  url)
    bin=$(find_bin) || exit 1
    running || { say "not running"; exit 1; }
    url
    ;;
  stop)
    bin=$(find_bin) || exit 0
    if running; then
      as_owner "$bin/pg_ctl" stop -D "$data" -m fast -w >/dev/null
    fi
    rm -rf "$dir"
    ;;
  *)
    say "usage: $0 start|url|stop"
    exit 2
    ;;
esac
