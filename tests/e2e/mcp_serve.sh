#!/usr/bin/env bash
# `capgate serve` runs the MCP adapter next to the REST adapter on the same worker loops:
# the SDK client calls the 9 tools through serve's MCP port while REST keeps answering,
# and SIGTERM drains an MCP call in flight before the process exits.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"

if ! mcp_need_node_modules; then not_ok "npm ci (the pinned MCP test tools)"; e2e_done; exit; fi
mcp_start_studio
cg_start LABEL_STUDIO_API_KEY=e2e-configured-key serve --threads 2 --base-uri "$STUDIO"
SERVE_PID=$CG_PID REST_PORT=$CG_REST_PORT MCP_PORT=$CG_MCP_PORT
MCP_URL="http://127.0.0.1:$MCP_PORT/mcp"
check_contains "serve logs both adapters" "MCP on http://127.0.0.1:$MCP_PORT/mcp" "$(cat "$CG_LOG")"

timeout 90 node "$E2E_ROOT/tests/e2e/mcp_sdk_client.mjs" http "$MCP_URL" "$STUDIO" | sed 's/^\(not \)\{0,1\}ok - http: /&serve: /' \
  ; [ "${PIPESTATUS[0]}" -eq 0 ] || not_ok "serve: SDK client over Streamable HTTP (exit status)"
http GET "http://127.0.0.1:$REST_PORT/v1/api/ml/1"
check "serve: REST answers on its own port meanwhile" 200 "$HTTP_STATUS"
http GET "http://127.0.0.1:$REST_PORT/metrics"
check_contains "serve: MCP requests are counted in /metrics" 'route="/mcp"' "$HTTP_BODY"

mcp_init
mcp_post '{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":777}}}' &
SLOW=$!
sleep 0.4
kill -TERM "$SERVE_PID"
wait "$SLOW"
check_json "serve: SIGTERM lets an MCP call in flight finish" '.id=="slow" and .result.structuredContent.id==777' "$(cat "$E2E_TMP/body")"
wait "$SERVE_PID"; RC=$?
check "serve: exits 0 after the drain" 0 "$RC"

e2e_done
