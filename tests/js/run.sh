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
# Accounts, permissions and an nkey user for security_test.mjs (a fresh key each run).
read -r nkey_seed nkey_public < <(node -e 'import("nats").then(({ nkeys }) => {
  const u = nkeys.createUser();
  console.log(new TextDecoder().decode(u.getSeed()) + " " + u.getPublicKey());
})')
cat >"$store/security.conf" <<EOF
accounts {
  A {
    users = [
      {user: limited, password: p, permissions: {
        publish: {allow: ["a.>", "_INBOX.>"]},
        subscribe: {allow: ["a.>", "_INBOX.>"], deny: ["a.secret"]}}}
      {user: a2, password: p}
      {nkey: $nkey_public}
    ]
  }
  B { users = [ {user: b, password: p} ] }
}
EOF
export NKEY_SEED="$nkey_seed"
# Certificates for tls_test.mjs: a CA, the server's (127.0.0.1, localhost), a client's, and
# a second CA that signed nothing of ours.
tls_dir="$store/tls"
mkdir -p "$tls_dir"
(
  cd "$tls_dir"
  for ca in ca other-ca; do
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$ca-key.pem" -out "$ca.pem" -days 2 -subj "/CN=$ca" 2>/dev/null
  done
  for who in server client; do
    openssl req -newkey rsa:2048 -nodes -keyout "$who-key.pem" -out "$who.csr" -subj "/CN=$who" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$who.ext"
    openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out "$who.pem" -days 2 \
      -extfile "$who.ext" 2>/dev/null
  done
)
cat >"$store/tls.conf" <<EOF
tls { cert_file: "$tls_dir/server.pem", key_file: "$tls_dir/server-key.pem", ca_file: "$tls_dir/ca.pem", verify: true }
EOF
export TLS_DIR="$tls_dir"
status=0
# FOREST_SKIP_ORACLE=1 (CI's sanitizer passes, tests/README.md): nats-server alone runs
# nothing of ours.
if [ "${FOREST_SKIP_ORACLE:-}" = 1 ]; then
  echo "FOREST_SKIP_ORACLE=1: nats.js against nats-server left out"
else
  run_against nats-server "$nats" client_test.mjs || status=1
  run_against nats-server "$nats" jetstream_test.mjs -js -sd "$store/nats" || status=1
  run_against nats-server "$nats" security_test.mjs -c "$store/security.conf" || status=1
  run_against nats-server "$nats" tls_test.mjs -c "$store/tls.conf" || status=1
fi
run_against forest-server "$forest" client_test.mjs || status=1
run_against forest-server "$forest" jetstream_test.mjs -js -sd "$store/forest" || status=1
run_against forest-server "$forest" security_test.mjs -c "$store/security.conf" || status=1
run_against forest-server "$forest" tls_test.mjs -c "$store/tls.conf" || status=1
exit "$status"
