#!/usr/bin/env bash
# Puts Prometheus and promtool of one version in ~/.cache/blog-prometheus/ and prints that folder's path, for
# `npm run test:prometheus` (the alert rules' unit tests and a real Prometheus scraping the local stack).
# The version is Prometheus 3.5, the long-term-support line of the Prometheus 3 the Prometheus Operator runs;
# Debian packages it in sid and forky (bookworm has 2.42, trixie 2.53). A prometheus and promtool of that
# version on the PATH, or already in the cache, are used as they are. Otherwise, on Debian or Ubuntu as root,
# Debian's `prometheus` and `promtool` packages are downloaded with a temporary sources list and unpacked into
# the cache (nothing is installed system-wide, no service is started). Elsewhere it says how to get them.
set -euo pipefail
# shellcheck source=debian-suite.sh
source "$(dirname "$0")/debian-suite.sh"

VERSION_LINE=3.5
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/blog-prometheus"
SUITES=(sid forky)

version_of() { "$1" --version 2>/dev/null | sed -n '1s/.*version \([0-9][0-9.]*\).*/\1/p'; }
of_line() { [[ "$1" == "$VERSION_LINE".* ]]; }

usable() {
  [ -x "$1/prometheus" ] && [ -x "$1/promtool" ] && of_line "$(version_of "$1/prometheus")" &&
    of_line "$(version_of "$1/promtool")"
}

on_path="$(dirname "$(command -v promtool || echo /nonexistent/promtool)")"
for candidate in "$CACHE" "$on_path"; do
  if usable "$candidate"; then
    echo "$candidate"
    exit 0
  fi
done

if ! can_fetch_from_debian; then
  echo "Prometheus $VERSION_LINE.x and its promtool are needed: get them from the Prometheus project's releases" >&2
  echo "(https://github.com/prometheus/prometheus/releases) into $CACHE, or run this script as root on Debian" >&2
  echo "or Ubuntu." >&2
  exit 1
fi

debian_work "$CACHE"
for suite in "${SUITES[@]}"; do
  debian_suite "$work" "$suite"
  # Debian's version of a release of that line: 3.5.3+ds1-6, ...
  package="$(apt-cache madison "${APT_OPTIONS[@]}" promtool | awk -v line="$VERSION_LINE." '
    { upstream = $3; sub(/^[0-9]+:/, "", upstream) } index(upstream, line) == 1 { print $3; exit }')"
  [ -n "$package" ] || continue
  (cd "$work/$suite" && apt-get download -qq "${APT_OPTIONS[@]}" "prometheus=$package" "promtool=$package" >&2)
  for deb in "$work/$suite"/*.deb; do dpkg-deb -x "$deb" "$work/unpacked"; done
  # Into a folder beside the cache's, then each binary renamed over its target: a process starting a cached
  # binary meanwhile finds the old one or the new one whole, and concurrent runs each rename complete copies.
  staged="$(mktemp -d "$CACHE/.staged.XXXXXX")"
  for binary in promtool prometheus; do
    install -m 0755 "$work/unpacked/usr/bin/$binary" "$staged/$binary"
    found="$(version_of "$staged/$binary")"
    of_line "$found" || { echo "Debian $suite's $binary $package says it is $found" >&2; exit 1; }
  done
  for binary in promtool prometheus; do mv -f "$staged/$binary" "$CACHE/$binary"; done
  echo "$CACHE"
  exit 0
done
echo "No Debian suite of ${SUITES[*]} has Prometheus $VERSION_LINE.x: get it from the Prometheus project's" >&2
echo "releases (https://github.com/prometheus/prometheus/releases) into $CACHE." >&2
exit 1
