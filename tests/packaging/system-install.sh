#!/usr/bin/env bash
# Suite 'packaging': the package on this machine itself, only where that is asked for and
# possible: root, systemd as PID 1, FOREST_PACKAGING_SYSTEM=1 (it installs a package and adds a
# system user here: CI machines only), and no nimsforest package installed already. Then:
# dpkg -i, start forest-server.service with a drop-in that moves it to ephemeral ports, check
# that it runs as the user nimsforest, that `systemctl reload` (SIGHUP) keeps the same process,
# stop; then the same for forest.service (the forest app) when the package has it; purge.
# Anything else: skipped (exit 77), with the reason.
#   system-install.sh SOURCE_ROOT BUILD_ROOT
# FOREST_DEB=path installs that package instead of building one (tests/packaging/container-boot.sh
# runs this script inside a booted Debian container that has no build tree).
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
app_dropin=/run/systemd/system/forest.service.d
cleanup() {
  systemctl stop forest-server.service forest.service 2>/dev/null || true
  rm -rf "$dropin" "$app_dropin"
  dpkg -P nimsforest >/dev/null 2>&1 || true
  systemctl daemon-reload || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# The real user of a process, by name (not ps -o user: it cuts names longer than 8 characters;
# not the owner of /proc/PID, which is root for a process that is not dumpable).
# A TCP port in 20000-39999 that nothing listens on (from /proc/net/tcp{,6}: no ss in a minimal root).
free_port() {
  local p hex
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    hex=$(printf ':%04X ' "$p")
    grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null || { echo "$p"; return; }
  done
  fail "no free port found"
}
user_of() { getent passwd "$(awk '/^Uid:/ {print $2}' "/proc/$1/status")" | cut -d: -f1; }

if [ -n "${FOREST_DEB:-}" ]; then
  deb="$FOREST_DEB"
else
  deb=$("$src/packaging/build-deb.sh" "$build" "$work/out" | tail -n 1)
fi
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
sleep 2  # Type=simple is active from the fork on (before the user switch); and past a crash at start
systemctl is-active --quiet forest-server.service || { journalctl -u forest-server --no-pager -n 50 >&2 || true; fail "forest-server.service is not active"; }
[ "$(systemctl show -p NRestarts --value forest-server.service)" = 0 ] || fail "forest-server.service restarted"
pid=$(systemctl show -p MainPID --value forest-server.service)
user=$(user_of "$pid")
[ "$user" = nimsforest ] || fail "forest-server runs as $user, not nimsforest"
echo "ok: forest-server.service active, pid $pid, user nimsforest"
systemctl reload forest-server.service || { journalctl -u forest-server --no-pager -n 30 >&2 || true; fail "reload"; }
sleep 1
systemctl is-active --quiet forest-server.service || fail "not active after reload"
[ "$(systemctl show -p MainPID --value forest-server.service)" = "$pid" ] || fail "reload restarted the process"
echo "ok: reload (SIGHUP) kept pid $pid"
systemctl stop forest-server.service || fail "stop"
echo "ok: forest-server.service stopped"

if [ -x /opt/nimsforest/bin/forest ]; then
  # No node-info here: a standalone forest node. An ephemeral client port, no monitoring port,
  # and a cluster port that nothing listens on (forest needs a fixed one: its peers dial it).
  mkdir -p "$app_dropin"
  cluster_port=$(free_port)
  cat > "$app_dropin/ephemeral-ports.conf" <<EOT
[Service]
ExecStart=
ExecStart=/opt/nimsforest/bin/forest run --client-port 0 --cluster-port $cluster_port --monitor-port -1
EOT
  systemctl daemon-reload
  systemctl start forest.service || { journalctl -u forest --no-pager -n 50 >&2 || true; fail "start forest"; }
  for _ in $(seq 100); do
    systemctl is-active --quiet forest.service && break
    sleep 0.1
  done
  sleep 2  # as above
  systemctl is-active --quiet forest.service || { journalctl -u forest --no-pager -n 50 >&2 || true; fail "forest.service is not active"; }
  pid=$(systemctl show -p MainPID --value forest.service)
  [ "$(systemctl show -p NRestarts --value forest.service)" = 0 ] || fail "forest.service restarted"
  user=$(user_of "$pid")
  [ "$user" = nimsforest ] || fail "forest runs as $user, not nimsforest"
  [ -d /var/lib/nimsforest/jetstream ] || fail "no /var/lib/nimsforest/jetstream"
  echo "ok: forest.service active, pid $pid, user nimsforest"
  systemctl reload forest.service || { journalctl -u forest --no-pager -n 30 >&2 || true; fail "reload forest"; }
  sleep 1
  systemctl is-active --quiet forest.service || fail "forest not active after reload"
  [ "$(systemctl show -p MainPID --value forest.service)" = "$pid" ] || fail "reload restarted forest"
  echo "ok: forest reload (SIGHUP) kept pid $pid"
  systemctl stop forest.service || fail "stop forest"
  echo "ok: forest.service stopped"
else
  echo "note: the package has no forest binary; forest.service not started"
fi
dpkg -P nimsforest || fail "dpkg -P"
echo "ok: stopped and purged"
