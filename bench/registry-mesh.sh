#!/usr/bin/env bash
# Mesh formation time of a forest from the registry alone (issue 7): N forest-servers, each in
# its own network namespace with its own IPv6 address (the registry gives only addresses: every
# node listens on port 6222, so they cannot share one network stack), all listed in one
# registry.json, each started with --node-info and --registry and nothing else about its peers.
# Reports, per round, the time from launching the first node to every node's /routez listing
# exactly N-1 routes (polled every 10 ms), and the median. nats-server has no registry, so
# there is no ratio here; `forest-bench cluster` has the --routes mesh time of both servers.
#
#   sudo bench/registry-mesh.sh [nodes=4] [rounds=5]
# Needs root and iproute2; uses build/app/forest-server (scripts/build.sh build first).
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=${1:-4}
rounds=${2:-5}
bin=build/app/forest-server
[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces)" >&2; exit 2; }
[[ -x $bin ]] || { echo "missing $bin: run scripts/build.sh build" >&2; exit 2; }
command -v curl >/dev/null || { echo "needs curl" >&2; exit 2; }

tag=$$
prefix="fdf1:$(printf %x $((tag % 65536)))::"
dir=$(mktemp -d)
br="frb$tag"
cleanup() {
  for ((i = 1; i <= nodes; i++)); do
    ip netns pids "frm$tag-$i" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns delete "frm$tag-$i" 2>/dev/null || true
  done
  ip link delete "$br" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

ip link add "$br" type bridge
ip addr add "${prefix}ff/64" dev "$br" nodad
ip link set "$br" up
for ((i = 1; i <= nodes; i++)); do
  ns="frm$tag-$i"
  ip netns add "$ns"
  ip link add "frv$tag-$i" type veth peer name eth0 netns "$ns"
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "${prefix}$i/64" dev eth0 nodad
  ip -n "$ns" link set eth0 up
  ip link set "frv$tag-$i" master "$br"
  ip link set "frv$tag-$i" up
done

{
  printf '{"nodes":{"forest-bench":['
  for ((i = 1; i <= nodes; i++)); do
    ((i > 1)) && printf ','
    printf '{"id":"node-%d","ip":"%s%d","forest_id":"forest-bench"}' "$i" "$prefix" "$i"
  done
  printf ']}}\n'
} > "$dir/registry.json"
for ((i = 1; i <= nodes; i++)); do
  printf '{"forest_id":"forest-bench","node_id":"node-%d"}\n' "$i" > "$dir/node-info-$i.json"
done

routes_of() {  # number of routes node $1 reports
  curl -s --max-time 1 "http://[${prefix}$1]:8222/routez" | grep -o '"num_routes":[0-9]*' | cut -d: -f2
}

times=()
for ((r = 1; r <= rounds; r++)); do
  start=$(date +%s%N)
  for ((i = 1; i <= nodes; i++)); do
    ip netns exec "frm$tag-$i" "$bin" -a :: -p 4222 -m 8222 --node-info "$dir/node-info-$i.json" \
      --registry "$dir/registry.json" --registry_interval 1s > "$dir/log-$r-$i" 2>&1 &
  done
  deadline=$((start + 30000000000))
  while :; do
    full=1
    for ((i = 1; i <= nodes; i++)); do
      [[ "$(routes_of "$i")" == "$((nodes - 1))" ]] || { full=0; break; }
    done
    ((full)) && break
    (($(date +%s%N) > deadline)) && { echo "round $r: no full mesh in 30 s" >&2; exit 1; }
    sleep 0.01
  done
  ms=$((($(date +%s%N) - start) / 1000000))
  times+=("$ms")
  echo "round $r: full mesh of $nodes in $ms ms"
  for ((i = 1; i <= nodes; i++)); do ip netns pids "frm$tag-$i" | xargs -r kill -TERM; done
  for ((i = 1; i <= nodes; i++)); do
    while [[ -n "$(ip netns pids "frm$tag-$i")" ]]; do sleep 0.05; done
  done
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
echo "median: $median ms over $rounds rounds ($nodes nodes, registry only)"
