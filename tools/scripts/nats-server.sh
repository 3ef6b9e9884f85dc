#!/usr/bin/env bash
# Puts the nats-server the cluster deploys in ~/.cache/blog-nats/nats-server, and prints its path: one
# version, tested and deployed. The version is the NATS chart's image tag in infra/helm/nats/values.yaml
# (container.image.tag, `<version>-alpine`); `nats-server.sh --version` prints it and does nothing else.
# A nats-server of that version on the PATH, or already in the cache, is used as it is. Otherwise, on Debian
# or Ubuntu as root, Debian's package of that version (from trixie, testing or unstable, whichever has it) is
# downloaded with a temporary sources list and unpacked into the cache, replacing a binary of another
# version there (nothing is installed system-wide). Elsewhere it says how to get one.
set -euo pipefail
# shellcheck source=debian-suite.sh
source "$(dirname "$0")/debian-suite.sh"

VALUES="$(cd "$(dirname "$0")/../.." && pwd)/infra/helm/nats/values.yaml"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/blog-nats"
TARGET="$CACHE/nats-server"
SUITES=(trixie forky sid)

# The `tag:` under `image:` under the top-level `container:`.
tag="$(awk '
  /^[^[:space:]#]/ { top = $0; image = 0 }
  top ~ /^container:/ && /^  [^[:space:]#]/ { image = ($0 ~ /^  image:/) }
  image && /^    tag:/ { gsub(/["'\'']/, "", $2); print $2; exit }
' "$VALUES")"
VERSION="${tag%-alpine}"
if ! [[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || [ "$tag" != "$VERSION-alpine" ]; then
  echo "$VALUES: container.image.tag is '$tag', expected <version>-alpine" >&2
  exit 1
fi
if [ "${1:-}" = --version ]; then
  echo "$VERSION"
  exit 0
fi

version_of() { "$1" --version 2>/dev/null | sed -n 's/.*v\([0-9][0-9.]*\).*/\1/p'; }

for candidate in "$TARGET" "$(command -v nats-server || true)"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && [ "$(version_of "$candidate")" = "$VERSION" ]; then
    echo "$candidate"
    exit 0
  fi
done

if ! can_fetch_from_debian; then
  echo "nats-server $VERSION is needed (the version the NATS chart deploys, $VALUES). Get it from the NATS" >&2
  echo "project's releases (https://github.com/nats-io/nats-server/releases/tag/v$VERSION) and put it on the" >&2
  echo "PATH or at $TARGET, or run this script as root on Debian or Ubuntu." >&2
  exit 1
fi

debian_work "$CACHE"
for suite in "${SUITES[@]}"; do
  debian_suite "$work" "$suite"
  # Debian's version of that upstream release: 2.10.27-1, 2.10.27+ds-2, ...
  package="$(apt-cache madison "${APT_OPTIONS[@]}" nats-server | awk -v v="$VERSION" '
    { split($3, parts, "-"); upstream = parts[1]; sub(/^[0-9]+:/, "", upstream); sub(/[+~].*/, "", upstream) }
    upstream == v { print $3; exit }')"
  [ -n "$package" ] || continue
  (cd "$work/$suite" && apt-get download -qq "${APT_OPTIONS[@]}" "nats-server=$package" >&2)
  dpkg-deb -x "$work/$suite"/nats-server_*.deb "$work/unpacked"
  found="$(version_of "$work/unpacked/usr/sbin/nats-server")"
  [ "$found" = "$VERSION" ] || { echo "Debian $suite's nats-server $package says it is $found" >&2; exit 1; }
  # Into the cache folder, then renamed over the target: a process starting the cached binary meanwhile
  # finds the old one or the new one whole, and concurrent runs each rename a complete copy.
  staged="$(mktemp "$CACHE/.nats-server.XXXXXX")"
  install -m 0755 "$work/unpacked/usr/sbin/nats-server" "$staged"
  mv -f "$staged" "$TARGET"
  echo "$TARGET"
  exit 0
done
echo "No Debian suite of ${SUITES[*]} has nats-server $VERSION: get it from the NATS project's releases" >&2
echo "(https://github.com/nats-io/nats-server/releases/tag/v$VERSION) into $TARGET, or move the chart's image" >&2
echo "tag in $VALUES to the version Debian has (deployed and tested together)." >&2
exit 1
