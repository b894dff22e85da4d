#!/usr/bin/env bash
# Builds the parser fuzz target with clang (libFuzzer + ASan + UBSan) and runs it for a
# bounded time. Usage: tests/fuzz/run.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
out=build-fuzz
mkdir -p "$out/corpus"
cp -n tests/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Ibroker tests/fuzz/fuzz_parser.cpp broker/protocol/parser.cpp -o "$out/fuzz_parser"
"$out/fuzz_parser" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 "$out/corpus"
