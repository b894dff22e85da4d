#!/usr/bin/env bash
# Hostile-client benchmark (issue 6): installs what is missing, builds, and runs
# `forest-bench hostile`: every attack against forest-server (one I/O thread) and nats-server
# (GOMAXPROCS=1), a fresh server per attack, ABBA over 3 rounds, while a bystander client pings
# every 5 ms. Writes bench-results/hostile-<date>/hostile.{txt,json,csv}. Extra arguments go to
# forest-bench hostile (later ones win), e.g.
#   scripts/hostile-bench.sh --rounds 1 --attack sub-churn,slow-subscriber
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
out="bench-results/hostile-$(date -u +%Y%m%d-%H%M%S)"
exec build/bench/forest-bench hostile --rounds 3 --out "$out" "$@"
