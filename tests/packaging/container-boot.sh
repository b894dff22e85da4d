#!/usr/bin/env bash
# The package's units started by systemd, where this machine has no systemd as PID 1: boots a
# Debian 12 container (systemd-nspawn, with systemd as the container's PID 1) and runs
# system-install.sh inside it against the package of this build dir: dpkg -i, both units
# started as the user nimsforest, reloaded, stopped, purged.
#   tests/packaging/container-boot.sh SOURCE_ROOT BUILD_ROOT
# Needs root, systemd-nspawn (systemd-container) and debootstrap, both installed here with
# apt-get when missing. The container's root is made once with debootstrap from the Debian
# mirror apt uses (minutes; then cached in $FOREST_ROOTFS, default /var/tmp/nimsforest-rootfs)
# and reset to that state on each run (the run itself works on a copy). Not in CI's suites: it
# downloads a Debian base system. Run by suite 'packaging' only with FOREST_PACKAGING_CONTAINER=1;
# otherwise skipped (exit 77).
set -euo pipefail
src="$(cd "$1" && pwd)"
build="$(cd "$2" && pwd)"
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "${FOREST_PACKAGING_CONTAINER:-}" = 1 ] || skip "set FOREST_PACKAGING_CONTAINER=1 to boot a Debian container (downloads a base system once)"
[ "$(id -u)" -eq 0 ] || skip "not root"

need=()
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null || fail "apt-get install ${need[*]}"
fi

base="${FOREST_ROOTFS:-/var/tmp/nimsforest-rootfs}"
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror="${mirror:-http://deb.debian.org/debian}"
if [ ! -x "$base/lib/systemd/systemd" ]; then
  rm -rf "$base.partial"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$base.partial" "$mirror" \
    > "$base.debootstrap.log" 2>&1 || fail "debootstrap (log: $base.debootstrap.log)"
  mv "$base.partial" "$base"
fi

work=$(mktemp -d "${TMPDIR:-/var/tmp}/nimsforest-container.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
deb=$("$src/packaging/build-deb.sh" "$build" "$work/out" | tail -n 1)
root="$work/root"
cp -a "$base" "$root"

# The package's dependencies from Debian, inside the container (dpkg -i does not fetch them).
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -e 's/(.*)//' -e 's/|.*//' -e 's/ //g' | grep -v '^$' | tr '\n' ' ')
cp /etc/resolv.conf "$root/etc/resolv.conf"
systemd-nspawn -q --keep-unit --register=no -D "$root" --pipe /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $deps" \
  > "$work/deps.log" 2>&1 || { cat "$work/deps.log" >&2; fail "installing $deps in the container"; }

install -D -m 0644 "$deb" "$root/root/nimsforest.deb"
install -D -m 0755 "$src/tests/packaging/system-install.sh" "$root/root/system-install.sh"
# A one-shot unit runs the test once the container has booted, then powers it off.
cat > "$root/etc/systemd/system/forest-selftest.service" <<'EOT'
[Unit]
Description=system-install.sh against the nimsforest package
After=multi-user.target
[Service]
Type=oneshot
Environment=FOREST_PACKAGING_SYSTEM=1 FOREST_DEB=/root/nimsforest.deb
ExecStart=/bin/sh -c '/root/system-install.sh /root /root > /root/selftest.log 2>&1; echo $? > /root/selftest.rc'
ExecStartPost=/bin/systemctl poweroff --no-block
[Install]
WantedBy=multi-user.target
EOT
ln -sf /etc/systemd/system/forest-selftest.service "$root/etc/systemd/system/multi-user.target.wants/forest-selftest.service"

timeout 300 systemd-nspawn -q --keep-unit --register=no -D "$root" -b --console=pipe > "$work/boot.log" 2>&1 || true
if [ ! -f "$root/root/selftest.rc" ]; then
  tail -n 40 "$work/boot.log" >&2
  fail "the container did not run the test (boot log above)"
fi
cat "$root/root/selftest.log"
rc=$(cat "$root/root/selftest.rc")
[ "$rc" = 0 ] || fail "system-install.sh in the container exited $rc"
grep -q '^ok: forest-server.service active' "$root/root/selftest.log" || fail "forest-server.service was not started"
echo "ok: in a booted Debian 12 container (systemd $(systemd-nspawn -q --keep-unit --register=no -D "$root" --pipe /bin/systemctl --version | head -n 1 | cut -d' ' -f2))"
