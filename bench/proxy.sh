#!/usr/bin/env bash
# Side-by-side reverse proxy benchmark: Passerelle native (1 and 2 worker threads), a minimal undici
# proxy (the floor of one Node process), hand-written HAProxy, nginx and Caddy configurations,
# hand-written HAProxy and nginx configs with the same behaviour as the rendered ones (the anchors of
# the rendered rows), and Passerelle-RENDERED HAProxy and nginx configurations (one host, and 10,000 hosts plus the
# measured one), all in front of one fast nginx backend, driven by wrk in interleaved rounds.
# Loopback only. ~9 minutes.
# Usage: bench/proxy.sh   (env: ROUNDS=3 DURATION=10s CONNECTIONS=50 RENDERED_HOSTS=10000
#                          PROXIES="native-w1 native-w2 undici haproxy haproxy-same haproxy-same10k nginx nginx-same caddy
#                                   haproxy-r1 haproxy-r10k nginx-r1 nginx-r10k")
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-50}"
WARMUP="${WARMUP:-3s}"
RENDERED_HOSTS="${RENDERED_HOSTS:-10000}"
# Every request names the one host the rendered configurations route (the hand-written ones ignore it).
HOST_HEADER="Host: target.bench.test"

source "$ROOT/bench/lib.sh"
need_binaries wrk haproxy nginx caddy
bench_work passerelle-bench

# One core for the proxy under test, the other for wrk and the backend, when taskset exists. native-w2
# has two threads to spread: it may run on both cores, the first shared with wrk and the backend.
PROXY_CPU=(); LOAD_CPU=(); BOTH_CPU=(); SPLIT="no taskset (or 1 CPU): nothing pinned"
if command -v taskset >/dev/null 2>&1 && [[ "$(nproc)" -ge 2 ]]; then
  PROXY_CPU=(taskset -c 1); LOAD_CPU=(taskset -c 0); BOTH_CPU=(taskset -c 0,1)
  SPLIT="each proxy pinned to CPU 1, wrk + backend to CPU 0; native-w2 on CPUs 0-1 (its 2 threads share CPU 0 with wrk + backend)"
fi

BACKEND=28080
declare -A PORT=([native-w1]=28081 [haproxy]=28082 [nginx]=28083 [caddy]=28084 [haproxy-r1]=28085 [haproxy-r10k]=28086 [nginx-r1]=28087 [nginx-r10k]=28088
  [native-w2]=28089 [undici]=28090 [haproxy-same]=28091 [nginx-same]=28092 [haproxy-same10k]=28093)
read -r -a ORDER <<<"${PROXIES:-native-w1 native-w2 undici haproxy haproxy-same haproxy-same10k nginx nginx-same caddy haproxy-r1 haproxy-r10k nginx-r1 nginx-r10k}"
for name in "${ORDER[@]}"; do [[ -n "${PORT[$name]:-}" ]] || { echo "unknown proxy $name (rows: ${!PORT[*]})" >&2; exit 2; }; done
has() { local x; for x in "${ORDER[@]}"; do [[ "$x" == "$1" ]] && return 0; done; return 1; }

for p in "$BACKEND" "${PORT[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p is busy" >&2; exit 1; fi
done

mkdir -p "$WORK/backend" "$WORK/nginx" "$WORK/rendered" "$WORK/same"
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

# haproxy-same: what the rendered one-host configuration (bench/rendered-proxy.ts, haproxy-r1) does per
# request, written by hand: the same edge rules (host and header checks, path normalisation with the
# query kept, body wait, absolute-form, forwarding headers, hop-by-hop headers listed in Connection,
# Server header, failed-request log), the same defaults and backend rules, and routing by ONE exact
# map_str (host + "=" + path: Exact routes) and ONE longest-prefix map_beg (host + path + "/": Prefix
# routes, element-wise). Without Passerelle's template structure: no master-worker, stats socket or
# error files, no wildcard / "*" host fallbacks (none in this model), no spare server slots, and the
# trust ACLs (no trusted client) folded away: forwarding headers deleted and set unconditionally.
cat >"$WORK/same/routes.map" <<MAP
target.bench.test/ be_web0
MAP
: >"$WORK/same/unavailable.map"
cat >"$WORK/same/hop.lua" <<'LUA'
-- Connection tokens that name no header to drop, and the headers a client must not remove.
local PLAIN = {
  ["keep-alive"] = true, ["close"] = true, ["upgrade"] = true, ["host"] = true,
  ["content-length"] = true, ["transfer-encoding"] = true,
  ["x-forwarded-for"] = true, ["x-forwarded-proto"] = true, ["x-forwarded-host"] = true,
  ["x-forwarded-port"] = true, ["x-real-ip"] = true, ["forwarded"] = true,
}
local function listed(values)
  local names = {}
  local upgrade = false
  if values == nil then return names, upgrade end
  for _, value in pairs(values) do
    for token in string.gmatch(value, "[^,%s]+") do
      local t = string.lower(token)
      if t == "upgrade" then upgrade = true end
      if not PLAIN[t] then names[#names + 1] = t end
    end
  end
  return names, upgrade
end
core.register_action("hop_req", { "http-req" }, function(txn)
  local names, upgrade = listed(txn.http:req_get_headers()["connection"])
  for _, name in ipairs(names) do txn.http:req_del_header(name) end
  if upgrade then txn.http:req_set_header("connection", "upgrade") else txn.http:req_del_header("connection") end
end, 0)
core.register_action("hop_res", { "http-res" }, function(txn)
  local names, upgrade = listed(txn.http:res_get_headers()["connection"])
  for _, name in ipairs(names) do txn.http:res_del_header(name) end
  if upgrade then txn.http:res_set_header("connection", "upgrade") else txn.http:res_del_header("connection") end
end, 0)
LUA
cat >"$WORK/same/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4000
  expose-experimental-directives
  lua-load '$WORK/same/hop.lua'
  log 127.0.0.1:9 len 8192 format raw local0 info
  tune.http.maxhdr 256
defaults
  mode http
  option http-keep-alive
  option idle-close-on-response
  option redispatch 1
  retries 2
  retry-on conn-failure
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-request 10s
  timeout http-keep-alive 10s
  timeout tunnel 1h
  timeout client-fin 5s
  log global
  option dontlog-normal
  log-format "%{+E}o{\"t\":%Ts%ms,\"f\":\"%f\",\"c\":\"%ci\",\"m\":\"%HM\",\"h\":\"%[var(txn.host)]\",\"u\":\"%HU\",\"v\":\"%HV\",\"s\":%ST,\"B\":%B,\"cl\":\"%[var(txn.pass_cl)]\",\"Ta\":%Ta,\"b\":\"%b\",\"sv\":\"%s\",\"si\":\"%si\",\"sp\":\"%sp\",\"ts\":\"%ts\"}"
frontend fe
  bind 127.0.0.1:${PORT[haproxy-same]}
  http-request deny deny_status 400 if { req.fhdr_cnt(host) gt 1 }
  http-request deny deny_status 400 if { req.ver 1.1 } !{ req.fhdr(host) -m found }
  http-request deny deny_status 400 if { req.fhdr(host) -m found } !{ req.fhdr(host) -m reg '^([A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?\$' }
  http-request deny deny_status 400 if { req.hdrs -m reg '[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]' }
  http-request deny deny_status 400 if { path -m reg '[\\\\\x00-\x20\x7f#]|%[01][0-9A-Fa-f]|%7[Ff]|%2[Ff]|%5[Cc]|%(?![0-9A-Fa-f]{2})' }
  http-request set-var(txn.pass_query) query
  http-request normalize-uri percent-to-uppercase
  http-request normalize-uri percent-decode-unreserved
  http-request set-query %[var(txn.pass_query)] if { var(txn.pass_query) -m found }
  http-request normalize-uri path-merge-slashes
  http-request normalize-uri path-strip-dot
  http-request normalize-uri path-strip-dotdot
  http-request deny deny_status 400 if { path -m reg '(^|/)\.\.(/|\$)|/\.\.?(;|%3B)' }
  http-request wait-for-body time 60s at-least 16k unless { req.hdr(content-type) -m beg application/grpc }
  http-request deny deny_status 400 if !{ url_beg / } !{ url -m reg -i '^https?://[^/?#@]+([/?]|\$)' }
  http-request set-uri %[pathq] unless { url_beg / }
  http-request del-header X-Forwarded-For
  http-request del-header X-Forwarded-Proto
  http-request del-header X-Forwarded-Host
  http-request del-header X-Forwarded-Port
  http-request del-header X-Real-IP
  http-request del-header Forwarded
  http-request set-var(txn.host) req.fhdr(host),field(1,:),lower,regsub('[.]\$','')
  http-request lua.hop_req if { req.hdr(connection) -m reg -i '^(?!(keep-alive|close|upgrade)\$)' }
  http-response lua.hop_res if { res.hdr(connection) -m reg -i '^(?!(keep-alive|close|upgrade)\$)' }
  http-after-response set-var(txn.pass_cl) res.hdr(content-length)
  http-request set-header X-Forwarded-For %[src]
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.fhdr(host)]
  http-request set-header X-Forwarded-Port ${PORT[haproxy-same]}
  http-request set-header X-Real-IP %[src]
  http-request del-header Proxy-Connection
  http-request del-header Proxy-Authorization
  http-request del-header Keep-Alive
  http-request del-header TE
  http-request del-header Trailer
  http-response set-header Server passerelle unless { res.hdr(server) -m found }
  http-request set-var(txn.pp) path
  http-request set-var(txn.be) var(txn.host),concat(=,txn.pp),map_str('$WORK/same/routes.map')
  http-request set-var(txn.be) var(txn.host),concat(,txn.pp,/),map_beg('$WORK/same/routes.map') if !{ var(txn.be) -m found }
  use_backend %[var(txn.be)] if { var(txn.be) -m found }
  default_backend not_found
backend be_web0
  balance roundrobin
  http-request set-var(txn.pass_why) be_name,map_str('$WORK/same/unavailable.map') if { nbsrv eq 0 }
  http-request return status 503 content-type text/plain lf-string 'Service Unavailable: %[var(txn.pass_why)]' if { var(txn.pass_why) -m found } !{ stopping }
  http-request return status 503 content-type text/plain string 'Service Unavailable: no endpoint is ready' if { nbsrv eq 0 } !{ stopping }
  server s1 127.0.0.1:$BACKEND weight 1
backend not_found
  http-request return status 404 content-type text/plain string 'Not Found'
CONF

# haproxy-same10k: haproxy-same with the routing map of the rendered 10,000-host configuration (each
# host's "/" and "/api" Prefix routes, and the measured host): the anchor of haproxy-r10k, whose
# lookups search a map of that size.
if has haproxy-same10k; then
  mkdir -p "$WORK/same10k"
  cp "$WORK/same/hop.lua" "$WORK/same/unavailable.map" "$WORK/same10k/"
  { echo "target.bench.test/ be_web0"; for ((i = 0; i < RENDERED_HOSTS; i++)); do printf 'h%05d.bench.test/ be_web0\nh%05d.bench.test/api/ be_web0\n' "$i" "$i"; done; } >"$WORK/same10k/routes.map"
  sed -e "s|$WORK/same/|$WORK/same10k/|g" -e "s|127.0.0.1:${PORT[haproxy-same]}\$|127.0.0.1:${PORT[haproxy-same10k]}|" -e "s|X-Forwarded-Port ${PORT[haproxy-same]}\$|X-Forwarded-Port ${PORT[haproxy-same10k]}|" "$WORK/same/haproxy.cfg" >"$WORK/same10k/haproxy.cfg"
fi

# nginx-same: what the rendered one-host nginx configuration (nginx-r1) does per request, written by
# hand: the same request checks (the $request / $request_uri / authority / dot-segment maps, one `if`),
# the same forwarded headers, Server header (headers-more), charset, timeouts, unbuffered proxying with
# the location URI, 404 for other hosts and the failed-request log; a static upstream with keepalive in
# place of the Lua balancer (the endpoints mechanism, not behaviour), no admin socket, no error pages.
mkdir -p "$WORK/nginx-same"
cat >"$WORK/nginx-same/nginx.conf" <<'CONF'
load_module /usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so;
worker_processes 1;
daemon off;
pid @WORK@/nginx-same/nginx.pid;
error_log @WORK@/nginx-same/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path @WORK@/nginx-same/body;
  proxy_temp_path @WORK@/nginx-same/proxy;
  fastcgi_temp_path @WORK@/nginx-same/fastcgi;
  uwsgi_temp_path @WORK@/nginx-same/uwsgi;
  scgi_temp_path @WORK@/nginx-same/scgi;
  map_hash_max_size 512;
  map_hash_bucket_size 256;
  log_format pass_json escape=json '{"t":"$msec","p":"$server_port","c":"$realip_remote_addr","m":"$request_method","h":"$host","u":"$request_uri","v":"$server_protocol","s":$status,"B":$body_bytes_sent,"rt":"$request_time","b":"$proxy_host","ua":"$upstream_addr","us":"$upstream_status","uct":"$upstream_connect_time"}';
  map $status $pass_log_failure { "~^50[234]$" 1; default 0; }
  access_log syslog:server=127.0.0.1:9,nohostname,tag=passerelle pass_json if=$pass_log_failure;
  server_tokens off;
  default_type text/plain;
  charset utf-8;
  sendfile on;
  tcp_nodelay on;
  keepalive_timeout 10s;
  keepalive_requests 1000000;
  client_max_body_size 0;
  merge_slashes on;
  client_header_timeout 10s;
  client_body_timeout 60s;
  proxy_http_version 1.1;
  proxy_connect_timeout 5s;
  proxy_read_timeout 60s;
  proxy_send_timeout 60s;
  proxy_buffering off;
  proxy_request_buffering off;
  proxy_pass_header Server;
  map $upstream_http_server $pass_server { default $upstream_http_server; '' passerelle; }
  more_set_headers "Server: $pass_server";
  proxy_next_upstream error timeout;
  map $http_upgrade $pass_connection { default upgrade; '' ''; }
  map $request $pass_authority {
    "~^[A-Z]+ [hH][tT][tT][pP][sS]?://(?<a>[^/?#@ ]+)" $a;
    default $http_host;
  }
  map $request $pass_bad_target {
    "~^[A-Z]+ /" "";
    "~^[A-Z]+ [hH][tT][tT][pP][sS]?://[^/?#@ ]+[/? ]" "";
    default 1;
  }
  map $request_uri $pass_bad_path {
    "~^[^?]*(\x5c|%[01][0-9A-Fa-f]|%7[Ff]|%2[Ff]|%5[Cc]|%(?![0-9A-Fa-f]{2}))" 1;
    default "";
  }
  map $pass_authority $pass_bad_authority {
    "" "";
    "~^(|([A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?)$" "";
    default 1;
  }
  map $uri $pass_bad_dots { "~/\.\.?;" 1; default ""; }
  map "$pass_bad_target$pass_bad_path$pass_bad_authority$pass_bad_dots" $pass_reject { "" ""; default 1; }
  upstream web0 { server 127.0.0.1:@BACKEND@; keepalive 320; }
  proxy_set_header Host $pass_authority;
  proxy_set_header X-Forwarded-For $remote_addr;
  proxy_set_header X-Forwarded-Proto http;
  proxy_set_header X-Forwarded-Host $pass_authority;
  proxy_set_header X-Forwarded-Port @PORT@;
  proxy_set_header X-Real-IP $remote_addr;
  proxy_set_header Forwarded "";
  proxy_set_header Upgrade $http_upgrade;
  proxy_set_header Connection $pass_connection;
  proxy_set_header Proxy-Authorization "";
  proxy_set_header Proxy-Connection "";
  proxy_set_header Keep-Alive "";
  proxy_set_header TE "";
  server {
    listen 127.0.0.1:@PORT@ default_server;
    if ($pass_reject) { return 400; }
    location / { return 404 "Not Found"; }
  }
  server {
    listen 127.0.0.1:@PORT@;
    server_name target.bench.test;
    if ($pass_reject) { return 400; }
    location / { proxy_pass http://web0/; }
  }
}
CONF
sed -i -e "s|@WORK@|$WORK|g" -e "s|@BACKEND@|$BACKEND|g" -e "s|@PORT@|${PORT[nginx-same]}|g" "$WORK/nginx-same/nginx.conf"

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
# The driver is created with the worker count given here, whatever `[proxy] workers` defaults to.
# shellcheck disable=SC2086 # NATIVE_NODE_FLAGS is a list of flags
has native-w1 && start native-w1 "${PROXY_CPU[@]}" "$NODE" ${NATIVE_NODE_FLAGS:-} "$ROOT/bench/native-proxy.ts" "${PORT[native-w1]}" "$BACKEND" 1
# shellcheck disable=SC2086
has native-w2 && start native-w2 "${BOTH_CPU[@]}" "$NODE" ${NATIVE_NODE_FLAGS:-} "$ROOT/bench/native-proxy.ts" "${PORT[native-w2]}" "$BACKEND" 2
# shellcheck disable=SC2086
has undici && start undici "${PROXY_CPU[@]}" "$NODE" ${NATIVE_NODE_FLAGS:-} "$ROOT/bench/undici-floor.ts" "${PORT[undici]}" "$BACKEND"
has haproxy && start haproxy "${PROXY_CPU[@]}" haproxy -db -f "$WORK/haproxy.cfg"
has haproxy-same && start haproxy-same "${PROXY_CPU[@]}" haproxy -db -f "$WORK/same/haproxy.cfg"
has haproxy-same10k && start haproxy-same10k "${PROXY_CPU[@]}" haproxy -db -f "$WORK/same10k/haproxy.cfg"
has nginx && start nginx "${PROXY_CPU[@]}" nginx -p "$WORK/nginx" -c "$WORK/nginx.conf"
has nginx-same && start nginx-same "${PROXY_CPU[@]}" nginx -p "$WORK/nginx-same" -c "$WORK/nginx-same/nginx.conf"
has caddy && start caddy env GOMAXPROCS=1 HOME="$WORK" XDG_DATA_HOME="$WORK" XDG_CONFIG_HOME="$WORK" "${PROXY_CPU[@]}" caddy run --config "$WORK/Caddyfile" --adapter caddyfile
# Passerelle-rendered configurations: the real driver renders, validates (-c / -t) and starts the
# proxy as its child; the driver process is pinned like the others, so the proxy inherits the CPU.
for name in haproxy-r1 haproxy-r10k nginx-r1 nginx-r10k; do
  has "$name" || continue
  hosts=0; [[ "$name" == *-r10k ]] && hosts="$RENDERED_HOSTS"
  start "$name" "${PROXY_CPU[@]}" "$NODE" "$ROOT/bench/rendered-proxy.ts" "${name%%-*}" "${PORT[$name]}" "$BACKEND" "$hosts" "$WORK/rendered/$name"
done

await_answers backend "${ORDER[@]}"
# The same-behaviour configs route by host like the rendered ones: another host is not found. With
# the rendered one-host config running too, both must answer a few edge cases alike (the status; the
# body of a 200: error pages differ, the rendered configs have error pages of their own).
probe() { local out; out="$(curl -s --path-as-is -o - -w ' %{http_code}' "$@")"; if [[ "$out" == *' 200' ]]; then echo "$out"; else echo "${out##* }"; fi; }
for same in haproxy-same haproxy-same10k nginx-same; do
  has "$same" || continue
  code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: other.bench.test' "http://127.0.0.1:${PORT[$same]}/")"
  [[ "$code" == 404 ]] || { echo "$same answered $code for an unrouted host, not 404" >&2; exit 1; }
done
# The 10,000-host anchor routes its other hosts as the rendered 10,000-host configuration does.
if has haproxy-same10k && has haproxy-r10k; then
  for req in "h00042.bench.test /" "h09999.bench.test /api/x" "h10000.bench.test /"; do
    host="${req% *}"; path="${req#* }"
    a="$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $host" "http://127.0.0.1:${PORT[haproxy-same10k]}$path")"
    b="$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $host" "http://127.0.0.1:${PORT[haproxy-r10k]}$path")"
    [[ "$a" == "$b" ]] || { echo "haproxy-same10k and haproxy-r10k differ on Host $host, $path: $a vs $b" >&2; exit 1; }
  done
fi
for proxy in haproxy nginx; do
  has "$proxy-same" || continue
  has "$proxy-r1" || continue
  for req in "target.bench.test /" "TARGET.bench.test. /x/./y" "target.bench.test:80 //a//b?q=%2f" "other.bench.test /" \
    "target.bench.test /a%2fb" "target.bench.test /a/../../b" "target.bench.test /a/..;/b" "target.bench.test /%zz" "bad_host! /"; do
    host="${req% *}"; path="${req#* }"
    a="$(probe -H "Host: $host" "http://127.0.0.1:${PORT[$proxy-same]}$path")"
    b="$(probe -H "Host: $host" "http://127.0.0.1:${PORT[$proxy-r1]}$path")"
    [[ "$a" == "$b" ]] || { echo "$proxy-same and $proxy-r1 differ on Host $host, $path: '$a' vs '$b'" >&2; exit 1; }
  done
  echo "$proxy-same answers 9 edge-case requests as $proxy-r1 does" >&2
done
for name in native-w1 native-w2 undici haproxy-r1 haproxy-r10k nginx-r1 nginx-r10k; do has "$name" && sed -n 1p "$WORK/$name.log" >&2; done

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
# The same-behaviour anchor of a rendered row.
anchor() { case "$1" in haproxy-r10k) if has haproxy-same10k; then echo haproxy-same10k; else echo haproxy-same; fi ;; haproxy-r*) echo haproxy-same ;; nginx-r*) echo nginx-same ;; *) echo "" ;; esac; }
echo
echo "wrk -t1 -c$CONNECTIONS -d$DURATION --latency -H '$HOST_HEADER', $ROUNDS interleaved rounds, medians; backend: nginx return 200, 1 worker"
echo "(-r1: Passerelle-rendered, one host; -r10k: rendered, $RENDERED_HOSTS hosts + the measured one;"
echo " haproxy-same / nginx-same: hand-written, the rendered one-host behaviour (HAProxy: one map_str + one map_beg); haproxy-same10k: the same with the 10,000-host map (anchor of haproxy-r10k); native-wN: N worker threads;"
echo " undici: node:http + undici Pool, no routing, the floor of one Node process)"
echo "cores: $SPLIT"
printf '| %-12s | %10s | %8s | %8s | %10s | %9s | %9s |\n' proxy "req/s" "p50 ms" "p99 ms" "vs HAProxy" "vs Caddy" "vs same"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "--------------" "------------" "----------" "----------" "------------" "-----------" "-----------"
for name in "${ORDER[@]}"; do
  a="$(anchor "$name")"
  same="n/a"; [[ -n "$a" ]] && same="$(ratio "${RPS[$name]}" "${RPS[$a]:-}")"
  printf '| %-12s | %10.0f | %8.2f | %8.2f | %10s | %9s | %9s |\n' "$name" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "$(ratio "${RPS[$name]}" "${RPS[haproxy]:-}")" "$(ratio "${RPS[$name]}" "${RPS[caddy]:-}")" "$same"
done
echo
if has native-w1 && has native-w2; then
  awk -v a="${RPS[native-w2]}" -v b="${RPS[native-w1]}" -v s="$SPLIT" 'BEGIN {
    printf "native 2 workers / 1 worker req/s: %.2fx (%s)\n", a / b, s }'
fi
if has native-w1 && has undici; then
  awk -v a="${RPS[native-w1]}" -v b="${RPS[undici]}" 'BEGIN { printf "native 1 worker / undici floor req/s: %.2fx\n", a / b }'
fi
for native in native-w1 native-w2; do
  has "$native" && has haproxy && has caddy || continue
  awk -v w="$native" -v n="${RPS[$native]}" -v h="${RPS[haproxy]}" -v c="${RPS[caddy]}" -v np="${P99[$native]}" -v cp="${P99[caddy]}" 'BEGIN {
    printf "target %s >= 0.5x HAProxy req/s: %s (%.2fx)\n", w, (n >= 0.5 * h ? "met" : "NOT met"), n / h
    printf "target %s >= 1.5x Caddy req/s:   %s (%.2fx)\n", w, (n >= 1.5 * c ? "met" : "NOT met"), n / c
    printf "target %s p99 <= Caddy p99:      %s (%.2f ms vs %.2f ms)\n", w, (np <= cp ? "met" : "NOT met"), np, cp
  }'
done
for variant in r1 r10k; do
  a="$(anchor "haproxy-$variant")"
  has "$a" && has "haproxy-$variant" || continue
  awk -v r="${RPS[haproxy-$variant]}" -v h="${RPS[$a]}" -v v="$variant" -v a="$a" 'BEGIN {
    printf "target rendered haproxy %-4s >= 0.97x same-behaviour req/s (%s): %s (%.2fx)\n", v, a, (r >= 0.97 * h ? "met" : "NOT met"), r / h
  }'
done
for variant in r1 r10k; do
  has nginx-same && has "nginx-$variant" || continue
  awk -v r="${RPS[nginx-$variant]}" -v h="${RPS[nginx-same]}" -v v="$variant" 'BEGIN {
    printf "rendered nginx %-4s vs same-behaviour req/s: %.2fx (reported)\n", v, r / h
  }'
done
