# Sourced by the scripts that fetch a tool from Debian's packages (nats-server.sh, prometheus.sh).
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
