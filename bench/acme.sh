#!/usr/bin/env bash
# ACME benchmark: 100 hosts issued by a real Pebble (HTTP-01 through the native proxy), then a
# restart that must place 0 new orders. Loopback only. Usage: bench/acme.sh (env: HOSTS=100).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v openssl >/dev/null 2>&1 || { echo "missing openssl: apt-get install -y openssl" >&2; exit 1; }
exec "$ROOT/node_modules/.bin/node" "$ROOT/bench/acme.ts"
