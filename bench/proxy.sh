#!/usr/bin/env bash
# Side-by-side reverse proxy benchmark: Passerelle native, hand-written HAProxy, nginx and Caddy
# configurations, and Passerelle-RENDERED HAProxy and nginx configurations (one host, and 10,000 hosts
# plus the measured one), all in front of one fast nginx backend, driven by wrk in interleaved rounds.
# Loopback only. ~6 minutes.
# Usage: bench/proxy.sh   (env: ROUNDS=3 DURATION=10s CONNECTIONS=50 RENDERED_HOSTS=10000
#                          PROXIES="native haproxy nginx caddy haproxy-r1 haproxy-r10k nginx-r1 nginx-r10k")
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE="$ROOT/node_modules/.bin/node"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-50}"
WARMUP="${WARMUP:-3s}"
RENDERED_HOSTS="${RENDERED_HOSTS:-10000}"
# Every request names the one host the rendered configurations route (the hand-written ones ignore it).
HOST_HEADER="Host: target.bench.test"

need=()
for bin in wrk haproxy nginx caddy; do command -v "$bin" >/dev/null 2>&1 || need+=("$bin"); done
if ((${#need[@]})); then
  echo "installing: ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[[ -x "$NODE" ]] || { echo "run npm ci first (Node 24 comes from node_modules)" >&2; exit 1; }

WORK="$(mktemp -d /tmp/passerelle-bench.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# One core for the proxy under test, the other for wrk and the backend, when taskset exists.
PROXY_CPU=(); LOAD_CPU=()
if command -v taskset >/dev/null 2>&1 && [[ "$(nproc)" -ge 2 ]]; then
  PROXY_CPU=(taskset -c 1); LOAD_CPU=(taskset -c 0)
fi

BACKEND=28080
declare -A PORT=([native]=28081 [haproxy]=28082 [nginx]=28083 [caddy]=28084 [haproxy-r1]=28085 [haproxy-r10k]=28086 [nginx-r1]=28087 [nginx-r10k]=28088)
read -r -a ORDER <<<"${PROXIES:-native haproxy nginx caddy haproxy-r1 haproxy-r10k nginx-r1 nginx-r10k}"
has() { local x; for x in "${ORDER[@]}"; do [[ "$x" == "$1" ]] && return 0; done; return 1; }

for p in "$BACKEND" "${PORT[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p is busy" >&2; exit 1; fi
done

mkdir -p "$WORK/backend" "$WORK/nginx" "$WORK/rendered"
cat >"$WORK/backend.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/backend/nginx.pid;
error_log $WORK/backend/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/backend/body;
  proxy_temp_path $WORK/backend/proxy;
  fastcgi_temp_path $WORK/backend/fastcgi;
  uwsgi_temp_path $WORK/backend/uwsgi;
  scgi_temp_path $WORK/backend/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$BACKEND;
    location / { default_type text/plain; return 200 "ok"; }
  }
}
CONF

cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$BACKEND; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${PORT[nginx]};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
CONF

cat >"$WORK/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  option forwardfor
frontend fe
  bind 127.0.0.1:${PORT[haproxy]}
  default_backend be
backend be
  http-reuse always
  server s1 127.0.0.1:$BACKEND
CONF

cat >"$WORK/Caddyfile" <<CONF
{
  admin off
  auto_https off
}
# Any Host: a site address of 127.0.0.1 would match only that Host, and Caddy answers other Hosts
# (the bench sends target.bench.test) with an empty 200 of its own instead of proxying.
http://:${PORT[caddy]} {
  bind 127.0.0.1
  reverse_proxy 127.0.0.1:$BACKEND
}
CONF

start() { # name, command...
  local name="$1"; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
}

start backend "${LOAD_CPU[@]}" nginx -p "$WORK/backend" -c "$WORK/backend.conf"
has native && start native "${PROXY_CPU[@]}" "$NODE" ${NATIVE_NODE_FLAGS:-} "$ROOT/bench/native-proxy.ts" "${PORT[native]}" "$BACKEND"
has haproxy && start haproxy "${PROXY_CPU[@]}" haproxy -db -f "$WORK/haproxy.cfg"
has nginx && start nginx "${PROXY_CPU[@]}" nginx -p "$WORK/nginx" -c "$WORK/nginx.conf"
has caddy && start caddy env GOMAXPROCS=1 HOME="$WORK" XDG_DATA_HOME="$WORK" XDG_CONFIG_HOME="$WORK" "${PROXY_CPU[@]}" caddy run --config "$WORK/Caddyfile" --adapter caddyfile
# Passerelle-rendered configurations: the real driver renders, validates (-c / -t) and starts the
# proxy as its child; the driver process is pinned like the others, so the proxy inherits the CPU.
for name in haproxy-r1 haproxy-r10k nginx-r1 nginx-r10k; do
  has "$name" || continue
  hosts=0; [[ "$name" == *-r10k ]] && hosts="$RENDERED_HOSTS"
  start "$name" "${PROXY_CPU[@]}" "$NODE" "$ROOT/bench/rendered-proxy.ts" "${name%%-*}" "${PORT[$name]}" "$BACKEND" "$hosts" "$WORK/rendered/$name"
done

for name in backend "${ORDER[@]}"; do
  port="$BACKEND"; [[ "$name" != backend ]] && port="${PORT[$name]}"
  for _ in $(seq 1 300); do
    if curl -fs -o /dev/null -H "$HOST_HEADER" "http://127.0.0.1:$port/"; then break; fi
    sleep 0.1
  done
  # Each peer must answer with the backend's own body, not an answer of its own (a 200 page, a redirect).
  body="$(curl -fs -H "$HOST_HEADER" "http://127.0.0.1:$port/" || true)"
  [[ "$body" == ok ]] || { echo "$name did not answer the backend's body (got: ${body:0:80}):" >&2; cat "$WORK/$name.log" >&2; exit 1; }
done
for name in haproxy-r1 haproxy-r10k nginx-r1 nginx-r10k; do has "$name" && sed -n 1p "$WORK/$name.log" >&2; done

to_ms() { # wrk latency value (e.g. 512.00us, 1.20ms, 1.01s) -> milliseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n = n / 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n = n * 1000
    printf "%.3f", n }'
}

echo "warming up ($WARMUP each)..." >&2
for name in "${ORDER[@]}"; do
  "${LOAD_CPU[@]}" wrk -t1 -c"$CONNECTIONS" -d"$WARMUP" -H "$HOST_HEADER" "http://127.0.0.1:${PORT[$name]}/" >/dev/null
done

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for name in "${ORDER[@]}"; do
    out="$("${LOAD_CPU[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -H "$HOST_HEADER" "http://127.0.0.1:${PORT[$name]}/")"
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p50="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
    p99="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
    errors="$(awk '/Non-2xx or 3xx responses:|Socket errors:/ {print}' <<<"$out" | tr '\n' ' ')"
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rps" "$p50" "$p99" "${errors:-}" >>"$RESULTS"
    printf 'round %s %-12s %10s req/s  p50 %7s ms  p99 %7s ms %s\n' "$round" "$name" "$rps" "$p50" "$p99" "${errors:-}" >&2
  done
done

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
declare -A RPS P50 P99
for name in "${ORDER[@]}"; do
  RPS[$name]="$(awk -v n="$name" -F'\t' '$1 == n {print $2}' "$RESULTS" | median)"
  P50[$name]="$(awk -v n="$name" -F'\t' '$1 == n {print $3}' "$RESULTS" | median)"
  P99[$name]="$(awk -v n="$name" -F'\t' '$1 == n {print $4}' "$RESULTS" | median)"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f×", a / b }'; }
echo
echo "wrk -t1 -c$CONNECTIONS -d$DURATION --latency -H '$HOST_HEADER', $ROUNDS interleaved rounds, medians; backend: nginx return 200, 1 worker"
echo "(-r1: Passerelle-rendered, one host; -r10k: rendered, $RENDERED_HOSTS hosts + the measured one)"
printf '| %-12s | %10s | %8s | %8s | %10s | %9s |\n' proxy "req/s" "p50 ms" "p99 ms" "vs HAProxy" "vs Caddy"
printf '|%s|%s|%s|%s|%s|%s|\n' "--------------" "------------" "----------" "----------" "------------" "-----------"
for name in "${ORDER[@]}"; do
  printf '| %-12s | %10.0f | %8.2f | %8.2f | %10s | %9s |\n' "$name" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "$(ratio "${RPS[$name]}" "${RPS[haproxy]:-}")" "$(ratio "${RPS[$name]}" "${RPS[caddy]:-}")"
done
echo
if has native && has haproxy && has caddy; then
  awk -v n="${RPS[native]}" -v h="${RPS[haproxy]}" -v c="${RPS[caddy]}" -v np="${P99[native]}" -v cp="${P99[caddy]}" 'BEGIN {
    printf "target native >= 0.5x HAProxy req/s: %s (%.2fx)\n", (n >= 0.5 * h ? "met" : "NOT met"), n / h
    printf "target native >= 1.5x Caddy req/s:   %s (%.2fx)\n", (n >= 1.5 * c ? "met" : "NOT met"), n / c
    printf "target native p99 <= Caddy p99:      %s (%.2f ms vs %.2f ms)\n", (np <= cp ? "met" : "NOT met"), np, cp
  }'
fi
for proxy in haproxy nginx; do
  for variant in r1 r10k; do
    has "$proxy" && has "$proxy-$variant" || continue
    awk -v r="${RPS[$proxy-$variant]}" -v h="${RPS[$proxy]}" -v p="$proxy" -v v="$variant" 'BEGIN {
      printf "target rendered %-7s %-4s >= 0.95x hand-written req/s: %s (%.2fx)\n", p, v, (r >= 0.95 * h ? "met" : "NOT met"), r / h
    }'
  done
done
