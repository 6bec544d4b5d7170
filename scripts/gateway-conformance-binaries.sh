#!/usr/bin/env bash
# Builds what the Gateway API conformance run (test/gateway-conformance/run.test.ts) needs, from the
# Go module proxy, once per machine: first, through scripts/kube-binaries.sh, kube-apiserver, etcd,
# kube-controller-manager and kube-scheduler; then
#   - the official conformance suite (sigs.k8s.io/gateway-api/conformance), as a Go test
#     binary taking the suite's own flags (test/gateway-conformance/suite);
#   - echo-basic, the suite's echo backend, from the same module;
#   - kwok (SIG Scheduling), which fakes a Node and marks the pods bound to it Running with IPs,
#     and the Stages it needs (its own "fast" ones), and its Logs CRD (the pods' logs it serves as
#     the node's kubelet).
#
#   bash scripts/gateway-conformance-binaries.sh          # build if missing, print the paths
#   eval "$(bash scripts/gateway-conformance-binaries.sh)" # sets the PASSERELLE_* variables below
#
# Cached under ${PASSERELLE_CACHE:-$HOME/.cache/passerelle}/gateway-api/<version>/ (suite and
# echo-basic, version from test/gateway-conformance/suite/go.mod) and .../kwok/<version>/; the
# first build takes about 10 minutes on 2 cores (the suite about 3, kwok about 5), later runs none.
# Progress goes to stderr; stdout holds only NAME=path lines.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
module="$root/test/gateway-conformance/suite"
cache_root="${PASSERELLE_CACHE:-$HOME/.cache/passerelle}"
# The newest kwok release that builds with Go 1.26 (go.mod "go 1.26.0").
kwok_version="${PASSERELLE_KWOK_VERSION:-v0.8.0}"

version="$(awk '$1 == "require" && $2 == "sigs.k8s.io/gateway-api/conformance" { print $3 } $1 == "sigs.k8s.io/gateway-api/conformance" && $2 ~ /^v/ { print $2 }' "$module/go.mod" | head -n 1)"
if [[ -z "$version" ]]; then
  echo "gateway-conformance-binaries: no sigs.k8s.io/gateway-api/conformance requirement in $module/go.mod" >&2
  exit 1
fi
dir="$cache_root/gateway-api/$version"
suite="$dir/conformance.test"
echo_basic="$dir/echo-basic"
# The suite's base manifests (its echo Deployments), for the run's own check of the pods.
base_manifests="$dir/base-manifests.yaml"
kwok_dir="$cache_root/kwok/$kwok_version"
kwok="$kwok_dir/kwok"
# A standalone kwok has no Stages unless its config names them: the "fast" ones kwokctl uses by
# default (nodes Ready at once with a heartbeat; pods Running and Ready at once, with an IP), copied
# from the kwok module.
stages="$kwok_dir/stages.yaml"
# kwok's Logs CRD (kwok.x-k8s.io/v1alpha1): the run names each echo pod's log file in one, which
# kwok's kubelet server (containerLogs) reads when the apiserver asks for the pod's logs.
logs_crd="$kwok_dir/logs-crd.yaml"

# The kube binaries first: the script builds them if needed and prints their paths.
kube_paths="$(bash "$root/scripts/kube-binaries.sh" --controllers)"

# A suite binary counts when it lists its tests; echo-basic has no version flag, so
# being an executable is enough; kwok reports its version.
suite_works() { [[ -x "$suite" ]] && "$suite" -test.list 'TestConformance' 2>/dev/null | grep -q TestConformance; }
kwok_works() { [[ -x "$kwok" ]] && "$kwok" --version 2>/dev/null | grep -q -- "${kwok_version#v}"; }

if ! { suite_works && [[ -x "$echo_basic" && -s "$base_manifests" && -s "$stages" && -s "$logs_crd" ]] && kwok_works; }; then
  if ! command -v go >/dev/null 2>&1; then
    echo "gateway-conformance-binaries: 'go' is not on PATH; install Go >= 1.26 to build the conformance suite" >&2
    exit 1
  fi
  mkdir -p "$dir" "$kwok_dir"
  tmp="$(mktemp -d "$dir/.build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  export GOFLAGS=-mod=mod
  export CGO_ENABLED=0
  start=$(date +%s)
  cd "$module"
  if ! suite_works; then
    echo "gateway-conformance-binaries: building the conformance suite $version -> $suite" >&2
    go test -c -trimpath -ldflags="-s -w" -o "$tmp/conformance.test" .
    mv -f "$tmp/conformance.test" "$suite"
  fi
  if [[ ! -x "$echo_basic" ]]; then
    echo "gateway-conformance-binaries: building echo-basic $version -> $echo_basic" >&2
    go build -trimpath -ldflags="-s -w" -o "$tmp/echo-basic" sigs.k8s.io/gateway-api/conformance/echo-basic
    mv -f "$tmp/echo-basic" "$echo_basic"
  fi
  if [[ ! -s "$base_manifests" ]]; then
    conformance_src="$(go list -m -json sigs.k8s.io/gateway-api/conformance | awk -F'"' '$2 == "Dir" { print $4 }')"
    cp "$conformance_src/base/manifests.yaml" "$tmp/base-manifests.yaml"
    mv -f "$tmp/base-manifests.yaml" "$base_manifests"
  fi
  if ! kwok_works; then
    echo "gateway-conformance-binaries: building kwok $kwok_version -> $kwok" >&2
    # kwok's go.mod has no replace directives, so `go install module@version` builds it as released.
    GOFLAGS= GOBIN="$tmp" go install -trimpath -ldflags="-s -w" "sigs.k8s.io/kwok/cmd/kwok@$kwok_version"
    mv -f "$tmp/kwok" "$kwok"
  fi
  if [[ ! -s "$stages" || ! -s "$logs_crd" ]]; then
    kwok_src="$(GOFLAGS= go mod download -json "sigs.k8s.io/kwok@$kwok_version" | awk -F'"' '$2 == "Dir" { print $4 }')"
  fi
  if [[ ! -s "$stages" ]]; then
    for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      echo "---"
      cat "$kwok_src/kustomize/stage/$f"
    done > "$tmp/stages.yaml"
    mv -f "$tmp/stages.yaml" "$stages"
  fi
  if [[ ! -s "$logs_crd" ]]; then
    cat "$kwok_src/kustomize/crd/bases/kwok.x-k8s.io_logs.yaml" > "$tmp/logs-crd.yaml"
    mv -f "$tmp/logs-crd.yaml" "$logs_crd"
  fi
  echo "gateway-conformance-binaries: built in $(($(date +%s) - start)) s" >&2
fi

echo "$kube_paths"
echo "PASSERELLE_GATEWAY_CONFORMANCE=$suite"
echo "PASSERELLE_ECHO_BASIC=$echo_basic"
echo "PASSERELLE_GATEWAY_BASE_MANIFESTS=$base_manifests"
echo "PASSERELLE_KWOK=$kwok"
echo "PASSERELLE_KWOK_STAGES=$stages"
echo "PASSERELLE_KWOK_LOGS_CRD=$logs_crd"
