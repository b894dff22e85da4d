#!/usr/bin/env bash
# Builds the fuzz targets with clang (libFuzzer + ASan + UBSan) and runs them for a bounded
# time: the protocol parser two fifths of it; CONNECT's JSON reader, the JetStream API's request
# readers and the client port's TLS handshake a fifth each.
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
# The TLS handshake of the client port (and the certificate and DN readers behind verify_and_map),
# with the test suite's throwaway certificates; a DER certificate with every kind of SAN as a seed.
mkdir -p "$out/corpus-tls"
cp -n tests/fuzz/corpus-tls/* "$out/corpus-tls/" 2>/dev/null || true
if [ ! -f "$out/corpus-tls/certificate" ]; then
  { printf '\002'
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -days 1 \
      -subj "/C=US/O=Acme/OU=Eng/CN=carol/emailAddress=c@example.com/DC=example/DC=org" \
      -addext "subjectAltName=email:c@example.com,DNS:c.example.com,URI:spiffe://example/c,IP:127.0.0.1" \
      -outform DER 2>/dev/null
  } > "$out/corpus-tls/certificate"
fi
g++ -std=c++23 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -Ibroker -Itests/support \
  tests/fuzz/mutate_main.cpp tests/fuzz/fuzz_tls.cpp broker/tls.cpp broker/cert_identity.cpp tests/support/test_certs.cpp \
  -lssl -lcrypto -lfmt -lpthread -o "$out/fuzz_tls"
run() {
  "$1" -max_total_time="$2" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 "$3"
}
run "$out/fuzz_parser" $((seconds * 2 / 5)) "$out/corpus"
run "$out/fuzz_connect" $((seconds / 5)) "$out/corpus-connect"
"$out/fuzz_js_config" $((seconds / 5)) "$out/corpus-js"
# test_certs makes its scratch directory under the working directory: keep it in $out.
(cd "$out" && ./fuzz_tls $((seconds - seconds * 2 / 5 - seconds / 5 - seconds / 5)) corpus-tls)
