#!/usr/bin/env bash
# Suite 'packaging': systemd-analyze verify on both units. verify needs ExecStart's program to
# exist, so it checks copies whose ExecStart points at this build's binaries: app/forest-server,
# and app/forest when built, else /bin/true in its place (said so: the unit is checked, not the
# binary). Any output is a failure: verify exits 0 on an unknown key or a value it cannot
# parse, it only warns. Without systemd-analyze: skipped (exit 77).
#   verify-units.sh SOURCE_ROOT BUILD_ROOT
set -euo pipefail
src="$1"
build="$2"
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze is not installed"
  exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/nimsforest-units.XXXXXX")
trap 'rm -rf "$work"' EXIT

forest_bin="$build/app/forest"
if [ ! -x "$forest_bin" ]; then
  forest_bin=/bin/true
  echo "note: app/forest is not built: forest.service is verified with /bin/true as its program"
fi
# rewrite UNIT FROM TO: the copy of UNIT with ExecStart's program FROM replaced by TO
rewrite() {
  sed "s|^ExecStart=$2 |ExecStart=$3 |" "$src/packaging/systemd/$1" > "$work/$1"
  if ! grep -q "^ExecStart=$3 " "$work/$1"; then
    echo "FAIL: $1 has no 'ExecStart=$2 ...' line to point at the build" >&2
    exit 1
  fi
}
rewrite forest-server.service /opt/nimsforest/bin/forest-server "$build/app/forest-server"
rewrite forest.service /opt/nimsforest/bin/forest "$forest_bin"

rc=0
out=$(cd "$work" && systemd-analyze verify --man=no ./forest-server.service ./forest.service 2>&1) || rc=$?
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
  echo "FAIL: systemd-analyze verify (exit $rc):" >&2
  echo "$out" >&2
  exit 1
fi
echo "ok: systemd-analyze verify forest-server.service forest.service: no errors, no warnings"
