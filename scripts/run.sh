#!/usr/bin/env bash
# The README's first command: install what is missing, build, and start forest-server on the
# default ports (4222 clients, 8222 monitoring). Extra arguments go to forest-server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
# JetStream on, on the default data dir (/var/lib/nimsforest, or ~/.local/share/nimsforest
# without root): the store is <dir>/jetstream/forest-store (see broker/jetstream/README.md).
if [ "$(id -u)" -eq 0 ]; then data_dir=/var/lib/nimsforest; else data_dir="$HOME/.local/share/nimsforest"; fi
mkdir -p "$data_dir"
exec build/app/forest-server -m 8222 -js -sd "$data_dir" "$@"
