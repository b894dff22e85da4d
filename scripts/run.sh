#!/usr/bin/env bash
# The README's first command: install what is missing, build, and start forest-server on the
# default ports (4222 clients, 8222 monitoring). Extra arguments go to forest-server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
# JetStream's data dir (/var/lib/nimsforest/jetstream, or ~/.local/share/nimsforest/jetstream
# without root) is created here so it is ready; forest-server does not serve JetStream yet
# (see README, "Status").
if [ "$(id -u)" -eq 0 ]; then data_dir=/var/lib/nimsforest/jetstream; else data_dir="$HOME/.local/share/nimsforest/jetstream"; fi
mkdir -p "$data_dir"
exec build/app/forest-server -m 8222 "$@"
