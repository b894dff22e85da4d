#!/usr/bin/env bash
# Installs a built tree into the layout the systemd unit expects:
#   /opt/nimsforest/bin/forest-server, /etc/nimsforest/forest-server.conf,
#   /var/lib/nimsforest, /etc/systemd/system/forest-server.service
# Usage: packaging/install.sh [build-dir] [destdir]   (destdir for staging, e.g. a package root)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
dest="${2:-}"
install -d "$dest/opt/nimsforest/bin" "$dest/etc/nimsforest" "$dest/var/lib/nimsforest" \
  "$dest/etc/systemd/system" "$dest/opt/nimsforest/share/doc"
install -m 0755 "$build/app/forest-server" "$dest/opt/nimsforest/bin/forest-server"
install -m 0755 "$build/bench/forest-bench" "$dest/opt/nimsforest/bin/forest-bench"
[ -f "$dest/etc/nimsforest/forest-server.conf" ] || install -m 0644 packaging/forest-server.conf "$dest/etc/nimsforest/forest-server.conf"
install -m 0644 packaging/systemd/forest-server.service "$dest/etc/systemd/system/forest-server.service"
install -m 0644 README.md "$dest/opt/nimsforest/share/doc/README.md"
echo "installed under ${dest:-/}"
