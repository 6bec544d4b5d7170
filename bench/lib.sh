# Shared set-up of the bench scripts (source it after ROOT is set): missing binaries from Debian's
# archive, Node 24 from node_modules, and a work folder whose processes are stopped and which is
# removed at exit.

NODE="$ROOT/node_modules/.bin/node"

# need_binaries BIN...: installs the Debian packages of the same names that are missing.
need_binaries() {
  local need=()
  for bin in "$@"; do command -v "$bin" >/dev/null 2>&1 || need+=("$bin"); done
  if ((${#need[@]})); then
    echo "installing: ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  [[ -x "$NODE" ]] || { echo "run npm ci first (Node 24 comes from node_modules)" >&2; exit 1; }
}

# bench_work PREFIX: sets WORK (a new folder under /tmp) and PIDS (processes to stop at exit).
bench_work() {
  WORK="$(mktemp -d "/tmp/$1.XXXXXX")"
  PIDS=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}

# to_ms VALUE: a wrk latency (512.00us, 1.20ms, 1.01s) in milliseconds.
to_ms() { # wrk latency value (e.g. 512.00us, 1.20ms, 1.01s) -> milliseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n = n / 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n = n * 1000
    printf "%.3f", n }'
}

# await_answers NAME...: waits for each peer (its port PORT[NAME]; "backend": $BACKEND) to answer, then
# requires the backend's own body "ok", not an answer of the peer's own (a 200 page, a redirect).
await_answers() {
  local name port body
  for name in "$@"; do
    port="$BACKEND"; [[ "$name" != backend ]] && port="${PORT[$name]}"
    for _ in $(seq 1 300); do
      if curl -fs -o /dev/null -H "$HOST_HEADER" "http://127.0.0.1:$port/"; then break; fi
      sleep 0.1
    done
    body="$(curl -fs -H "$HOST_HEADER" "http://127.0.0.1:$port/" || true)"
    [[ "$body" == ok ]] || { echo "$name did not answer the backend's body (got: ${body:0:80}):" >&2; cat "$WORK/$name.log" >&2; exit 1; }
  done
}
