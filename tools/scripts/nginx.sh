#!/usr/bin/env bash
# Prints the path of an nginx for `npm run test:nginx`. An nginx on the PATH is used as it is. Otherwise,
# on Debian or Ubuntu as root, the distribution's nginx package is downloaded and its binary unpacked into
# ~/.cache/blog-nginx (nothing is installed system-wide, no service is started). Elsewhere it says how to
# get one.
set -euo pipefail
# shellcheck source=debian-suite.sh
source "$(dirname "$0")/debian-suite.sh"

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/blog-nginx"
TARGET="$CACHE/nginx"

for candidate in "$(command -v nginx || true)" "$TARGET"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -v >/dev/null 2>&1; then
    echo "$candidate"
    exit 0
  fi
done

if ! can_fetch_from_debian; then
  echo "nginx is needed: install it with your package manager (apt-get install nginx, brew install nginx)," >&2
  echo "or put a binary at $TARGET." >&2
  exit 1
fi

debian_work "$CACHE"
if ! (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root nginx >&2); then
  apt-get update -qq >&2
  (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root nginx >&2)
fi
dpkg-deb -x "$work"/nginx_*.deb "$work/unpacked"
install -m 0755 "$work/unpacked/usr/sbin/nginx" "$TARGET"
"$TARGET" -v >&2
echo "$TARGET"
