#!/usr/bin/env bash
# Reload benchmark: wrk load through native, haproxy and nginx while `passerelle run` (file source)
# applies endpoint changes and structural changes, each kind under its own wrk run (reloads, runtime
# API / Lua updates and failed requests reported apart); WebSocket connections across reloads; render /
# validate / apply times at 100, 1,000 and 10,000 Ingresses. Loopback only. About 10 minutes.
# Usage: bench/reload.sh (env: see bench/reload.ts).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for bin in wrk haproxy nginx; do command -v "$bin" >/dev/null 2>&1 || { echo "missing $bin: apt-get install -y wrk haproxy nginx" >&2; exit 1; }; done
exec "$ROOT/node_modules/.bin/node" "$ROOT/bench/reload.ts"
