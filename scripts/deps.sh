#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, only those that are missing.
# Idempotent: when everything is present it runs no apt-get at all.
set -euo pipefail

packages=(
  g++ clang libclang-rt-14-dev meson ninja-build pkg-config python3 libcrypt-dev libsodium-dev
  libboost-dev libsimdjson-dev libfmt-dev librocksdb-dev catch2
  libnats-dev nats-server libssl-dev openssl
  # packaging/build-deb.sh and the suite 'packaging': objdump, useradd, fakeroot (non-root runs)
  binutils passwd fakeroot
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js and npm run the nats.js tests; any installed Node.js will do, else Debian's.
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
