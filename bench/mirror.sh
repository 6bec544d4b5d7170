#!/usr/bin/env bash
# Request mirroring (route policy mirror, Gateway API RequestMirror) side by side: for each mode
# (native, haproxy, nginx) the same Passerelle-served route WITHOUT a mirror (plain) and WITH a mirror
# of every request to a second backend (bench/mirror.ts), both backends fast local nginx answering
# "ok", driven by wrk in interleaved rounds (plain first in odd rounds, mirrored first in even ones).
# The mirror backend's request counter (stub_status) is read around every run: copies / requests shows
# the copies arrived (mirrored rows) and that none are made without the policy (plain rows).
# Loopback only (main backend 127.0.0.1, mirror backend 127.0.0.2). ~3 minutes.
# Usage: bench/mirror.sh   (env: ROUNDS=3 DURATION=5s CONNECTIONS=20 WARMUP=2s MODES="native haproxy nginx" PIN=1)
#   PIN=1: each proxy pinned to CPU 1, wrk + both backends to CPU 0 (HAProxy then runs 1 thread);
#   PIN=0: nothing pinned (HAProxy runs one thread per CPU, as the hand-measured figure did).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-20}"
WARMUP="${WARMUP:-2s}"
PIN="${PIN:-1}"
HOST_HEADER="Host: target.bench.test"

source "$ROOT/bench/lib.sh"
need_binaries wrk haproxy nginx curl
bench_work passerelle-mirror-bench

PROXY_CPU=(); LOAD_CPU=(); SPLIT="nothing pinned"
if [[ "$PIN" == 1 ]] && command -v taskset >/dev/null 2>&1 && [[ "$(nproc)" -ge 2 ]]; then
  PROXY_CPU=(taskset -c 1); LOAD_CPU=(taskset -c 0)
  SPLIT="each proxy pinned to CPU 1, wrk + both backends to CPU 0"
fi

BACKEND=28180
MIRROR=28181
MIRROR_STATUS=28182
MIRROR_HOST=127.0.0.2
declare -A PORT=([native-plain]=28184 [native-mirror]=28185 [haproxy-plain]=28186 [haproxy-mirror]=28187 [nginx-plain]=28188 [nginx-mirror]=28189)
read -r -a MODES <<<"${MODES:-native haproxy nginx}"
for mode in "${MODES[@]}"; do [[ -n "${PORT[$mode-plain]:-}" ]] || { echo "unknown mode $mode (native, haproxy, nginx)" >&2; exit 2; }; done

for p in "$BACKEND" "${PORT[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p is busy" >&2; exit 1; fi
done
for p in "$MIRROR" "$MIRROR_STATUS"; do
  if (exec 3<>"/dev/tcp/$MIRROR_HOST/$p") 2>/dev/null; then echo "port $MIRROR_HOST:$p is busy" >&2; exit 1; fi
done

# backend NAME LISTEN EXTRA: a one-worker nginx answering "ok" (as bench/proxy.sh's backend).
backend_conf() {
  mkdir -p "$WORK/$1"
  cat >"$WORK/$1.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/$1/nginx.pid;
error_log $WORK/$1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/$1/body;
  proxy_temp_path $WORK/$1/proxy;
  fastcgi_temp_path $WORK/$1/fastcgi;
  uwsgi_temp_path $WORK/$1/uwsgi;
  scgi_temp_path $WORK/$1/scgi;
  keepalive_requests 1000000;
  server {
    listen $2;
    location / { default_type text/plain; return 200 "ok"; }
  }
$3
}
CONF
}
backend_conf backend "127.0.0.1:$BACKEND" ""
# The mirror backend counts what it gets: stub_status on a port of its own (its own reads count too).
backend_conf mirror "$MIRROR_HOST:$MIRROR" "  server { listen $MIRROR_HOST:$MIRROR_STATUS; location / { stub_status; } }"

start() { # name, command...
  local name="$1"; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
}

start backend "${LOAD_CPU[@]}" nginx -p "$WORK/backend" -c "$WORK/backend.conf"
start mirror "${LOAD_CPU[@]}" nginx -p "$WORK/mirror" -c "$WORK/mirror.conf"
declare -A DRIVER_PID
ORDER=()
for mode in "${MODES[@]}"; do
  for variant in plain mirror; do
    name="$mode-$variant"; ORDER+=("$name")
    mkdir -p "$WORK/$name"
    start "$name" "${PROXY_CPU[@]}" "$NODE" "$ROOT/bench/mirror.ts" "$mode" "$variant" "${PORT[$name]}" "127.0.0.1:$BACKEND" "$MIRROR_HOST:$MIRROR" "$WORK/$name"
    DRIVER_PID[$name]="${PIDS[-1]}"
  done
done

# The mirror backend's counters (stub_status), "accepted-connections requests"; each read counts itself.
mirror_status() { curl -fs "http://$MIRROR_HOST:$MIRROR_STATUS/" | awk 'NR == 3 {print $1, $3}'; }

for _ in $(seq 1 100); do mirror_status >/dev/null 2>&1 && break; sleep 0.1; done
await_answers backend "${ORDER[@]}"
for name in "${ORDER[@]}"; do sed -n 1p "$WORK/$name.log" >&2; done

# count_copies COMMAND...: runs the command and prints how many copies the mirror backend got meanwhile
# and on how many new connections (each status read is one request on one connection of its own).
count_copies() {
  local base after reads=0 a b
  base="$(mirror_status)"
  "$@"
  sleep 0.3
  a="$(mirror_status)"; reads=1
  for _ in $(seq 1 30); do
    sleep 0.3
    b="$(mirror_status)"; reads=$((reads + 1))
    [[ "${b#* }" == "$((${a#* } + 1))" ]] && break
    a="$b"
  done
  after="$b"
  echo "$((${after#* } - ${base#* } - reads)) $((${after% *} - ${base% *} - reads))"
}

# The mirrored routes copy, the plain ones do not: 10 requests each, checked before any figure.
for name in "${ORDER[@]}"; do
  got="$(count_copies bash -c "for i in \$(seq 1 10); do curl -fs -o /dev/null -H '$HOST_HEADER' http://127.0.0.1:${PORT[$name]}/check\$i; done")"
  want=0; [[ "$name" == *-mirror ]] && want=10
  got="${got% *}"
  [[ "$got" == "$want" ]] || { echo "$name: the mirror backend got $got copies of 10 requests, not $want" >&2; cat "$WORK/$name.log" >&2; exit 1; }
done
echo "copies checked: 10 of 10 requests for each mirrored route, 0 for each plain one" >&2

# Threads and processes of each proxy (the driver's children).
describe() {
  local name="$1" pid="${DRIVER_PID[$1]}" kids k
  case "$name" in
    native-*) echo "$(ls "/proc/$pid/task" | wc -l) threads (Node, driver on the main thread)" ;;
    haproxy-*) kids="$(pgrep -P "$pid" haproxy | head -1)"; k="$(pgrep -P "$kids" | head -1)"; echo "worker with $(ls "/proc/$k/task" 2>/dev/null | wc -l) thread(s)" ;;
    nginx-*) kids="$(pgrep -P "$pid" nginx | head -1)"; echo "$(pgrep -P "$kids" | wc -l) worker processes (and cache/helper ones, if any)" ;;
  esac
}
for name in "${ORDER[@]}"; do echo "$name: $(describe "$name")" >&2; done
HAPROXY_THREADS=""
for mode in "${MODES[@]}"; do [[ "$mode" == haproxy ]] && HAPROXY_THREADS="$(describe haproxy-mirror)"; done

echo "warming up ($WARMUP each)..." >&2
for name in "${ORDER[@]}"; do
  "${LOAD_CPU[@]}" wrk -t1 -c"$CONNECTIONS" -d"$WARMUP" -H "$HOST_HEADER" "http://127.0.0.1:${PORT[$name]}/" >/dev/null
done

# The warm-up's last copies land before the first count.
count_copies true >/dev/null

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for mode in "${MODES[@]}"; do
    pair=(plain mirror); ((round % 2 == 0)) && pair=(mirror plain)
    for variant in "${pair[@]}"; do
      name="$mode-$variant"
      out="$WORK/wrk.out"
      counted="$(count_copies bash -c "${LOAD_CPU[*]} wrk -t1 -c$CONNECTIONS -d$DURATION --latency -H '$HOST_HEADER' http://127.0.0.1:${PORT[$name]}/ >'$out'")"
      copies="${counted% *}"; conns="${counted#* }"
      rps="$(awk '/^Requests\/sec:/ {print $2}' "$out")"
      requests="$(awk '/requests in/ {print $1}' "$out")"
      p50="$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")"
      p99="$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")"
      errors="$(awk '/Non-2xx or 3xx responses:|Socket errors:/ {print}' "$out" | tr '\n' ' ')"
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$variant" "$rps" "$p50" "$p99" "$requests" "$copies" "$conns" >>"$RESULTS"
      printf 'round %s %-15s %9s req/s  p50 %7s ms  p99 %7s ms  copies %7s of %7s on %6s connections %s\n' "$round" "$name" "$rps" "$p50" "$p99" "$copies" "$requests" "$conns" "${errors:-}" >&2
    done
  done
done

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
col() { awk -v m="$1" -v v="$2" -v c="$3" -F'\t' '$2 == m && $3 == v {print $c}' "$RESULTS"; }
echo
echo "Request mirroring: one route, Host target.bench.test, Prefix /; plain = no policy, mirror = route policy mirror 100 % to a second backend"
echo "wrk -t1 -c$CONNECTIONS -d$DURATION --latency, $ROUNDS interleaved rounds, medians; backends: nginx return 200 \"ok\", 1 worker each (127.0.0.1 and $MIRROR_HOST)"
echo "cores: $SPLIT; native: driver on the main thread; nginx: 1 worker process${HAPROXY_THREADS:+; haproxy: $HAPROXY_THREADS}"
echo "copies/requests: copies the mirror backend counted (its stub_status) / requests wrk completed, summed over the rounds"
echo "(a little over 1: copies of the requests still in flight when wrk stops, which wrk does not count);"
echo "copies/conn: copies per connection the mirror backend accepted meanwhile (1.0: a new connection per copy)"
printf '| %-7s | %-6s | %9s | %7s | %7s | %12s | %23s | %12s |\n' mode route "req/s" "p50 ms" "p99 ms" "mirror/plain" "copies/requests" "copies/conn"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' "---------" "--------" "-----------" "---------" "---------" "--------------" "-------------------------" "--------------"
for mode in "${MODES[@]}"; do
  plain_rps="$(col "$mode" plain 4 | median)"
  for variant in plain mirror; do
    rps="$(col "$mode" "$variant" 4 | median)"
    p50="$(col "$mode" "$variant" 5 | median)"
    p99="$(col "$mode" "$variant" 6 | median)"
    reqs="$(col "$mode" "$variant" 7 | awk '{s += $1} END {print s}')"
    copies="$(col "$mode" "$variant" 8 | awk '{s += $1} END {print s}')"
    conns="$(col "$mode" "$variant" 9 | awk '{s += $1} END {print s}')"
    # printf pads bytes: "×" takes two.
    ratio="           -"; [[ "$variant" == mirror ]] && ratio="$(awk -v a="$rps" -v b="$plain_rps" 'BEGIN { printf "%11.2f×", a / b }')"
    share="$(awk -v c="$copies" -v r="$reqs" 'BEGIN { printf "%.3f", c / r }')"
    per_conn="$(awk -v c="$copies" -v n="$conns" 'BEGIN { if (c == 0) print "-"; else if (n <= 0) print "all reused"; else printf "%.1f", c / n }')"
    printf '| %-7s | %-6s | %9.0f | %7.2f | %7.2f | %s | %23s | %12s |\n' "$mode" "$variant" "$rps" "$p50" "$p99" "$ratio" "$share ($copies/$reqs)" "$per_conn"
  done
done
echo
# The ratio within each round (plain and mirrored measured back to back): how steady the median is.
for mode in "${MODES[@]}"; do
  per="$(awk -v m="$mode" -F'\t' '$2 == m {r[$1, $3] = $4; n[$1] = 1} END {for (k in n) printf "%s %.2f\n", k, r[k, "mirror"] / r[k, "plain"]}' "$RESULTS" | sort -n | awk '{printf "%s%s×", (NR > 1 ? " " : ""), $2}')"
  echo "$mode mirror/plain req/s per round: $per"
done
