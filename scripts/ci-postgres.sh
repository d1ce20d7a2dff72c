#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the store and API tests.
#
#   eval "$(scripts/ci-postgres.sh)"      # start (installing Debian's postgresql if missing)
#   python3 -m pytest tests/test_store.py  # now runs on PostgreSQL too
#   scripts/ci-postgres.sh stop            # stop it
#
# Prints one line on stdout, `export LLMPLAN_TEST_POSTGRES_URL=postgresql://...`, and its
# progress on stderr. The server listens on loopback only (port $LLMPLAN_PG_PORT, default
# 54329) with trust authentication, keeps its files in $LLMPLAN_PG_DIR (default
# /tmp/llmplan-pg-PORT) and runs as the postgres user when started by root. Running it
# again reuses a server that is already up.
set -euo pipefail

PORT="${LLMPLAN_PG_PORT:-54329}"
DATA="${LLMPLAN_PG_DIR:-/tmp/llmplan-pg-$PORT}"
USER_NAME="llmplan"
DATABASE="llmplan_test"
URL="postgresql://$USER_NAME@127.0.0.1:$PORT/$DATABASE"

say() { echo "ci-postgres: $*" >&2; }

pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -n "$dir" && -x "$dir/initdb" ]]; then echo "$dir"; fi
}

install_postgres() {
  if [[ "$(id -u)" != "0" ]]; then
    say "PostgreSQL is not installed; run as root or: sudo apt-get install -y postgresql"
    exit 1
  fi
  say "installing Debian's postgresql with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
}

# Run a PostgreSQL program as the user owning the data folder (never as root).
as_owner() {
  if [[ "$(id -u)" == "0" ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

BIN="$(pg_bin)"
if [[ -z "$BIN" ]]; then
  install_postgres
  BIN="$(pg_bin)"
  [[ -n "$BIN" ]] || { say "postgresql installed, but no initdb found"; exit 1; }
fi

if [[ "${1:-start}" == "stop" ]]; then
  if [[ -f "$DATA/PG_VERSION" ]]; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast stop >&2 || true
  fi
  exit 0
fi

running() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

start_server() {
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    say "creating a cluster in $DATA"
    rm -rf "$DATA"
    mkdir -p "$DATA"
    if [[ "$(id -u)" == "0" ]]; then chown postgres:postgres "$DATA"; fi
    chmod 700 "$DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U "$USER_NAME" -A trust -E UTF8 >/dev/null
  fi
  say "starting PostgreSQL on 127.0.0.1:$PORT"
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=off" start >&2
}

if ! running; then
  if ! start_server; then
    say "the server did not start; recreating $DATA (log: $DATA/server.log)"
    tail -n 20 "$DATA/server.log" >&2 2>/dev/null || true
    rm -rf "$DATA"
    start_server
  fi
fi

exists="$("$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")"
if [[ "$exists" != "1" ]]; then
  "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" "$DATABASE"
  say "created database $DATABASE"
fi
say "ready: $URL"
echo "export LLMPLAN_TEST_POSTGRES_URL=$URL"
