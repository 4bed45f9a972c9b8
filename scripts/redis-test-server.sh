#!/usr/bin/env bash
# Start a throw-away Redis (the Celery broker) on loopback for the worker tests and print the
# export line for WINDOWQA_TEST_REDIS_URL. Source-friendly:  eval "$(bash scripts/redis-test-server.sh start)"
#   start [DIR]  redis-server on 127.0.0.1:$WINDOWQA_REDIS_PORT (default: a free port), no persistence
#   stop [DIR]   shut it down
set -euo pipefail
action=${1:-start}
dir=${2:-${WINDOWQA_REDIS_DIR:-/tmp/windowqa-redis}}
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-test-server: redis-server is not installed (scripts/setup-system.sh installs it)" >&2
  exit 1
fi
case "$action" in
  start)
    mkdir -p "$dir"
    if [ -f "$dir/port" ] && redis-cli -h 127.0.0.1 -p "$(cat "$dir/port")" ping >/dev/null 2>&1; then
      port=$(cat "$dir/port")
    else
      port=${WINDOWQA_REDIS_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
      redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save "" --appendonly no \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2
      for _ in $(seq 50); do
        redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
        sleep 0.1
      done
      redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 || { cat "$dir/redis.log" >&2; exit 1; }
      echo "$port" >"$dir/port"
    fi
    echo "export WINDOWQA_TEST_REDIS_URL=redis://127.0.0.1:$port/0"
    ;;
  stop)
    if [ -f "$dir/port" ]; then
      redis-cli -h 127.0.0.1 -p "$(cat "$dir/port")" shutdown nosave >/dev/null 2>&1 || true
      rm -f "$dir/port"
    fi
    ;;
  *)
    echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac
