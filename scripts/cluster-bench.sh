#!/usr/bin/env bash
# Cross-route benchmark (issue 7): installs what is missing, builds, and runs
# `forest-bench cluster`: for every run a fresh 3-node cluster of forest-server or of
# nats-server 2.9.10 (ABBA over 5 rounds), publisher on node 0, subscribers on node 1 (1 and 4,
# 16 B and 1 KiB), a queue group over the three nodes, and the mesh formation time of 4 nodes.
# Writes bench-results/cluster-<date>/report.{html,json,csv}. Extra arguments go to
# forest-bench cluster (later ones win), e.g.
#   scripts/cluster-bench.sh --rounds 1 --suite quick
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
out="bench-results/cluster-$(date -u +%Y%m%d-%H%M%S)"
exec build/bench/forest-bench cluster --rounds 5 --out "$out" "$@"
