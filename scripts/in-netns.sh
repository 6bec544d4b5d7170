#!/usr/bin/env bash
# Runs a command in a private network namespace created for this run, so that test upstreams can use
# addresses the real kube-apiserver accepts in EndpointSlices (it refuses 127.0.0.0/8):
#
#   inside:  lo up (127.0.0.1) and 192.0.2.1/24 on lo, so every address of 192.0.2.0/24 (TEST-NET-1,
#            RFC 5737) is local; echo servers bind 192.0.2.10 and up.
#   outside: nothing. The namespace has no other interface and no route out; it disappears with the
#            command. Nothing the tests start (etcd, kube-apiserver, controller, proxies, clients)
#            can reach or be reached from the machine's network.
#
# Usage: bash scripts/in-netns.sh CMD [ARGS...]
# Needs root (unshare --net); as another user it tries a user namespace (unshare -r --net).
set -euo pipefail
if [ "$#" -eq 0 ]; then
  echo "usage: bash scripts/in-netns.sh CMD [ARGS...]" >&2
  exit 2
fi
for tool in unshare ip; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "scripts/in-netns.sh: '$tool' is missing (Debian packages util-linux and iproute2)" >&2
    exit 1
  fi
done
userns=()
if [ "$(id -u)" -ne 0 ]; then userns=(--user --map-root-user); fi
# A dummy interface would do as well, but its kernel module is not always there: an address with a
# prefix on lo makes the whole prefix local just the same.
exec unshare "${userns[@]}" --net -- bash -c '
  set -e
  ip link set lo up
  ip addr add 192.0.2.1/24 dev lo
  export PASSERELLE_NETNS=1
  exec "$@"
' in-netns "$@"
