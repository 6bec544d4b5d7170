#!/usr/bin/env bash
# Kubernetes benchmark: change → first 200 through the proxy with 1,000 Ingresses present, then cold
# start, Ingress create → first 200 (p50/p99/max) and controller RSS with 10,000 Ingresses, in native,
# haproxy and nginx modes, and build/render time, against a real kube-apiserver + etcd (built once by
# scripts/kube-binaries.sh). Everything runs inside a private network namespace (scripts/in-netns.sh):
# echo pods on 192.0.2.0/24, nothing leaves it.
# About 12-15 minutes on 2 cores. Usage: bench/k8s.sh   (env: MODES=native,haproxy,nginx BASE=1000
# LARGE=10000 CHANGES=100 LARGE_CHANGES=50 SERVICES=1000 NODE_DEFAULTS=1; see bench/k8s.ts)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE="$ROOT/node_modules/.bin/node"
[[ -x "$NODE" ]] || { echo "run npm ci first (Node 24 comes from node_modules)" >&2; exit 1; }
for bin in haproxy nginx openssl; do
  command -v "$bin" >/dev/null 2>&1 || { echo "missing $bin: run bash scripts/setup-test-deps.sh" >&2; exit 1; }
done
cd "$ROOT"
export PATH="$ROOT/node_modules/.bin:$PATH"
if [[ "${PASSERELLE_NETNS:-}" == 1 ]]; then
  exec "$NODE" bench/k8s.ts
fi
exec bash scripts/in-netns.sh "$NODE" bench/k8s.ts
