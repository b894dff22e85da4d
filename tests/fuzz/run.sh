#!/usr/bin/env bash
# Builds the fuzz targets with clang (libFuzzer + ASan + UBSan) and runs them for a bounded
# time: the protocol parser half of it, CONNECT's JSON reader and the JetStream API's request
# readers a quarter each.
# Usage: tests/fuzz/run.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
out=build-fuzz
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Ibroker)
for c in corpus corpus-connect corpus-js; do
  mkdir -p "$out/$c"
  cp -n tests/fuzz/$c/* "$out/$c/" 2>/dev/null || true
done
clang++ "${flags[@]}" tests/fuzz/fuzz_parser.cpp broker/protocol/parser.cpp -o "$out/fuzz_parser"
clang++ "${flags[@]}" -DSIMDJSON_EXCEPTIONS=0 tests/fuzz/fuzz_connect.cpp broker/connect_options.cpp broker/protocol/parser.cpp \
  -lsimdjson -o "$out/fuzz_connect"
# The JetStream readers use std::expected, which clang 14 cannot compile from libstdc++ 12: g++
# with ASan+UBSan and our mutation driver instead of libFuzzer.
g++ -std=c++23 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -Ibroker -DSIMDJSON_EXCEPTIONS=0 \
  tests/fuzz/mutate_main.cpp tests/fuzz/fuzz_js_config.cpp broker/jetstream/stream_config.cpp \
  broker/jetstream/consumer_config.cpp broker/jetstream/api_request.cpp broker/jetstream/api_errors.cpp \
  broker/subject_transform.cpp broker/subject.cpp broker/time_text.cpp -lsimdjson -lfmt -o "$out/fuzz_js_config"
run() {
  "$1" -max_total_time="$2" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 "$3"
}
run "$out/fuzz_parser" $((seconds / 2)) "$out/corpus"
run "$out/fuzz_connect" $((seconds / 4)) "$out/corpus-connect"
"$out/fuzz_js_config" $((seconds - seconds / 2 - seconds / 4)) "$out/corpus-js"
