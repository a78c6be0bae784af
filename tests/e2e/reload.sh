#!/usr/bin/env bash
# reload.sh — SIGHUP hot reload through real processes: capgate serve (REST + MCP) in front
# of a small node upstream, under 64 connections of wrk load on REST and a stream of MCP
# tools/call. Four SIGHUPs: a spec with one more route and tool, a broken spec, a spec whose
# routes and tools are the same (only its label changed), and the first spec again. Checks
# that no request fails, that REST routes and MCP tools/list change exactly when they
# should, that /readyz says why the broken one was refused, and that an MCP client's GET
# stream sees notifications/tools/list_changed once per real change (twice).
. "$(dirname "$0")/lib.sh"

command -v wrk >/dev/null || { echo "not ok - reload: needs wrk"; exit 1; }
UP_PORT=$(free_port)   # the spec names it (the port rule in lib.sh)
cat >"$E2E_TMP/up.js" <<'EOF'
const http = require('http');
http.createServer((req, res) => {
  // a few ms of latency, so calls are in flight when a reload lands
  setTimeout(() => {
    res.writeHead(200, {'Content-Type': 'application/json'});
    res.end(JSON.stringify({path: req.url, ok: true}));
  }, 3);
}).listen(Number(process.argv[2]), '127.0.0.1');
EOF
start_bg "$E2E_TMP/up.log" node "$E2E_TMP/up.js" "$UP_PORT"
wait_port "$UP_PORT" || { not_ok "upstream started"; exit 1; }

# spec LABEL EXTRA: EXTRA=1 adds the pong route and tool
spec() {
  cat <<EOF
naftiko: 1.0.0-alpha2
info:
  label: $1
  description: hot reload test
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: http://127.0.0.1:$UP_PORT
    resources:
    - name: ping
      path: /ping
      operations:
      - {name: ping, method: GET}
    - name: pong
      path: /pong
      operations:
      - {name: pong, method: GET}
  exposes:
  - type: rest
    namespace: rest
    port: 18080
    resources:
    - path: /ping
      name: ping
      operations:
      - {method: GET, call: api.ping}
EOF
  [ "$2" = 1 ] && cat <<EOF
    - path: /pong
      name: pong
      operations:
      - {method: GET, call: api.pong}
EOF
  cat <<EOF
  - type: mcp
    namespace: tools
    port: 18081
    description: reload tools
    tools:
    - {name: ping, description: Ping the API, call: api.ping}
EOF
  [ "$2" = 1 ] && echo "    - {name: pong, description: Pong the API, call: api.pong}"
  [ "${3:-}" = 2 ] && cat <<EOF
  - type: rest
    namespace: rest-too
    port: 18082
    resources:
    - {path: /ping, name: ping, operations: [{method: GET, call: api.ping}]}
EOF
  return 0
}

SPEC="$E2E_TMP/cap.yaml"
spec "Reload one" 0 >"$SPEC"
cg_start serve --threads 2 --no-access-log "$SPEC" || { not_ok "serve started"; exit 1; }
CG=$CG_PID LOG=$CG_LOG REST=$CG_REST_PORT MCPP=$CG_MCP_PORT
ok "serve started (REST $REST, MCP $MCPP)"
R="http://127.0.0.1:$REST"
M="http://127.0.0.1:$MCPP/mcp"
ACC='Accept: application/json, text/event-stream'
CT='Content-Type: application/json'
PV='MCP-Protocol-Version: 2025-11-25'

# open_stream — the session's GET stream, recorded to $E2E_TMP/stream; returns once its
# response headers are in (an event sent before would be missed)
open_stream() {
  rm -f "$E2E_TMP/stream.h"
  curl -sN -D "$E2E_TMP/stream.h" -H 'Accept: text/event-stream' -H "$PV" -H "Mcp-Session-Id: $SID" "$M" >"$E2E_TMP/stream" 2>/dev/null &
  E2E_PIDS+=("$!")
  for _ in $(seq 100); do grep -q '^HTTP/1.1 200' "$E2E_TMP/stream.h" 2>/dev/null && break; sleep 0.05; done
  grep -q '^HTTP/1.1 200' "$E2E_TMP/stream.h" && ok "the session's GET stream is open" || not_ok "GET stream open"
}

# an MCP session with its GET stream open
curl -s -D "$E2E_TMP/init.h" -o /dev/null -H "$CT" -H "$ACC" "$M" \
  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"reload","version":"1"}}}'
SID=$(tr -d '\r' <"$E2E_TMP/init.h" | grep -i '^mcp-session-id:' | sed 's/^[^:]*: *//')
[ -n "$SID" ] && ok "MCP session opened" || not_ok "MCP session opened"
curl -s -o /dev/null -H "$CT" -H "$ACC" -H "$PV" -H "Mcp-Session-Id: $SID" "$M" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
open_stream

tools() {
  curl -s -H "$CT" -H "$ACC" -H "$PV" -H "Mcp-Session-Id: $SID" "$M" \
    -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' | jq -c '[.result.tools[].name]'
}
# tools26 — tools/list in revision 2026-07-28 (stateless: no session)
tools26() {
  local meta='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"reload","version":"1"}}'
  curl -s -H "$CT" -H "$ACC" -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/list' "$M" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{$meta}}" | jq -c '[.result.tools[].name]'
}
code() { curl -s -o /dev/null -w '%{http_code}' "$R$1"; }
changes() { grep -c 'notifications/tools/list_changed' "$E2E_TMP/stream"; }

check "gen 1: REST /ping 200" 200 "$(code /ping)"
check "gen 1: REST /pong 404" 404 "$(code /pong)"
check "gen 1: MCP tools/list" '["ping"]' "$(tools)"
check "gen 1: a 2026-07-28 tools/list" '["ping"]' "$(tools26)"
check_json "gen 1: the console's capability has no pong" \
  '([.routes[]|tostring|test("pong")]|any|not) and ([.tools[].name]|index("pong")) == null' "$(curl -s "$R/console/api/capability")"

# MCP tools/call in a loop for the whole run; every answer must be a result without isError
cat >"$E2E_TMP/mcp_loop.sh" <<EOF
ok=0; bad=0
while [ ! -e "$E2E_TMP/stop" ]; do
  out=\$(curl -s -H '$CT' -H '$ACC' -H '$PV' -H 'Mcp-Session-Id: $SID' '$M' \
    -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ping","arguments":{}}}')
  if [ -n "\$out" ] && printf '%s' "\$out" | jq -e '.result.isError != true and .result.structuredContent.ok == true' >/dev/null 2>&1; then
    ok=\$((ok + 1)); else bad=\$((bad + 1)); echo "\$out" >>"$E2E_TMP/mcp_bad"; fi
done
echo "\$ok \$bad" >"$E2E_TMP/mcp_counts"
EOF
bash "$E2E_TMP/mcp_loop.sh" &
MLOOP=$!
wrk -t2 -c64 -d9s --latency "$R/ping" >"$E2E_TMP/wrk" 2>&1 &
WRK=$!
sleep 1.5
spec "Reload two" 1 >"$SPEC"; cg_hup "$CG" "$LOG"; sleep 1
check "gen 2: REST /pong 200 (a new route)" 200 "$(code /pong)"
check "gen 2: MCP tools/list has pong" '["ping","pong"]' "$(tools)"
check "gen 2: a 2026-07-28 tools/list has pong too" '["ping","pong"]' "$(tools26)"
check "gen 2: one list_changed on the GET stream" 1 "$(changes)"
check_json "gen 2: the OpenAPI document has /pong" '.paths|has("/pong")' "$(curl -s "$R/v1/openapi.json")"
check_json "gen 2: the console's capability has the pong route and tool" \
  '([.routes[]|tostring|test("pong")]|any) and ([.tools[].name]|index("pong")) != null' "$(curl -s "$R/console/api/capability")"
check_json "gen 2: /readyz says the reload is generation 2, ok" '.status=="ready" and .reload.status=="ok" and .reload.generation==2' "$(curl -s "$R/readyz")"

printf 'naftiko: 1.0.0-alpha2\ncapability:\n  exposes:\n  - type: rest\n    port: [\n' >"$SPEC"; cg_hup "$CG" "$LOG"; sleep 1
check "broken spec: REST /pong still 200" 200 "$(code /pong)"
check "broken spec: MCP tools/list unchanged" '["ping","pong"]' "$(tools)"
check "broken spec: no list_changed" 1 "$(changes)"
RZ=$(curl -s "$R/readyz")
check_json "broken spec: /readyz is ready, says the reload failed, and why (file:line:col)" \
  '.status=="ready" and .reload.status=="failed" and .reload.generation==2 and (.reload.error|test("cap.yaml:[0-9]+:[0-9]+"))' "$RZ"
check_contains "broken spec: the log says why" "still serving generation 2" "$(cat "$LOG")"

spec "Reload two, renamed" 1 >"$SPEC"; cg_hup "$CG" "$LOG"; sleep 1
check "same tools: REST /pong 200" 200 "$(code /pong)"
check "same tools: no list_changed" 1 "$(changes)"
check_json "same tools: generation 3, ok" '.reload.status=="ok" and .reload.generation==3' "$(curl -s "$R/readyz")"

spec "Reload one again" 0 >"$SPEC"; cg_hup "$CG" "$LOG"; sleep 0.5
check "gen 4: REST /pong 404 again (route gone)" 404 "$(code /pong)"
check "gen 4: MCP tools/list back to ping" '["ping"]' "$(tools)"
check "gen 4: a second list_changed" 2 "$(changes)"
check_json "gen 4: the OpenAPI document lost /pong" '.paths|has("/pong")|not' "$(curl -s "$R/v1/openapi.json")"

wait "$WRK"
touch "$E2E_TMP/stop"; wait "$MLOOP"
REQS=$(awk '/requests in/ {print $1}' "$E2E_TMP/wrk")
ERRS=$(grep -E 'Non-2xx|Socket errors' "$E2E_TMP/wrk" || true)
echo "# wrk: $REQS requests over 9s, 64 connections, 4 reloads; $(grep 'Requests/sec' "$E2E_TMP/wrk")"
[ "${REQS:-0}" -gt 1000 ] && ok "wrk ran ($REQS requests)" || not_ok "wrk ran" "$(cat "$E2E_TMP/wrk")"
check "wrk: 0 failed requests, 0 socket errors under 4 reloads" "" "$ERRS"
read -r MOK MBAD <"$E2E_TMP/mcp_counts"
echo "# MCP tools/call during the reloads: $MOK ok, $MBAD failed"
[ "${MOK:-0}" -gt 5 ] && ok "MCP calls ran ($MOK)" || not_ok "MCP calls ran" "$MOK"
check "MCP: 0 failed tools/call under 4 reloads" 0 "$MBAD"
[ "$MBAD" != 0 ] && head -3 "$E2E_TMP/mcp_bad"

# an adapter more (a socket more): refused with a clear message, the running spec stays
spec "Two REST adapters" 0 2 >"$SPEC"
cg_hup "$CG" "$LOG"
check_json "a new adapter: refused, still generation 4" '.reload.status=="failed" and .reload.generation==4 and (.reload.error|test("2 REST adapters, not 1; adapters come and go only with a restart"))' "$(curl -s "$R/readyz")"
check "a new adapter: /ping still served, /pong still 404" "200 404" "$(code /ping) $(code /pong)"

kill -TERM "$CG"; wait "$CG"
check "SIGTERM after reloads: exit 0" 0 "$?"
check_contains "the log has the stop" '"msg":"stopped"' "$(cat "$LOG")"

# the shipped capability (its Label Studio profile, its session store): a SIGHUP at once
# after start reloads it, and one with nothing changed sends no list_changed
cg_start serve --threads 2 "$E2E_ROOT/capabilities/label-studio-ml.yaml" || not_ok "shipped spec served"
SHIP=$CG_PID
cg_hup "$SHIP" "$CG_LOG"
check_contains "shipped spec: SIGHUP reloads it, tools unchanged" "as generation 2: 9 REST operations, 9 MCP tools (tools unchanged)" "$(cat "$CG_LOG")"
kill -0 "$SHIP" 2>/dev/null && ok "shipped spec: still running after SIGHUP" || not_ok "shipped spec: still running after SIGHUP" "$(tail -3 "$CG_LOG")"
kill -TERM "$SHIP"; wait "$SHIP"
check "shipped spec: SIGTERM: exit 0" 0 "$?"

# capgate mcp over HTTP is the same runtime: SIGHUP reloads its tools too
spec "MCP alone" 0 >"$SPEC"
cg_start mcp "$SPEC" || not_ok "capgate mcp started"
MCG=$CG_PID MLOG=$CG_LOG
ok "capgate mcp started ($CG_MCP_PORT)"
M=$CG_URL
curl -s -D "$E2E_TMP/init2.h" -o /dev/null -H "$CT" -H "$ACC" "$M" \
  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"reload","version":"1"}}}'
SID=$(tr -d '\r' <"$E2E_TMP/init2.h" | grep -i '^mcp-session-id:' | sed 's/^[^:]*: *//')
open_stream
check "mcp: tools/list before" '["ping"]' "$(tools)"
sleep 0.3
spec "MCP alone, more" 1 >"$SPEC"; cg_hup "$MCG" "$MLOG"
check "mcp: tools/list after SIGHUP" '["ping","pong"]' "$(tools)"
check "mcp: one list_changed on the GET stream" 1 "$(changes)"
check_contains "mcp: the log says so" "reloaded" "$(cat "$MLOG")"
kill -TERM "$MCG"; wait "$MCG"
check "mcp: SIGTERM: exit 0" 0 "$?"
e2e_done
