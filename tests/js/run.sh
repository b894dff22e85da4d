#!/usr/bin/env bash
# Runs the nats.js checks against forest-server and against nats-server 2.9.10 (the reference),
# each started on a free port and stopped afterwards. Usage: tests/js/run.sh <forest-server>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# FOREST_TEST_SERVER (CI's sanitizer passes) wins over the build's own.
forest="$(realpath "${FOREST_TEST_SERVER:-${1:?path to forest-server}}")"
nats="${NATS_SERVER:-/usr/sbin/nats-server}"
cd "$here"
if [ ! -d node_modules/nats ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# run_against NAME BINARY SCRIPT [server args...]
run_against() {
  local name="$1" bin="$2" script="$3" log port pid status
  shift 3
  log="$(mktemp)"
  "$bin" -a 127.0.0.1 -p -1 "$@" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    port="$(grep -o 'Listening for client connections on [^ ]*' "$log" | sed 's/.*://')" || true
    [ -n "${port:-}" ] && break
    sleep 0.05
  done
  if [ -z "${port:-}" ]; then
    echo "$name did not start:"; cat "$log"; kill "$pid" 2>/dev/null || true; return 1
  fi
  echo "== nats.js $script against $name (port $port)"
  status=0
  NATS_URL="nats://127.0.0.1:$port" timeout 60 node "$script" || status=$?
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
  return "$status"
}

store="$(mktemp -d)"
trap 'rm -rf "$store"' EXIT
status=0
# FOREST_SKIP_ORACLE=1 (CI's sanitizer passes, tests/README.md): nats-server alone runs
# nothing of ours.
if [ "${FOREST_SKIP_ORACLE:-}" = 1 ]; then
  echo "FOREST_SKIP_ORACLE=1: nats.js against nats-server left out"
else
  run_against nats-server "$nats" client_test.mjs || status=1
  run_against nats-server "$nats" jetstream_test.mjs -js -sd "$store/nats" || status=1
fi
run_against forest-server "$forest" client_test.mjs || status=1
run_against forest-server "$forest" jetstream_test.mjs -js -sd "$store/forest" || status=1
exit "$status"
