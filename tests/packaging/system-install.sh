#!/usr/bin/env bash
# Suite 'packaging': the package on this machine itself, only where that is asked for and
# possible: root, systemd as PID 1, FOREST_PACKAGING_SYSTEM=1 (it installs a package and adds a
# system user here: CI machines only), and no nimsforest package installed already. Then:
# dpkg -i, start forest-server.service with a drop-in that moves it to ephemeral ports, check
# that it runs as the user nimsforest, that `systemctl reload` (SIGHUP) keeps the same process,
# stop, purge. Anything else: skipped (exit 77), with the reason.
#   system-install.sh SOURCE_ROOT BUILD_ROOT
set -euo pipefail
src="$1"
build="$2"
skip() { echo "SKIP: $*"; exit 77; }
[ "${FOREST_PACKAGING_SYSTEM:-}" = 1 ] || skip "set FOREST_PACKAGING_SYSTEM=1 to install the package on this machine (CI only)"
[ "$(id -u)" -eq 0 ] || skip "not root"
[ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] || skip "systemd is not PID 1 (PID 1: $(cat /proc/1/comm 2>/dev/null))"
if dpkg-query -W -f='${Status}' nimsforest 2>/dev/null | grep -q installed; then
  skip "a nimsforest package is installed here already: not touching it"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nimsforest-system.XXXXXX")
dropin=/run/systemd/system/forest-server.service.d
cleanup() {
  systemctl stop forest-server.service 2>/dev/null || true
  rm -rf "$dropin"
  dpkg -P nimsforest >/dev/null 2>&1 || true
  systemctl daemon-reload || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

deb=$("$src/packaging/build-deb.sh" "$build" "$work/out" | tail -n 1)
dpkg -i "$deb" || fail "dpkg -i $deb"
mkdir -p "$dropin"
cat > "$dropin/ephemeral-ports.conf" <<EOT
[Service]
ExecStart=
ExecStart=/opt/nimsforest/bin/forest-server -c /etc/nimsforest/forest-server.conf -a 127.0.0.1 -p -1 -m -1
EOT
systemctl daemon-reload
systemctl start forest-server.service || { journalctl -u forest-server --no-pager -n 50 >&2 || true; fail "start"; }
for _ in $(seq 50); do
  systemctl is-active --quiet forest-server.service && break
  sleep 0.1
done
systemctl is-active --quiet forest-server.service || fail "forest-server.service is not active"
pid=$(systemctl show -p MainPID --value forest-server.service)
user=$(stat -c %U "/proc/$pid")  # not ps -o user: it cuts names longer than 8 characters
[ "$user" = nimsforest ] || fail "forest-server runs as $user, not nimsforest"
echo "ok: forest-server.service active, pid $pid, user nimsforest"
systemctl reload forest-server.service || fail "reload"
sleep 1
systemctl is-active --quiet forest-server.service || fail "not active after reload"
[ "$(systemctl show -p MainPID --value forest-server.service)" = "$pid" ] || fail "reload restarted the process"
echo "ok: reload (SIGHUP) kept pid $pid"
systemctl stop forest-server.service || fail "stop"
dpkg -P nimsforest || fail "dpkg -P"
echo "ok: stopped and purged"
