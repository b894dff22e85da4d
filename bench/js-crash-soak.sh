#!/usr/bin/env bash
# Soak of JetStream's crash safety: runs the kill -9 durability cases (publishes acknowledged
# in both sync modes, AckSync'd consumer acks on a work queue) N times in a row and stops at
# the first failure. CI runs each case once (meson test jetstream-durability); this is the
# longer loop. Usage: bench/js-crash-soak.sh [rounds=50] [build dir=build]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-50}"
build="${2:-build}"
ninja -C "$build" tests/jetstream-durability-tests app/forest-server >/dev/null
export FOREST_SERVER="${FOREST_SERVER:-$PWD/$build/app/forest-server}"
for i in $(seq "$rounds"); do
  if ! "$build/tests/jetstream-durability-tests" "[durability]" >"/tmp/js-crash-soak.$$.log" 2>&1; then
    echo "round $i of $rounds FAILED:"; tail -40 "/tmp/js-crash-soak.$$.log"; exit 1
  fi
  echo "round $i of $rounds ok"
done
rm -f "/tmp/js-crash-soak.$$.log"
