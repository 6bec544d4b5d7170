#!/usr/bin/env bash
# Provides Pebble and pebble-challtestsrv, the test CA that Let's Encrypt uses to test ACME
# clients, for the ACME integration tests and bench/acme.sh.
#
#   bash scripts/pebble.sh            # build or find them, print the paths
#   eval "$(bash scripts/pebble.sh)"  # sets PASSERELLE_PEBBLE, PASSERELLE_CHALLTESTSRV,
#                                     # PASSERELLE_PEBBLE_VERSION
#
# Preferred: a recent Pebble built from the Go module proxy (github.com/letsencrypt/pebble/v2,
# which has certificate profiles with a validity period and ACME Renewal Information), cached
# under ${PASSERELLE_CACHE:-$HOME/.cache/passerelle}/pebble/<version>/. The version is
# ${PASSERELLE_PEBBLE_VERSION:-v2.10.1}; "latest" asks the module proxy for the newest.
# Fallback when Go or the module proxy is not there: Debian's package `pebble` (2.4: no validity
# setting, no ARI), installed with apt-get when running as root.
# Progress and the choice made go to stderr; stdout holds only the assignments.
set -euo pipefail

cache_root="${PASSERELLE_CACHE:-$HOME/.cache/passerelle}"
want="${PASSERELLE_PEBBLE_VERSION:-v2.10.1}"
module="github.com/letsencrypt/pebble/v2"

emit() {
  echo "pebble: using $3" >&2
  echo "PASSERELLE_PEBBLE=$1"
  echo "PASSERELLE_CHALLTESTSRV=$2"
  echo "PASSERELLE_PEBBLE_VERSION=$4"
}

# A binary counts when it is executable and answers -version (pebble) or -h (challtestsrv).
works() {
  [[ -x "$1" && -x "$2" ]] && "$1" -version >/dev/null 2>&1
}

from_go() {
  command -v go >/dev/null 2>&1 || return 1
  local version="$want"
  if [[ "$version" == latest ]]; then
    version="$(cd / && GOFLAGS=-mod=mod go list -m -f '{{.Version}}' "$module@latest" 2>/dev/null)" || return 1
    [[ -n "$version" ]] || return 1
  fi
  local dir="$cache_root/pebble/$version"
  if works "$dir/pebble" "$dir/pebble-challtestsrv"; then
    emit "$dir/pebble" "$dir/pebble-challtestsrv" "Pebble $version built from the Go module proxy ($dir)" "$version"
    return 0
  fi
  mkdir -p "$dir"
  local tmp
  tmp="$(mktemp -d "$dir/.build.XXXXXX")"
  echo "pebble: building Pebble $version from the Go module proxy into $dir" >&2
  if ! (cd "$tmp" && GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath -ldflags='-s -w' \
    "$module/cmd/pebble@$version" "$module/cmd/pebble-challtestsrv@$version") >&2; then
    rm -rf "$tmp"
    echo "pebble: the Go build of Pebble $version failed" >&2
    return 1
  fi
  mv -f "$tmp/pebble" "$dir/pebble"
  mv -f "$tmp/pebble-challtestsrv" "$dir/pebble-challtestsrv"
  rm -rf "$tmp"
  works "$dir/pebble" "$dir/pebble-challtestsrv" || return 1
  emit "$dir/pebble" "$dir/pebble-challtestsrv" "Pebble $version built from the Go module proxy ($dir)" "$version"
}

from_debian() {
  if ! works /usr/bin/pebble /usr/bin/pebble-challtestsrv; then
    if [[ "$(id -u)" -ne 0 ]]; then
      echo "pebble: need root to apt-get install pebble" >&2
      return 1
    fi
    echo "pebble: installing Debian's package pebble" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pebble >&2
  fi
  works /usr/bin/pebble /usr/bin/pebble-challtestsrv || return 1
  local v
  v="$(dpkg-query -W -f '${Version}' pebble 2>/dev/null || echo unknown)"
  emit /usr/bin/pebble /usr/bin/pebble-challtestsrv "Debian's package pebble $v (fallback: no validity setting, no ARI)" "debian-$v"
}

if [[ "${PASSERELLE_PEBBLE_SOURCE:-}" == debian ]]; then
  from_debian && exit 0
elif from_go; then
  exit 0
elif from_debian; then
  exit 0
fi
echo "pebble: neither a Go build of Pebble nor Debian's package pebble could be had" >&2
exit 1
