#!/usr/bin/env bash
# Reload benchmark: wrk load through native, haproxy and nginx while `passerelle run` (file source)
# applies Ingress and endpoint changes; WebSocket connections across reloads; render / validate /
# apply times at 100, 1,000 and 10,000 Ingresses. Loopback only. Usage: bench/reload.sh (env: see bench/reload.ts).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for bin in wrk haproxy nginx; do command -v "$bin" >/dev/null 2>&1 || { echo "missing $bin: apt-get install -y wrk haproxy nginx" >&2; exit 1; }; done
exec "$ROOT/node_modules/.bin/node" "$ROOT/bench/reload.ts"
