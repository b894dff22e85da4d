#!/usr/bin/env bash
# The README's second command: install what is missing, build, run the whole test suite.
# Tests start their own servers on ephemeral ports, forest-server and nats-server side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
meson test -C build --print-errorlogs "$@"
