#!/usr/bin/env bash
# Suite 'packaging': builds the Debian package of this build dir with packaging/build-deb.sh,
# checks its control data, file list (modes, owners), maintainer scripts and units, then
# installs it with dpkg into a scratch root (dpkg --root, maintainer scripts run chrootless
# with DPKG_ROOT set) and checks the installed tree, the user, the data dir, a reinstall that
# keeps an edited conffile, remove and purge. Nothing on this machine changes: the postinst's
# useradd/groupadd must carry --prefix <scratch root> and systemctl must not be called (the
# wrappers below refuse and record anything else). Needs root for the install part; without
# root it re-runs itself under fakeroot when installed, else that part is skipped (said so).
#   check-deb.sh SOURCE_ROOT BUILD_ROOT
set -euo pipefail
src="$1"
build="$2"

if [ "$(id -u)" -ne 0 ] && [ -z "${FAKEROOTKEY:-}" ] && command -v fakeroot >/dev/null 2>&1; then
  echo "not root: running under fakeroot"
  exec fakeroot -- "$0" "$@"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nimsforest-pkg.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
check() { echo "ok: $*"; }
# expect WHAT COMMAND...: the check WHAT passes when COMMAND succeeds
expect() { local what=$1; shift; if "$@"; then check "$what"; else fail "$what"; fi; }
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  if [ "$2" = "$3" ]; then check "$1"; else fail "$1: expected '$2', got '$3'"; fi
}

# ---- the package
deb=$("$src/packaging/build-deb.sh" "$build" "$work/out" | tail -n 1)
[ -f "$deb" ] || { echo "FAIL: build-deb.sh made no package ($deb)" >&2; exit 1; }
version=$(meson introspect --projectinfo "$build" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
arch=$(dpkg --print-architecture)
expect_eq "package file name" "nimsforest_${version}_${arch}.deb" "$(basename "$deb")"
expect_eq "Package" nimsforest "$(dpkg-deb -f "$deb" Package)"
expect_eq "Version (meson project version)" "$version" "$(dpkg-deb -f "$deb" Version)"
expect_eq "Architecture" "$arch" "$(dpkg-deb -f "$deb" Architecture)"
depends=$(dpkg-deb -f "$deb" Depends)
for d in passwd procps libc6 librocksdb; do
  case ", $depends" in *", $d"*) check "Depends has $d" ;; *) fail "Depends lacks $d: $depends" ;; esac
done

# The file list, exactly: mode, owner, path. forest only when this build has it.
binaries=(forest-server)
if [ -x "$build/app/forest" ]; then binaries+=(forest); echo "note: app/forest is built, the package must have it"
else echo "note: app/forest is not built, the package must not have it"; fi
{
  for d in ./ ./etc/ ./etc/nimsforest/ ./lib/ ./lib/systemd/ ./lib/systemd/system/ ./opt/ ./opt/nimsforest/ \
           ./opt/nimsforest/bin/ ./opt/nimsforest/share/ ./opt/nimsforest/share/doc/; do
    echo "drwxr-xr-x root/root $d"
  done
  for b in "${binaries[@]}"; do echo "-rwxr-xr-x root/root ./opt/nimsforest/bin/$b"; done
  for f in ./etc/nimsforest/forest-server.conf ./lib/systemd/system/forest.service \
           ./lib/systemd/system/forest-server.service ./opt/nimsforest/share/doc/README.md \
           ./opt/nimsforest/share/doc/operator-guide.md; do
    echo "-rw-r--r-- root/root $f"
  done
} | sort > "$work/expected-files"
dpkg-deb -c "$deb" | awk '{ print $1, $2, $6 }' | sort > "$work/actual-files"
if diff -u "$work/expected-files" "$work/actual-files"; then check "file list, modes and owners"
else fail "file list, modes or owners differ (- expected, + in the package)"; fi

# Control files and maintainer scripts.
dpkg-deb -e "$deb" "$work/control"
expect_eq "conffiles" /etc/nimsforest/forest-server.conf "$(cat "$work/control/conffiles")"
for s in postinst prerm postrm; do
  if [ ! -f "$work/control/$s" ]; then fail "no $s"; continue; fi
  expect_eq "$s mode" 755 "$(stat -c %a "$work/control/$s")"
  if sh -n "$work/control/$s"; then check "$s: sh -n"; else fail "$s: sh -n"; fi
  if command -v shellcheck >/dev/null 2>&1; then
    if shellcheck -s sh "$work/control/$s"; then check "$s: shellcheck"; else fail "$s: shellcheck"; fi
  fi
done
for s in preinst config; do
  [ ! -e "$work/control/$s" ] || fail "unexpected $s"
done

# The units, as the package has them.
dpkg-deb -x "$deb" "$work/extract"
unit_has() {  # unit_has UNIT LINE: LINE is a line of the unit, exactly
  if grep -qxF -- "$2" "$work/extract/lib/systemd/system/$1"; then check "$1: $2"; else fail "$1 lacks the line '$2'"; fi
}
for u in forest.service forest-server.service; do
  # shellcheck disable=SC2016  # $MAINPID is systemd's
  for line in 'After=network-online.target mnt-forest.mount' 'Wants=network-online.target' \
      'Restart=always' 'RestartSec=5' 'WorkingDirectory=/var/lib/nimsforest' 'User=nimsforest' \
      'Group=nimsforest' 'ProtectSystem=strict' 'ReadWritePaths=/var/lib/nimsforest -/mnt/forest' \
      'NoNewPrivileges=true' 'LimitNOFILE=65536' 'ExecReload=/bin/kill -HUP $MAINPID' \
      'KillSignal=SIGTERM' 'WantedBy=multi-user.target'; do
    unit_has "$u" "$line"
  done
  n=$(grep -c '^ExecStart=' "$work/extract/lib/systemd/system/$u" || true)
  expect_eq "$u: one ExecStart" 1 "$n"
done
unit_has forest.service 'ExecStart=/opt/nimsforest/bin/forest run'
unit_has forest.service 'Conflicts=forest-server.service'
unit_has forest-server.service 'ExecStart=/opt/nimsforest/bin/forest-server -c /etc/nimsforest/forest-server.conf'
unit_has forest-server.service 'Conflicts=forest.service'

# meson install lays out the same files, whatever the prefix (packaging/meson.build).
meson install -C "$build" --no-rebuild --quiet --destdir "$work/meson-install" > "$work/meson-install.log" 2>&1 ||
  { cat "$work/meson-install.log" >&2; fail "meson install --destdir"; }
(cd "$work/meson-install" && find ./opt/nimsforest ./lib/systemd/system ./etc/nimsforest -printf '%M %p\n' 2>/dev/null | sort) \
  > "$work/meson-files"
(cd "$work/extract" && find ./opt/nimsforest ./lib/systemd/system ./etc/nimsforest -printf '%M %p\n' | sort) > "$work/deb-files"
if diff -u "$work/deb-files" "$work/meson-files"; then check "meson install: the package's files, paths and modes"
else fail "meson install differs from the package (- package, + meson install)"; fi
expect "meson install: /var/lib/nimsforest/jetstream" [ -d "$work/meson-install/var/lib/nimsforest/jetstream" ]
for b in "${binaries[@]}"; do
  expect "meson install: $b is the build's" cmp -s "$build/app/$b" "$work/meson-install/opt/nimsforest/bin/$b"
done

# ---- dpkg -i into a scratch root
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP (this part only): installing into a scratch root needs root or fakeroot; the package was checked above with dpkg-deb -c/-e/-x and sh -n"
  [ "$failures" -eq 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
  exit 0
fi

root="$work/root"
mkdir -p "$root/etc" "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/log"
: > "$root/var/lib/dpkg/status"
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
echo 'root:*:19000:0:99999:7:::' > "$root/etc/shadow"
echo 'root:*::' > "$root/etc/gshadow"
chmod 0640 "$root/etc/shadow" "$root/etc/gshadow"

# Guards: whatever the maintainer scripts would do to this machine is refused and recorded.
mkdir -p "$work/bin"
: > "$work/host-calls"
for tool in useradd groupadd; do
  real=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$tool")
  cat > "$work/bin/$tool" <<EOF
#!/bin/sh
case " \$* " in *" --prefix $root "*) exec $real "\$@" ;; esac
echo "$tool \$*" >> "$work/host-calls"
exit 1
EOF
done
for tool in systemctl deb-systemd-invoke deb-systemd-helper invoke-rc.d; do
  printf '#!/bin/sh\necho "%s $*" >> "%s"\nexit 1\n' "$tool" "$work/host-calls" > "$work/bin/$tool"
done
chmod 0755 "$work/bin"/*

# The scratch root's dpkg database has the packages of Depends as this machine has them, so
# dpkg checks that Depends is satisfied here (no --force-depends).
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//')
for p in $deps; do
  if dpkg-query -s "$p" > "$work/stanza" 2>/dev/null; then
    cat "$work/stanza" >> "$root/var/lib/dpkg/status"
    echo >> "$root/var/lib/dpkg/status"
    : > "$root/var/lib/dpkg/info/$(dpkg-query -W -f='${binary:Package}' "$p").list"
  else
    fail "Depends: $p is not installed on this machine"
  fi
done
dpkg_root() {
  PATH="$work/bin:$PATH" dpkg --root="$root" --log="$root/var/log/dpkg.log" --force-script-chrootless "$@"
}
status() { dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' nimsforest 2>/dev/null || true; }
field() {  # field passwd|group NAME N
  awk -F: -v n="$2" -v f="$3" '$1 == n { print $f }' "$root/etc/$1"
}

if dpkg_root -i "$deb"; then check "dpkg -i into the scratch root"; else fail "dpkg -i into the scratch root"; fi
expect_eq "dpkg status after install" "install ok installed" "$(status)"
for b in "${binaries[@]}"; do
  f="$root/opt/nimsforest/bin/$b"
  expect_eq "$b: mode and owner" "755 0 0" "$(stat -c '%a %u %g' "$f" 2>/dev/null || echo missing)"
  if cmp -s "$build/app/$b" "$f"; then check "$b is the build's binary"; else fail "$b differs from $build/app/$b"; fi
done
[ -x "$build/app/forest" ] || [ ! -e "$root/opt/nimsforest/bin/forest" ] || fail "forest installed but not built"
for u in forest.service forest-server.service; do
  f="$root/lib/systemd/system/$u"
  expect_eq "$u: mode and owner" "644 0 0" "$(stat -c '%a %u %g' "$f" 2>/dev/null || echo missing)"
  if cmp -s "$src/packaging/systemd/$u" "$f"; then check "$u is packaging/systemd/$u"; else fail "$u differs from packaging/systemd/$u"; fi
done
conf="$root/etc/nimsforest/forest-server.conf"
expect_eq "forest-server.conf: mode and owner" "644 0 0" "$(stat -c '%a %u %g' "$conf" 2>/dev/null || echo missing)"
case "$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Conffiles}' nimsforest)" in
  *" /etc/nimsforest/forest-server.conf "*) check "dpkg registered the conffile" ;;
  *) fail "dpkg has no conffile /etc/nimsforest/forest-server.conf" ;;
esac

# The user and the data dir.
uid=$(field passwd nimsforest 3)
gid=$(field passwd nimsforest 4)
if [ -n "$uid" ] && [ "$uid" -lt 1000 ]; then check "nimsforest is a system user (uid $uid)"; else fail "nimsforest: no system user (uid '$uid')"; fi
expect_eq "nimsforest's group" "$gid" "$(field group nimsforest 3)"
expect_eq "nimsforest's home" /var/lib/nimsforest "$(field passwd nimsforest 6)"
expect_eq "nimsforest's shell" /usr/sbin/nologin "$(field passwd nimsforest 7)"
for d in /var/lib/nimsforest /var/lib/nimsforest/jetstream; do
  if [ -d "$root$d" ]; then
    expect_eq "$d: mode and owner" "750 $uid $gid" "$(stat -c '%a %u %g' "$root$d")"
  else
    fail "$d was not created"
  fi
done

# Reinstall: an edited conffile stays, the user is not added twice, the data dir stays.
echo '# edited by the operator' >> "$conf"
touch "$root/var/lib/nimsforest/jetstream/keep"
if dpkg_root -i "$deb"; then check "dpkg -i again"; else fail "dpkg -i again"; fi
expect_eq "dpkg status after reinstall" "install ok installed" "$(status)"
if grep -qxF '# edited by the operator' "$conf"; then check "reinstall kept the edited conffile"; else fail "reinstall overwrote the edited conffile"; fi
expect_eq "one nimsforest user after reinstall" 1 "$(grep -c '^nimsforest:' "$root/etc/passwd")"
expect_eq "one nimsforest group after reinstall" 1 "$(grep -c '^nimsforest:' "$root/etc/group")"
expect_eq "same uid after reinstall" "$uid" "$(field passwd nimsforest 3)"

# Remove: programs and units go; config, data and user stay.
if dpkg_root -r nimsforest; then check "dpkg -r"; else fail "dpkg -r"; fi
expect_eq "dpkg status after remove" "deinstall ok config-files" "$(status)"
for f in /opt/nimsforest/bin/forest-server /opt/nimsforest/bin/forest /lib/systemd/system/forest.service \
         /lib/systemd/system/forest-server.service; do
  [ ! -e "$root$f" ] || fail "$f is still there after remove"
done
check "remove took the binaries and units"
expect "remove kept the conffile" [ -f "$conf" ]
expect "remove kept the data" [ -f "$root/var/lib/nimsforest/jetstream/keep" ]

# Purge: the config goes; the operator's node-info, the data and the user stay.
echo '{"forest_id":"f","node_id":"n"}' > "$root/etc/nimsforest/node-info.json"
if dpkg_root -P nimsforest; then check "dpkg -P"; else fail "dpkg -P"; fi
expect_eq "dpkg status after purge" "" "$(status | sed 's/^unknown ok not-installed$//')"
expect "purge took the conffile" [ ! -e "$conf" ]
expect "purge kept node-info.json" [ -f "$root/etc/nimsforest/node-info.json" ]
expect "purge kept the data" [ -f "$root/var/lib/nimsforest/jetstream/keep" ]
expect "purge kept the user" [ -n "$(field passwd nimsforest 3)" ]

if [ -s "$work/host-calls" ]; then
  fail "the maintainer scripts tried to act on this machine:"
  sed 's/^/  /' "$work/host-calls" >&2
else
  check "the maintainer scripts acted on the scratch root only"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
