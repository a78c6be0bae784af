#!/usr/bin/env bash
# MCP logging: a session that chose a level with logging/setLevel gets notifications/message
# for upstream failures (error: capgate's own failures and 5xx; warning: 4xx) and retries
# (notice), on the call's SSE stream over HTTP and before the result over stdio; never a
# credential. A session that never set a level gets its results exactly as before.
# Then the SDK 1.32.2 client (setLoggingLevel + a notification handler), HTTP and stdio.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"

mcp_stack
GOOD_URL=$MCP_URL
DEAD_PORT=$(free_port)
STUDIO_SAVED=$STUDIO
STUDIO="http://127.0.0.1:$DEAD_PORT"
mcp_start
DEAD_URL=$MCP_URL
STUDIO=$STUDIO_SAVED
MCP_URL=$GOOD_URL

call() { mcp_post "{\"jsonrpc\":\"2.0\",\"id\":$1,\"method\":\"tools/call\",\"params\":{\"name\":\"get-ml-backend\",\"arguments\":{\"id\":$2}}}" "${@:3}"; }
set_level() { mcp_post "{\"jsonrpc\":\"2.0\",\"id\":90,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"$1\"}}"; }

# --- no level set: nothing changes -------------------------------------------------------------
mcp_init
call 2 500
check "without logging/setLevel, an upstream 500 is a plain JSON result" "application/json" "$(header Content-Type)"
check_json "... isError with the status" '.result.isError==true and .id==2' "$HTTP_BODY"

# --- level warning --------------------------------------------------------------------------------
set_level warning
check_json "logging/setLevel warning: {}" '.result=={}' "$HTTP_BODY"
call 3 500 -H 'Authorization: Token caller-secret-token'
check "an upstream 500 now answers as SSE" "text/event-stream" "$(header Content-Type)"
MSGS=$(sse_data "$HTTP_BODY")
check_json "first a notifications/message at error, about the tool and the status" \
  '.method=="notifications/message" and .params.level=="error" and .params.logger=="capgate.upstream" and .params.data.tool=="get-ml-backend" and .params.data.status==500' \
  "$(printf '%s\n' "$MSGS" | head -1)"
check_json "then the result" '.id==3 and .result.isError==true' "$(printf '%s\n' "$MSGS" | tail -1)"
case "$HTTP_BODY" in *caller-secret-token*|*e2e-configured-key*) not_ok "no credential in the stream" ;; *) ok "no credential in the stream" ;; esac
call 4 404
check_json "an upstream 404 at level warning: a warning" \
  '.method=="notifications/message" and .params.level=="warning" and .params.data.status==404' \
  "$(sse_data "$HTTP_BODY" | head -1)"
call 5 1 -H 'Authorization: Token x'
mcp_post '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"list-ml-backends","arguments":{}}}'
check "a success says nothing: plain JSON" "application/json" "$(header Content-Type)"

# --- level error: 4xx below it ----------------------------------------------------------------------
set_level error
call 6 404
check "at level error, an upstream 404 says nothing (plain JSON)" "application/json" "$(header Content-Type)"
call 7 500
check_json "... and a 500 still does" '.params.level=="error"' "$(sse_data "$HTTP_BODY" | head -1)"

# --- an unreachable upstream: error, with the retries made -------------------------------------------
MCP_URL=$DEAD_URL
mcp_init
set_level notice
call 8 1
NOTE=$(sse_data "$HTTP_BODY" | head -1)
check_json "an unreachable upstream: error, its slug, and the 2 connection retries of a GET" \
  '.params.level=="error" and .params.data.error=="upstream-unreachable" and .params.data.retries==2 and (.params.data.status|not)' "$NOTE"
check_json "... then the isError result" '.id==8 and .result.isError==true' "$(sse_data "$HTTP_BODY" | tail -1)"
MCP_URL=$GOOD_URL

# --- a failure found before anything is sent: no credentials -----------------------------------------
CG_NAME=nokey cg_start -u LABEL_STUDIO_API_KEY mcp --upstream "$STUDIO"
MCP_URL=$CG_URL
mcp_init
call 21 1
check "no credentials, no level: plain JSON as before" "application/json" "$(header Content-Type)"
set_level error
call 22 1
check_json "no credentials at level error: an error note (no-credentials) before the result" \
  '.params.level=="error" and .params.data.error=="no-credentials"' "$(sse_data "$HTTP_BODY" | head -1)"
check_json "... then the isError result" '.id==22 and .result.isError==true' "$(sse_data "$HTTP_BODY" | tail -1)"
MCP_URL=$GOOD_URL

# --- stdio ---------------------------------------------------------------------------------------------
IN='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":3,"method":"logging/setLevel","params":{"level":"error"}}
{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":404}}}
{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":500}}}'
OUT=$(printf '%s\n' "$IN" | timeout 20 "$CAPGATE" mcp --stdio --upstream "$STUDIO" 2>/dev/null)
check "stdio: at level error, one note (the 500's, not the 404's)" 1 "$(printf '%s\n' "$OUT" | grep -c 'notifications/message')"
check "stdio: the note comes right before the result of call 4" "notifications/message:error 4" \
  "$(printf '%s\n' "$OUT" | jq -r 'select(.method=="notifications/message" or .id==4) | if .method then .method + ":" + .params.level else (.id|tostring) end' | tr '\n' ' ' | sed 's/ $//')"
OUT=$(printf '%s\n' "$IN" | grep -v setLevel | timeout 20 "$CAPGATE" mcp --stdio --upstream "$STUDIO" 2>/dev/null)
check "stdio: without logging/setLevel, no note" "0 2" "$(printf '%s\n' "$OUT" | grep -c 'notifications/message') $(printf '%s\n' "$OUT" | grep -c '"isError":true')"

# --- the SDK client ---------------------------------------------------------------------------------------
timeout 60 node "$E2E_ROOT/tests/e2e/mcp_logging_client.mjs" http "$GOOD_URL" || not_ok "SDK logging over HTTP (exit status)"
timeout 60 node "$E2E_ROOT/tests/e2e/mcp_logging_client.mjs" stdio "$CAPGATE" "$STUDIO" || not_ok "SDK logging over stdio (exit status)"

e2e_done
