#!/usr/bin/env bash
# bench/mcp.sh — tools/call throughput and latency of capgate's MCP adapter — in a 2025
# session and stateless under 2026-07-28 (bench/mcp-call-2026.lua) — in one run
# against (a) the same call through capgate's REST adapter (same process, same worker
# loops) and (b) a Node MCP server built with the official SDK (bench/node-mcp-server.mjs)
# forwarding to the same upstream. The upstream is nginx answering GET /api/ml/{id} with a
# fixed Label Studio-shaped body, so the numbers measure the gateways, not the upstream.
#
#   bench/mcp.sh [SECONDS] [CONNECTIONS]      (defaults 5 and 64; wrk -t2, 1 s warm-up)
#   NODE=0 bench/mcp.sh ...                   capgate MCP and REST only (no Node SDK server)
#
# Prints one line per target (with capgate's CPU time per request, which machine load disturbs far
# less than throughput) and the ratios; results are recorded in bench/README-mcp.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CAPGATE=$ROOT/build/capgate
DUR=${1:-5}; CONNS=${2:-64}
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
# ports below the ephemeral range (32768+), so no client socket holds them
free_port() { local p; while :; do p=$((20000 + RANDOM % 12000)); (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "nothing on port $1" >&2; return 1; }
[ -x "$CAPGATE" ] || { echo "build capgate first (make)" >&2; exit 1; }
[ -d "$ROOT/node_modules/@modelcontextprotocol/sdk" ] || (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)

WITH_NODE=${NODE:-1}
UP=$(free_port); REST=$(free_port); MCP=$(free_port); NODE=$(free_port)
TARGETS=(capgate_mcp capgate_mcp_2026 capgate_rest); [ "$WITH_NODE" = 1 ] && TARGETS+=(node_sdk_mcp)
BODY='{"id":1,"state":"CO","readable_state":"Connected","is_interactive":false,"url":"http://127.0.0.1:9090","error_message":null,"title":"first","auth_method":"NONE","description":"","model_version":"v1","timeout":100,"project":1}'
cat >"$TMP/nginx.conf" <<NGINX
worker_processes 1;
error_log stderr warn;
pid $TMP/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$UP reuseport backlog=1024;
    location ~ ^/api/ml/[0-9]+\$ { default_type application/json; return 200 '$BODY'; }
  }
}
NGINX
nginx -p "$TMP" -c "$TMP/nginx.conf" -g 'daemon off;' & PIDS+=($!)
wait_port "$UP"
LABEL_STUDIO_API_KEY=bench "$CAPGATE" serve --listen "127.0.0.1:$REST" --mcp-port "$MCP" --threads 2 \
  --base-uri "http://127.0.0.1:$UP" --no-access-log 2>"$TMP/capgate.log" & PIDS+=($!)
CGPID=$!
if [ "$WITH_NODE" = 1 ]; then
  LABEL_STUDIO_API_KEY=bench node "$ROOT/bench/node-mcp-server.mjs" "$NODE" "http://127.0.0.1:$UP" 2>"$TMP/node.log" & PIDS+=($!)
  NODEPID=$!
  wait_port "$NODE" || { cat "$TMP/node.log" >&2; exit 1; }
fi
wait_port "$REST" && wait_port "$MCP" || { cat "$TMP/capgate.log" >&2; exit 1; }

# one session per MCP server (initialize + initialized), then a correctness check
session() {
  local url=$1 sid
  sid=$(curl -s -D - -o /dev/null "$url" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' |
    tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
  curl -s -o /dev/null "$url" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25' -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  echo "$sid"
}
call_once() {
  curl -s "$1" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H "Mcp-Session-Id: $2" \
    -H 'MCP-Protocol-Version: 2025-11-25' -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":1}}}'
}
CG_SID=$(session "http://127.0.0.1:$MCP/mcp")
checks=("capgate:http://127.0.0.1:$MCP/mcp:$CG_SID")
if [ "$WITH_NODE" = 1 ]; then
  NODE_SID=$(session "http://127.0.0.1:$NODE/mcp")
  checks+=("node:http://127.0.0.1:$NODE/mcp:$NODE_SID")
fi
for t in "${checks[@]}"; do
  IFS=: read -r name u1 u2 u3 sid <<<"$t"
  out=$(call_once "$u1:$u2:$u3" "$sid")
  case "$out" in *'"structuredContent":{'*'"title":"first"'*) ;; *) echo "$name: unexpected tools/call answer: $out" >&2; exit 1 ;; esac
done
out=$(curl -s "http://127.0.0.1:$MCP/mcp" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
  -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: get-ml-backend' \
  -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":1},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}')
case "$out" in *'"resultType":"complete"'*'"title":"first"'*) ;; *) echo "capgate 2026-07-28: unexpected tools/call answer: $out" >&2; exit 1 ;; esac
case "$(curl -s "http://127.0.0.1:$REST/v1/api/ml/1")" in *'"title":"first"'*) ;; *) echo "REST: unexpected answer" >&2; exit 1 ;; esac

# CPU time (utime + stime, clock ticks) the process PID has used so far
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# wrk NAME URL [wrk args] — measures once; appends "req/s avg p99 cpu" to $TMP/NAME.runs,
# cpu being capgate's CPU time per request in µs (for the Node server: that process's), which
# a busy machine disturbs far less than throughput
run() {
  local name=$1 url=$2 pid=$CGPID t0 t1; shift 2
  [ "$name" = node_sdk_mcp ] && pid=$NODEPID
  wrk -t2 -c"$CONNS" -d1s "$@" "$url" >/dev/null 2>&1 || true
  t0=$(ticks "$pid")
  wrk -t2 -c"$CONNS" -d"${DUR}s" --latency "$@" "$url" >"$TMP/$name.txt" 2>&1
  t1=$(ticks "$pid")
  if grep -q -E 'Non-2xx|Socket errors' "$TMP/$name.txt"; then
    echo "$name: errors during the run:" >&2; cat "$TMP/$name.txt" >&2; exit 1
  fi
  awk -v dt=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '/^Requests\/sec/ {r=$2} /^    Latency/ {a=$2} /^ +99%/ {p=$2}
    / requests in / {n=$1} END {printf "%s %s %s %.2f\n", r, a, p, dt * 1e6 / hz / n}' "$TMP/$name.txt" >>"$TMP/$name.runs"
}
# cpu_median NAME — the median CPU µs per request over the runs
cpu_median() { awk '{print $4}' "$TMP/$1.runs" | sort -n | awk '{l[NR]=$0} END {print l[int((NR+1)/2)]}'; }
# median NAME — the run with the median throughput: "req/s avg p99"
median() { sort -n "$TMP/$1.runs" | awk '{l[NR]=$0} END {print l[int((NR+1)/2)]}'; }

ROUNDS=${ROUNDS:-3}
echo "# $(date -u +%FT%TZ) $(nproc) cores, wrk -t2 -c$CONNS -d${DUR}s, $ROUNDS interleaved rounds (median shown), upstream nginx (1 worker)"
for round in $(seq 1 "$ROUNDS"); do
  export MCP_SESSION=$CG_SID
  run capgate_mcp "http://127.0.0.1:$MCP/mcp" -s "$ROOT/bench/mcp-call.lua"
  run capgate_mcp_2026 "http://127.0.0.1:$MCP/mcp" -s "$ROOT/bench/mcp-call-2026.lua"
  run capgate_rest "http://127.0.0.1:$REST/v1/api/ml/1" -H 'Authorization: Token bench'
  if [ "$WITH_NODE" = 1 ]; then
    export MCP_SESSION=$NODE_SID
    run node_sdk_mcp "http://127.0.0.1:$NODE/mcp" -s "$ROOT/bench/mcp-call.lua"
  fi
done
RPS_node_sdk_mcp=0
for name in "${TARGETS[@]}"; do
  read -r rps avg p99 _ <<<"$(median "$name")"
  cpu=$(cpu_median "$name")
  printf '%-16s %10s req/s   avg %-8s p99 %-8s  CPU %6s us/req   (all runs: %s; CPU: %s)\n' "$name" "$rps" "$avg" "$p99" \
    "$cpu" "$(awk '{printf "%s%s", s, $1; s=", "}' "$TMP/$name.runs")" "$(awk '{printf "%s%s", s, $4; s=", "}' "$TMP/$name.runs")"
  eval "RPS_$name=$rps; CPU_$name=$cpu"
done
# latency of one call at a time (one connection): the per-call cost without queueing
CONNS_SAVED=$CONNS
for name in "${TARGETS[@]}"; do
  case $name in
    capgate_mcp) export MCP_SESSION=$CG_SID; args=("http://127.0.0.1:$MCP/mcp" -s "$ROOT/bench/mcp-call.lua") ;;
    capgate_mcp_2026) args=("http://127.0.0.1:$MCP/mcp" -s "$ROOT/bench/mcp-call-2026.lua") ;;
    capgate_rest) args=("http://127.0.0.1:$REST/v1/api/ml/1" -H 'Authorization: Token bench') ;;
    node_sdk_mcp) export MCP_SESSION=$NODE_SID; args=("http://127.0.0.1:$NODE/mcp" -s "$ROOT/bench/mcp-call.lua") ;;
  esac
  wrk -t1 -c1 -d3s --latency "${args[@]:1}" "${args[0]}" >"$TMP/$name.c1" 2>&1
  awk -v n="$name" '/^Requests\/sec/ {r=$2} /^ +50%/ {m=$2} /^ +99%/ {p=$2}
    END {printf "%-16s one connection: %8s req/s   p50 %-8s p99 %s\n", n, r, m, p}' "$TMP/$name.c1"
done
CONNS=$CONNS_SAVED
awk -v m="$RPS_capgate_mcp" -v s="$RPS_capgate_mcp_2026" -v r="$RPS_capgate_rest" -v n="$RPS_node_sdk_mcp" \
    -v cm="$CPU_capgate_mcp" -v cr="$CPU_capgate_rest" 'BEGIN {
  printf "MCP / REST throughput: %.2fx (target >= 0.9)\n", m / r;
  printf "REST / MCP CPU per request: %.2fx (the throughput ratio capgate alone would allow)\n", cr / cm;
  printf "MCP 2026-07-28 stateless / MCP 2025 session: %.2fx (target >= 1)\n", s / m;
  if (n > 0) printf "MCP / Node SDK server: %.1fx (target >= 10)\n", m / n }'
