#!/usr/bin/env bash
# Scale benchmark: 1 host vs 10,000 hosts in Passerelle-rendered HAProxy and nginx configurations,
# measured with wrk in the same run. Loopback only. Usage: bench/scale.sh (env: see bench/scale.ts).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for bin in wrk haproxy nginx; do command -v "$bin" >/dev/null 2>&1 || { echo "missing $bin: apt-get install -y wrk haproxy nginx" >&2; exit 1; }; done
exec "$ROOT/node_modules/.bin/node" "$ROOT/bench/scale.ts"
