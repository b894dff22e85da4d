#!/usr/bin/env bash
# Builds the fuzz targets with clang (libFuzzer + ASan + UBSan) and runs them for a bounded
# time: the protocol parser two thirds of it, CONNECT's JSON reader the rest.
# Usage: tests/fuzz/run.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
out=build-fuzz
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Ibroker)
mkdir -p "$out/corpus" "$out/corpus-connect"
cp -n tests/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
cp -n tests/fuzz/corpus-connect/* "$out/corpus-connect/" 2>/dev/null || true
clang++ "${flags[@]}" tests/fuzz/fuzz_parser.cpp broker/protocol/parser.cpp -o "$out/fuzz_parser"
clang++ "${flags[@]}" -DSIMDJSON_EXCEPTIONS=0 tests/fuzz/fuzz_connect.cpp broker/connect_options.cpp broker/protocol/parser.cpp \
  -lsimdjson -o "$out/fuzz_connect"
run() {
  "$1" -max_total_time="$2" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 "$3"
}
run "$out/fuzz_parser" $((seconds * 2 / 3)) "$out/corpus"
run "$out/fuzz_connect" $((seconds - seconds * 2 / 3)) "$out/corpus-connect"
