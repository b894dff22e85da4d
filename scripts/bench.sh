#!/usr/bin/env bash
# Compares forest-server with nats-server 2.9.10 side by side: installs what is missing, builds,
# runs `forest-bench compare` (ABBA order, 5 rounds by default), and writes the report to
# bench-results/<date>/report.html (+ .json, .csv). Extra arguments go to forest-bench compare,
# e.g. scripts/bench.sh --rounds 3 --suite quick
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
out="bench-results/$(date -u +%Y%m%d-%H%M%S)"
exec build/bench/forest-bench compare \
  --a "build/app/forest-server" \
  --b "/usr/sbin/nats-server" \
  --out "$out" "$@"
