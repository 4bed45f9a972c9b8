#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the `postgres` tests and print the
# export line for WINDOWQA_TEST_PG_URL. Source-friendly:  eval "$(bash scripts/pg-test-server.sh start)"
#   start [DIR]  initdb (trust auth, loopback only) + pg_ctl start + createdb; prints `export ...`
#   stop [DIR]   pg_ctl stop
# Runs the server as the `postgres` user when called as root (initdb refuses root).
set -euo pipefail
action=${1:-start}
dir=${2:-${WINDOWQA_PG_DIR:-/tmp/windowqa-pg}}
port=${WINDOWQA_PG_PORT:-55432}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ]; then
  echo "pg-test-server: PostgreSQL is not installed (scripts/setup-system.sh installs it)" >&2
  exit 1
fi
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$action" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_pg "$bindir/initdb" -D "$dir/data" -U windowqa -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off" start >&2 \
        || { cat "$dir/server.log" >&2; exit 1; }
    fi
    "$bindir/psql" -h 127.0.0.1 -p "$port" -U windowqa -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='windowqa_test'" | grep -q 1 \
      || "$bindir/createdb" -h 127.0.0.1 -p "$port" -U windowqa windowqa_test
    echo "export WINDOWQA_TEST_PG_URL=postgresql+psycopg://windowqa@127.0.0.1:$port/windowqa_test"
    ;;
  stop)
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast stop >&2 || true
    ;;
  *)
    echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac
