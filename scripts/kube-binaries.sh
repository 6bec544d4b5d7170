#!/usr/bin/env bash
# Builds the real kube-apiserver and etcd that the Kubernetes integration tests run
# (the envtest approach), and kube-controller-manager and kube-scheduler (the Gateway API
# conformance run), from the Go module proxy, once per machine.
#
#   bash scripts/kube-binaries.sh          # build if missing, print the paths
#   bash scripts/kube-binaries.sh --controllers   # also kube-controller-manager and kube-scheduler
#   eval "$(bash scripts/kube-binaries.sh)" # sets PASSERELLE_KUBE_APISERVER, PASSERELLE_ETCD,
#                                           # PASSERELLE_KUBE_CONTROLLER_MANAGER, PASSERELLE_KUBE_SCHEDULER
#
# The versions come from test/kube/go.mod (k8s.io/kubernetes, and the etcd server that
# it requires). Binaries are cached under
# ${PASSERELLE_CACHE:-$HOME/.cache/passerelle}/kube/<kubernetes version>/, so a second
# run only checks that they are there and start. Progress goes to stderr; stdout holds
# only the assignments, the original two first.
set -euo pipefail
# The controllers are for the Gateway API conformance run only: the other tests need not wait for their build.
controllers=0
[[ "${1:-}" == "--controllers" ]] && controllers=1

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
module="$root/test/kube"
cache_root="${PASSERELLE_CACHE:-$HOME/.cache/passerelle}"

version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2 } $1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$module/go.mod" | head -n 1)"
if [[ -z "$version" ]]; then
  echo "kube-binaries: no k8s.io/kubernetes requirement in $module/go.mod" >&2
  exit 1
fi
dir="$cache_root/kube/$version"
apiserver="$dir/kube-apiserver"
etcd="$dir/etcd"
kcm="$dir/kube-controller-manager"
scheduler="$dir/kube-scheduler"

# A binary counts when it starts and reports the expected version.
works() {
  [[ -x "$1" ]] && "$1" --version 2>/dev/null | grep -q -- "$2"
}
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2 }' "$module/go.mod" | head -n 1)"

print_paths() {
  echo "PASSERELLE_KUBE_APISERVER=$apiserver"
  echo "PASSERELLE_ETCD=$etcd"
  if [[ "$controllers" == 1 ]]; then
    echo "PASSERELLE_KUBE_CONTROLLER_MANAGER=$kcm"
    echo "PASSERELLE_KUBE_SCHEDULER=$scheduler"
  fi
}
all_work() {
  works "$apiserver" "$version" && works "$etcd" "${etcd_version#v}" &&
    { [[ "$controllers" == 0 ]] || { works "$kcm" "$version" && works "$scheduler" "$version"; }; }
}

if all_work; then
  print_paths
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "kube-binaries: 'go' is not on PATH; install Go >= 1.25 to build kube-apiserver $version" >&2
  exit 1
fi

mkdir -p "$dir"
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

export GOFLAGS=-mod=mod
export CGO_ENABLED=0
cd "$module"
start=$(date +%s)
build() {
  local out="$1" pkg="$2" ldflags="-s -w ${3:-}"
  echo "kube-binaries: building $pkg -> $out" >&2
  go build -trimpath -ldflags="$ldflags" -o "$tmp/$(basename "$out")" "$pkg"
  mv -f "$tmp/$(basename "$out")" "$out"
}
# The version stamp a release build of Kubernetes carries (kube-apiserver --version, /version).
minor="${version#v1.}"; minor="${minor%%.*}"
stamp="-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
works "$etcd" "${etcd_version#v}" || build "$etcd" go.etcd.io/etcd/server/v3
works "$apiserver" "$version" || build "$apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$stamp"
if [[ "$controllers" == 1 ]]; then
  works "$kcm" "$version" || build "$kcm" k8s.io/kubernetes/cmd/kube-controller-manager "$stamp"
  works "$scheduler" "$version" || build "$scheduler" k8s.io/kubernetes/cmd/kube-scheduler "$stamp"
fi
echo "kube-binaries: built in $(($(date +%s) - start)) s: $("$apiserver" --version), etcd $("$etcd" --version | awk '/etcd Version/ { print $3 }')" >&2

print_paths
