#!/usr/bin/env bash
# scaleout.sh — three `capgate serve` instances behind a real nginx running the shipped
# deploy/nginx/capgate-lb.conf (ports rewritten): an MCP session started on one instance
# continues on the others (shared CAPGATE_SESSION_SECRET, no affinity), REST spreads
# evenly, and killing an instance mid-run loses nothing but its calls in flight.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"
command -v nginx >/dev/null || { not_ok "nginx is installed (scripts/install-deps.sh)"; e2e_done; exit; }
if ! mcp_need_node_modules; then not_ok "npm ci (the pinned MCP test tools)"; e2e_done; exit; fi
mcp_start_studio
export CAPGATE_SESSION_SECRET=e2e-shared-secret-0123456789

LB_REST=$(free_port); LB_MCP=$(free_port)
REST=(); MCPP=(); PIDS=()
for i in 0 1 2; do
  # clients address the balancer: its Host must pass capgate's DNS-rebinding check
  CG_NAME=cg$i cg_start LABEL_STUDIO_API_KEY=k serve --threads 1 --base-uri "$STUDIO" \
    --mcp-allow-host "127.0.0.1:$LB_MCP" || exit 1
  PIDS[$i]=$CG_PID REST[$i]=$CG_REST_PORT MCPP[$i]=$CG_MCP_PORT
done

mcp_lb_start || { e2e_done; exit; }

# served_by I ROUTE METHOD — requests instance I answered 200 for ROUTE (its own /metrics)
served_by() {
  curl -s "http://127.0.0.1:${REST[$1]}/metrics" |
    awk -v r="route=\"$2\"" -v m="method=\"$3\"" 'index($0, r) && index($0, m) && /status="200"/ && !/^#/ { s += $NF } END { print s + 0 }'
}

# ---- MCP: one session, every instance -----------------------------------------------------
MCP_URL="http://127.0.0.1:$LB_MCP/mcp"
mcp_init
check "initialize through nginx: a session id" 64 "${#SID}"
good=0
for i in $(seq 1 12); do
  mcp_post '{"jsonrpc":"2.0","id":'$((i + 10))',"method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":1}}}' \
    -H 'MCP-Protocol-Version: 2025-11-25'
  if call_ok; then good=$((good + 1)); else echo "#   call $i: $HTTP_STATUS ${HTTP_BODY:0:300}"; fi
done
check "12 tools/call in one session through nginx, all results" 12 "$good"
hit=0
for i in 0 1 2; do [ "$(served_by "$i" /mcp POST)" -gt 0 ] && hit=$((hit + 1)); done
check "the one session's calls were served by all 3 instances" 3 "$hit"
mcp_post '{"jsonrpc":"2.0","id":99,"method":"tools/list"}' -H 'MCP-Protocol-Version: 2025-11-25'
check "tools/list in the same session: 200" 200 "$HTTP_STATUS"

# an id signed with another secret is refused everywhere
# flip one hex digit of the MAC half: no instance can verify it
last=${SID: -1}; [ "$last" = 0 ] && flip=1 || flip=0
SAVED=$SID; SID="${SID:0:63}$flip"
mcp_post '{"jsonrpc":"2.0","id":5,"method":"tools/list"}' -H 'MCP-Protocol-Version: 2025-11-25'
check "a tampered session id: 404 through nginx" 404 "$HTTP_STATUS"
SID=$SAVED

# the official SDK client through the balancer
out=$(timeout 60 node "$MCP_FIXTURES/mcp_sdk_scaleout.mjs" "$MCP_URL" 9 2>&1)
printf '%s\n' "$out" | grep -E '^((not )?ok - |#   )'
printf '%s\n' "$out" | grep -q '^# session [0-9a-f]\{64\}$' && ok "sdk: kept one session id" || not_ok "sdk: kept one session id" "$out"

# ---- REST spreads evenly --------------------------------------------------------------------
before=(); for i in 0 1 2; do before[$i]=$(served_by "$i" '/v1/api/ml/{id}' GET); done
fails=0
for n in $(seq 1 300); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LB_REST/v1/api/ml/1")
  [ "$code" = 200 ] || fails=$((fails + 1))
done
check "300 REST calls through nginx, all 200" 0 "$fails"
spread=""
for i in 0 1 2; do
  n=$(( $(served_by "$i" '/v1/api/ml/{id}' GET) - before[i] ))
  spread="$spread $n"
  if [ "$n" -ge 60 ] && [ "$n" -le 135 ]; then ok "instance $i served $n of 300 (20-45 %)"
  else not_ok "instance $i served $n of 300, outside 20-45 %"; fi
done

# ---- one instance killed mid-run ------------------------------------------------------------
: >"$E2E_TMP/codes"
( for n in $(seq 1 240); do
    curl -s -o /dev/null -m 5 -w '%{http_code}\n' "http://127.0.0.1:$LB_REST/v1/api/ml/2" >>"$E2E_TMP/codes"
  done ) &
LOADER=$!
sleep 0.5
kill -9 "${PIDS[1]}"
wait "$LOADER"
total=$(wc -l <"$E2E_TMP/codes"); bad=$(grep -vc '^200$' "$E2E_TMP/codes")
check "240 sequential REST calls while an instance is killed: all answered" 240 "$total"
if [ "$bad" -le 1 ]; then ok "at most the one call in flight was lost ($bad failed)"
else not_ok "calls lost beyond the one in flight" "$bad failed: $(sort "$E2E_TMP/codes" | uniq -c | tr '\n' ' ')"; fi
mok=0
for i in $(seq 1 6); do
  mcp_post '{"jsonrpc":"2.0","id":'$((i + 200))',"method":"tools/call","params":{"name":"list-ml-backends","arguments":{"project":1}}}' \
    -H 'MCP-Protocol-Version: 2025-11-25'
  call_ok && mok=$((mok + 1))
done
check "the MCP session goes on on the two instances left" 6 "$mok"
for i in 0 2; do kill -0 "${PIDS[$i]}" && ok "instance $i still running" || not_ok "instance $i died"; done
e2e_done
