#!/usr/bin/env bash
# Installs a built tree into the layout of the Debian package (packaging/README.md), without a
# package: /opt/nimsforest/bin/{forest-server,forest,forest-bench} (forest and forest-bench
# when built), /lib/systemd/system/{forest,forest-server}.service,
# /etc/nimsforest/forest-server.conf (kept if present), /opt/nimsforest/share/doc.
# Installing into / as root also runs the package's postinst (the user nimsforest and
# /var/lib/nimsforest/jetstream owned by it); into a destdir it only creates the directories.
# Usage: packaging/install.sh [build-dir] [destdir]   (destdir for staging, e.g. a package root)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
dest="${2:-}"
install -d "$dest/opt/nimsforest/bin" "$dest/etc/nimsforest" "$dest/lib/systemd/system" \
  "$dest/opt/nimsforest/share/doc"
install -m 0755 "$build/app/forest-server" "$dest/opt/nimsforest/bin/forest-server"
for optional in app/forest bench/forest-bench; do
  if [ -x "$build/$optional" ]; then
    install -m 0755 "$build/$optional" "$dest/opt/nimsforest/bin/"
  else
    echo "not built, not installed: $build/$optional"
  fi
done
[ -f "$dest/etc/nimsforest/forest-server.conf" ] || install -m 0644 packaging/forest-server.conf "$dest/etc/nimsforest/forest-server.conf"
install -m 0644 packaging/systemd/forest.service packaging/systemd/forest-server.service "$dest/lib/systemd/system/"
install -m 0644 README.md docs/operator-guide.md "$dest/opt/nimsforest/share/doc/"
if [ -z "$dest" ] && [ "$(id -u)" -eq 0 ]; then
  packaging/debian/postinst configure
else
  install -d "$dest/var/lib/nimsforest/jetstream"
  echo "the user nimsforest is not created: run packaging/debian/postinst configure as root on the target"
fi
echo "installed under ${dest:-/}"
