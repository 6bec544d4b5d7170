#!/usr/bin/env bash
# Installs what the integration tests need when it is missing: Debian packages (haproxy, nginx,
# openssl, curl, tini, chromium, prometheus, bind9), the cached kube-apiserver/etcd build, the Gateway API CRDs and
# the Gateway API conformance binaries. Idempotent; quick when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# scripts/in-netns.sh (the private network namespace of the Kubernetes tests) needs ip.
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v nginx >/dev/null 2>&1 || need+=(nginx)
# nginx's `Server: passerelle` (and the nginx half of the injection test) need the headers-more module.
dpkg -s libnginx-mod-http-headers-more-filter >/dev/null 2>&1 || need+=(libnginx-mod-http-headers-more-filter)
{ dpkg -s libnginx-mod-http-lua && dpkg -s lua-cjson; } >/dev/null 2>&1 || need+=(libnginx-mod-http-lua lua-cjson) # nginx's Lua balancer (test/integration/nginx/lua-endpoints.test.ts)
# The dashboard test (test/integration/web/dashboard.test.ts) drives headless Chromium.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The metrics test (test/integration/metrics.test.ts) validates /metrics with promtool.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# The deploy pod test (test/integration/deploy/pods.test.ts) runs the image's entrypoint: tini.
command -v tini >/dev/null 2>&1 || need+=(tini)
# The DNS-01 tests (test/integration/acme/dns-*.test.ts) run BIND 9 and its nsupdate.
[ -x /usr/sbin/named ] || need+=(bind9)
command -v nsupdate >/dev/null 2>&1 || need+=(bind9-dnsutils)
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "setup: need root to apt-get install ${need[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# The Debian packages start system services; the tests run their own instances on loopback.
for svc in haproxy nginx prometheus named; do
  if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
  if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
done

# kube-apiserver + etcd for test/integration/kubernetes: built from the Go module proxy once
# (about 12 minutes on 2 cores), then cached under ~/.cache/passerelle/kube/<version>.
PATH="$PATH:/usr/local/go/bin" bash scripts/kube-binaries.sh >/dev/null

# The Gateway API CRDs for test/integration/kubernetes/gateway.test.ts (test/kube/gateway-crds.ts reads them
# from the module cache): fetched once from the Go module proxy.
GOFLAGS= PATH="$PATH:/usr/local/go/bin" go mod download sigs.k8s.io/gateway-api@v1.6.3

# The Gateway API conformance run (npm run test:gateway-conformance:all): the official suite, its echo
# backend, kube-controller-manager, kube-scheduler and kwok, cached Go builds (about 10 minutes once).
PATH="$PATH:/usr/local/go/bin" bash scripts/gateway-conformance-binaries.sh >/dev/null

# Pebble + pebble-challtestsrv for test/integration/acme: a cached Go build (Debian's pebble otherwise).
PATH="$PATH:/usr/local/go/bin" bash scripts/pebble.sh >/dev/null

# kustomize for test/integration/deploy (renders deploy/'s overlays): a cached Go build from the module proxy.
kustomize_version=v5.5.0
kustomize_dir="${XDG_CACHE_HOME:-$HOME/.cache}/passerelle/kustomize/$kustomize_version"
if [ ! -x "$kustomize_dir/kustomize" ]; then
  echo "setup: building kustomize $kustomize_version (about a minute, once)" >&2
  mkdir -p "$kustomize_dir"
  (cd "$(mktemp -d)" && GOFLAGS= GOBIN="$kustomize_dir" PATH="$PATH:/usr/local/go/bin" go install "sigs.k8s.io/kustomize/kustomize/v5@$kustomize_version")
fi
