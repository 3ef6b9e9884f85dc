#!/usr/bin/env bash
# Puts a nats-server that can fsync before it acknowledges (2.10.23 or later, for `sync_interval: always`)
# in ~/.cache/blog-nats/nats-server, and prints its path. A nats-server on the PATH that is recent enough
# is used as it is. Otherwise, on Debian or Ubuntu as root, Debian trixie's package is downloaded with a
# temporary sources list and unpacked into the cache (nothing is installed system-wide). Elsewhere it says
# how to get one.
set -euo pipefail

MINIMUM=2.10.23
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/blog-nats"
TARGET="$CACHE/nats-server"

version_of() { "$1" --version 2>/dev/null | sed -n 's/.*v\([0-9][0-9.]*\).*/\1/p'; }
recent_enough() { [ "$(printf '%s\n%s\n' "$MINIMUM" "$1" | sort -V | head -1)" = "$MINIMUM" ]; }

for candidate in "$TARGET" "$(command -v nats-server || true)"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    found="$(version_of "$candidate")"
    if [ -n "$found" ] && recent_enough "$found"; then
      echo "$candidate"
      exit 0
    fi
  fi
done

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "nats-server $MINIMUM or later is needed (for sync_interval: always). Get it from your package manager" >&2
  echo "(Debian trixie and later, Homebrew: brew install nats-server) or from the NATS project's releases," >&2
  echo "then put it on the PATH or at $TARGET." >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$CACHE"
echo "deb http://deb.debian.org/debian trixie main" > "$work/trixie.list"
apt_options=(-o "Dir::Etc::sourcelist=$work/trixie.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
apt-get update -qq "${apt_options[@]}" >&2
(cd "$work" && apt-get download -qq "${apt_options[@]}" nats-server >&2)
dpkg-deb -x "$work"/nats-server_*.deb "$work/unpacked"
install -m 0755 "$work/unpacked/usr/sbin/nats-server" "$TARGET"
found="$(version_of "$TARGET")"
recent_enough "$found" || { echo "Debian's nats-server is $found, older than $MINIMUM" >&2; exit 1; }
echo "$TARGET"
