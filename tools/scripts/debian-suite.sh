# Sourced by the scripts that fetch a tool from Debian's packages (nats-server.sh, prometheus.sh, nginx.sh).
# debian_suite <work folder> <suite>: a private apt state for Debian <suite> in <work folder>/<suite>, with a
# temporary sources list, updated; sets APT_OPTIONS to use it (nothing of the system's apt is changed).
debian_suite() {
  local dir="$1/$2"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  echo "deb http://deb.debian.org/debian $2 main" > "$dir/sources.list"
  APT_OPTIONS=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$dir/lists"
    -o "Dir::Cache=$dir/cache" -o APT::Sandbox::User=root)
  apt-get update -qq "${APT_OPTIONS[@]}" >&2
}

# can_fetch_from_debian: whether this script may fetch Debian's packages here (as root, with apt-get).
can_fetch_from_debian() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1
}

# debian_work <cache folder>: makes the cache folder, and sets $work to a new temporary folder and $staged
# (a folder the caller may stage binaries in, inside the cache) to none; both are removed when the script exits.
debian_work() {
  mkdir -p "$1"
  work="$(mktemp -d)"
  staged=""
  trap 'rm -rf "$work" ${staged:+"$staged"}' EXIT
}
