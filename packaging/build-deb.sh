#!/usr/bin/env bash
# Builds the Debian package `nimsforest` from a build directory, with dpkg-deb alone (no
# debian/ tree, no dpkg-dev, no fakeroot: --root-owner-group makes every file root:root).
#   packaging/build-deb.sh [build-dir] [out-dir]      (defaults: build, build/deb)
# Contents: /opt/nimsforest/bin/forest-server; /opt/nimsforest/bin/forest when the build has
# it (app/forest; it says which); the units in /lib/systemd/system; the config
# /etc/nimsforest/forest-server.conf (a conffile); the docs in /opt/nimsforest/share/doc.
# Version: the meson project version. Depends: the packages of the shared libraries the
# binaries link directly, at least at the versions installed here, passwd (useradd) and
# procps (/bin/kill, which the units' ExecReload runs).
# The maintainer scripts are packaging/debian/{postinst,prerm,postrm}.
# Prints the path of the .deb on its last line. Runs lintian on it if lintian is installed.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-build}" && pwd)"
out="${2:-$build/deb}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

say() { echo "build-deb: $*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$build/app/forest-server" ] || die "$build/app/forest-server is not built"
version=$(meson introspect --projectinfo "$build" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
[ -n "$version" ] || die "no project version from meson introspect"
arch=$(dpkg --print-architecture)

stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"

binaries=(forest-server)
if [ -x "$build/app/forest" ]; then
  binaries+=(forest)
  say "including forest ($build/app/forest)"
else
  say "forest is not built ($build/app/forest): the package has forest-server only; forest.service is shipped, but cannot start until a package with forest is installed"
fi

install -d -m 0755 "$stage/DEBIAN" "$stage/opt/nimsforest/bin" "$stage/opt/nimsforest/share/doc" \
  "$stage/lib/systemd/system" "$stage/etc/nimsforest"
for b in "${binaries[@]}"; do
  install -m 0755 "$build/app/$b" "$stage/opt/nimsforest/bin/$b"
done
install -m 0644 "$src/packaging/systemd/forest.service" "$src/packaging/systemd/forest-server.service" \
  "$stage/lib/systemd/system/"
install -m 0644 "$src/packaging/forest-server.conf" "$stage/etc/nimsforest/forest-server.conf"
install -m 0644 "$src/docs/operator-guide.md" "$stage/opt/nimsforest/share/doc/operator-guide.md"
install -m 0644 "$src/README.md" "$stage/opt/nimsforest/share/doc/README.md"
for s in postinst prerm postrm; do
  install -m 0755 "$src/packaging/debian/$s" "$stage/DEBIAN/$s"
done
echo /etc/nimsforest/forest-server.conf > "$stage/DEBIAN/conffiles"
chmod 0644 "$stage/DEBIAN/conffiles"

# Depends: the package owning each library a binary needs (NEEDED, not the transitive ones),
# at least at the version installed here, which is the one it was built and tested against.
declare -A dep_version=()
for b in "${binaries[@]}"; do
  bin="$stage/opt/nimsforest/bin/$b"
  mapfile -t needed < <(objdump -p "$bin" | awk '$1 == "NEEDED" { print $2 }')
  for lib in "${needed[@]}"; do
    # "libx.so.1 => /path (addr)", or for the dynamic loader "/path/ld-linux-x86-64.so.2 (addr)"
    path=$(ldd "$bin" | awk -v l="$lib" '$1 == l && $3 ~ /^\// { print $3; exit }
                                          substr($1, 1, 1) == "/" && substr($1, length($1) - length(l)) == "/" l { print $1; exit }')
    [ -n "$path" ] || die "$b: cannot resolve $lib"
    pkg=
    for p in "$path" "$(readlink -f "$path")" "/usr$path" "${path#/usr}"; do
      pkg=$(dpkg-query -S "$p" 2>/dev/null | awk -F': ' '!/^diversion/ { print $1; exit }') && [ -n "$pkg" ] && break
    done
    [ -n "$pkg" ] || die "$b: no installed package has $path ($lib)"
    pkg=${pkg%%:*}
    pkg=${pkg%%,*}
    dep_version[$pkg]=$(dpkg-query -W -f='${Version}' "$pkg")
  done
done
depends="passwd, procps"  # procps: /bin/kill, the units' ExecReload
while read -r pkg; do
  depends+=", $pkg (>= ${dep_version[$pkg]})"
done < <(printf '%s\n' "${!dep_version[@]}" | sort)

installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<EOF
Package: nimsforest
Version: $version
Architecture: $arch
Maintainer: nimsforest developers <nimsforest@localhost>
Installed-Size: $installed_size
Depends: $depends
Section: net
Priority: optional
Description: NATS-compatible message server and the forest app
 forest-server, a drop-in replacement for nats-server (same flags, config
 format, ports and wire protocol, JetStream on RocksDB), and forest, the
 forest app on an embedded server, with their systemd units. Binaries in
 /opt/nimsforest/bin, data in /var/lib/nimsforest. Contents: ${binaries[*]}.
EOF
chmod 0644 "$stage/DEBIAN/control"

deb="$out/nimsforest_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz -z6 --build "$stage" "$deb" >&2
if command -v lintian >/dev/null 2>&1; then
  say "lintian:"
  lintian "$deb" >&2 || say "lintian reported problems (above)"
fi
echo "$deb"
