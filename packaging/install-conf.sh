#!/bin/sh
# Run by `meson install`: installs /etc/nimsforest/forest-server.conf unless one exists.
set -e
dest="${DESTDIR:-}/etc/nimsforest/forest-server.conf"
if [ -e "$dest" ]; then
  echo "Keeping $dest"
else
  echo "Installing forest-server.conf to $dest"
  install -D -m 0644 "$MESON_SOURCE_ROOT/packaging/forest-server.conf" "$dest"
fi
