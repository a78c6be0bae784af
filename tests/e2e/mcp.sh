#!/usr/bin/env bash
# MCP adapter, Streamable HTTP at the wire level (curl) and stdio framing: every status
# code and header rule of the transport checklist, sessions, batches, SSE streams, and
# the Origin/Host allowlist. Real processes: capgate mcp in front of the fake studio.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"

mcp_start_studio
mcp_start --heartbeat 1 --session-idle 3 --max-sessions 50
export LABEL_STUDIO_API_KEY=
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}'

# --- initialize and versions -------------------------------------------------------------
SID=
mcp_post "$INIT"
check "initialize: 200" 200 "$HTTP_STATUS"
check_contains "initialize: JSON response" "application/json" "$(header Content-Type)"
SID=$(header Mcp-Session-Id)
if [[ "$SID" =~ ^[0-9a-f]{64}$ ]]; then ok "initialize: Mcp-Session-Id is 64 hex chars (32 random bytes)"; else not_ok "session id shape" "$SID"; fi
check_json "initialize: negotiates 2025-11-25, tools + logging (no resources, no prompts), named after the namespace" \
  '.result.protocolVersion=="2025-11-25" and .result.capabilities.tools.listChanged==true and .result.capabilities.logging=={} and .result.serverInfo.name=="label-studio-subpackage-ml-mcp" and (.result.capabilities|has("resources")|not) and (.result.capabilities|has("prompts")|not)' "$HTTP_BODY"
FIRST_SID=$SID
mcp_init
[ "$SID" != "$FIRST_SID" ] && ok "every initialize gets a fresh session id" || not_ok "fresh session id"
for v in 2025-06-18 2025-03-26; do
  SID=; mcp_post "${INIT/2025-11-25/$v}"
  check_json "initialize: $v is echoed" ".result.protocolVersion==\"$v\"" "$HTTP_BODY"
done
SID=; mcp_post "${INIT/2025-11-25/2024-01-01}"
check_json "initialize: an unsupported version is answered with 2025-11-25" '.result.protocolVersion=="2025-11-25"' "$HTTP_BODY"
SID=; mcp_post '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}'
check_json "initialize without protocolVersion: -32602, no session" '.error.code==-32602' "$HTTP_BODY"
check "  ... and no Mcp-Session-Id header" "" "$(header Mcp-Session-Id)"

mcp_init
mcp_post "$INIT"
check "a second initialize in a session: 400" 400 "$HTTP_STATUS"
check_json "  ... with -32600" '.error.code==-32600' "$HTTP_BODY"

# --- per-request header rules --------------------------------------------------------------
mcp_post '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H 'MCP-Protocol-Version: 2025-03-26'
check_json "any supported MCP-Protocol-Version is accepted (2025-03-26 in a 2025-11-25 session)" '.result=={}' "$HTTP_BODY"
mcp_post '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H 'MCP-Protocol-Version: 1999-01-01'
check "an unsupported MCP-Protocol-Version: 400" 400 "$HTTP_STATUS"
check_contains "  ... naming the supported versions" "2025-11-25" "$HTTP_BODY"
http POST "$MCP_URL" -H "$MCP_JSON" -H 'Accept: application/json' -H "Mcp-Session-Id: $SID" -d '{"jsonrpc":"2.0","id":3,"method":"ping"}'
check "POST whose Accept lacks text/event-stream: 406" 406 "$HTTP_STATUS"
http POST "$MCP_URL" -H "$MCP_JSON" -H 'Accept: */*' -H "Mcp-Session-Id: $SID" -d '{"jsonrpc":"2.0","id":3,"method":"ping"}'
check "Accept: */* covers both types" 200 "$HTTP_STATUS"
http POST "$MCP_URL" -H 'Content-Type: text/plain' -H "$MCP_ACCEPT" -H "Mcp-Session-Id: $SID" -d '{"jsonrpc":"2.0","id":3,"method":"ping"}'
check "POST with Content-Type text/plain: 415" 415 "$HTTP_STATUS"
http POST "$MCP_URL" -H 'Content-Type: application/json; charset=utf-8' -H "$MCP_ACCEPT" -H "Mcp-Session-Id: $SID" -d '{"jsonrpc":"2.0","id":3,"method":"ping"}'
check "Content-Type parameters are allowed" 200 "$HTTP_STATUS"
http PUT "$MCP_URL" -H "Mcp-Session-Id: $SID"
check "PUT: 405" 405 "$HTTP_STATUS"
check "  ... with Allow: GET, POST, DELETE" "GET, POST, DELETE" "$(header Allow)"
http POST "http://127.0.0.1:$MCP_PORT/other" -H "$MCP_JSON" -H "$MCP_ACCEPT" -d "$INIT"
check "a path other than /mcp: 404" 404 "$HTTP_STATUS"

# --- malformed JSON-RPC ----------------------------------------------------------------------
mcp_post '{"jsonrpc":"2.0","id":4,"method":'
check "a body that is not JSON: 400" 400 "$HTTP_STATUS"
check_json "  ... -32700, id null" '.error.code==-32700 and .id==null' "$HTTP_BODY"
mcp_post '{"jsonrpc":"1.0","id":5,"method":"ping"}'
check "jsonrpc other than 2.0: 400" 400 "$HTTP_STATUS"
check_json "  ... -32600 echoing the id" '.error.code==-32600 and .id==5' "$HTTP_BODY"
mcp_post '{"jsonrpc":"2.0","id":null,"method":"ping"}'
check_json "a null request id: -32600" '.error.code==-32600' "$HTTP_BODY"
mcp_post '42'
check_json "a JSON scalar: -32600" '.error.code==-32600' "$HTTP_BODY"
mcp_post '{"jsonrpc":"2.0","id":6,"method":"resources/list"}'
check_json "an unknown method: -32601" '.error.code==-32601 and .id==6' "$HTTP_BODY"
mcp_post '{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}'
check_contains "a 64-bit id is echoed exactly" '"id":9007199254740993' "$HTTP_BODY"
mcp_post '{"jsonrpc":"2.0","id":"abc-\u00e9","method":"ping"}'
check_json "a string id is echoed" '.id=="abc-é"' "$HTTP_BODY"
mcp_post '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get-ml-backend","arguments":[1]}}'
check_json "tools/call with non-object arguments: -32602" '.error.code==-32602' "$HTTP_BODY"
mcp_post '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"nope"}}'
check_json "tools/call of an unknown tool: -32602" '.error.code==-32602' "$HTTP_BODY"
mcp_post '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":1}}}'
check_json "tools/call without any credential: isError saying how to give one" \
  '.result.isError==true and (.result.content[0].text|test("LABEL_STUDIO_API_KEY"))' "$HTTP_BODY"
mcp_post '{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":1}}}' -H 'Authorization: Token from-header'
check_json "the request's own Authorization is used when present" '.result.structuredContent.id==1' "$HTTP_BODY"
http GET "$STUDIO/__requests"
check_json "  ... and reached the upstream as sent" '.[-1].authorization=="Token from-header"' "$HTTP_BODY"
BIG=$(head -c 5000000 /dev/zero | tr '\0' 'a')
printf '{"jsonrpc":"2.0","id":11,"method":"ping","params":{"x":"%s"}}' "$BIG" >"$E2E_TMP/big.json"
http POST "$MCP_URL" -H "$MCP_JSON" -H "$MCP_ACCEPT" -H "Mcp-Session-Id: $SID" --data-binary "@$E2E_TMP/big.json"
check "a message over 4 MiB: 413" 413 "$HTTP_STATUS"

# --- notifications, responses, batches ---------------------------------------------------------
mcp_post '{"jsonrpc":"2.0","method":"notifications/whatever"}'
check "a notification: 202" 202 "$HTTP_STATUS"
check "  ... empty body" "" "$HTTP_BODY"
mcp_post '{"jsonrpc":"2.0","id":"srv-1","result":{}}'
check "a response from the client: 202" 202 "$HTTP_STATUS"
mcp_post '[{"jsonrpc":"2.0","id":1,"method":"ping"}]'
check "a batch in a 2025-11-25 session: 400" 400 "$HTTP_STATUS"
check_json "  ... -32600" '.error.code==-32600' "$HTTP_BODY"
mcp_init 2025-03-26
mcp_post '[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get-model-versions","arguments":{"id":1}}},{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":"x"}}},{"bad":1}]' -H 'Authorization: Token batch'
check "a batch in a 2025-03-26 session: 200" 200 "$HTTP_STATUS"
check_json "  ... one response per request (ping, call, bad argument, invalid), none for the notification" \
  'length==4 and (map(.id)|sort_by(tostring)) == ([null,1,2,3]|sort_by(tostring)) and (.[]|select(.id==2)|.result.structuredContent.versions==["v1","v2"]) and (.[]|select(.id==3)|.result.isError==true) and (.[]|select(.id==null)|.error.code==-32600)' "$HTTP_BODY"
mcp_post '[]'
check_json "an empty batch: -32600" '.error.code==-32600' "$HTTP_BODY"

# --- SSE: progress stream --------------------------------------------------------------------------
mcp_init
mcp_post '{"jsonrpc":"2.0","id":"p","method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":2},"_meta":{"progressToken":42}}}' -H 'Authorization: Token sse'
check_contains "a call with a progressToken answers text/event-stream" "text/event-stream" "$(header Content-Type)"
DATA=$(sse_data "$HTTP_BODY")
check_json "  ... progress 0, progress 1, then the result, each once" \
  '[., inputs] | length==3 and .[0].method=="notifications/progress" and .[0].params.progressToken==42 and .[1].params.progress==1 and .[2].id=="p" and .[2].result.structuredContent.id==2' \
  "$DATA"
check_contains "  ... after a priming event (id, empty data)" $'id: ' "$(printf '%s' "$HTTP_BODY" | head -2)"

# --- GET stream, heartbeats, DELETE ---------------------------------------------------------------
curl -sN -m 3 -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $SID" "$MCP_URL" -D "$E2E_TMP/get.h" >"$E2E_TMP/get.out" &
GETPID=$!
sleep 0.3
http GET "$MCP_URL" -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $SID"
check "a second GET stream for a session: 409" 409 "$HTTP_STATUS"
http GET "$MCP_URL" -H 'Accept: application/json' -H "Mcp-Session-Id: $SID"
check "GET without text/event-stream in Accept: 406" 406 "$HTTP_STATUS"
http GET "$MCP_URL" -H 'Accept: text/event-stream'
check "GET without a session: 400" 400 "$HTTP_STATUS"
sleep 1.6
http DELETE "$MCP_URL" -H "Mcp-Session-Id: $SID"
check "DELETE ends the session: 200" 200 "$HTTP_STATUS"
wait "$GETPID" 2>/dev/null
check_contains "the GET stream is text/event-stream" "text/event-stream" "$(cat "$E2E_TMP/get.h")"
check_contains "the GET stream carries heartbeat comments" ": ping" "$(cat "$E2E_TMP/get.out")"
mcp_post '{"jsonrpc":"2.0","id":12,"method":"ping"}'
check "after DELETE the session id is unknown: 404" 404 "$HTTP_STATUS"
http DELETE "$MCP_URL" -H "Mcp-Session-Id: $SID"
check "DELETE of an ended session: 404" 404 "$HTTP_STATUS"
http DELETE "$MCP_URL"
check "DELETE without a session: 400" 400 "$HTTP_STATUS"
SAVED=$SID; SID=
mcp_post '{"jsonrpc":"2.0","id":13,"method":"tools/list"}'
check "a request without a session id: 400" 400 "$HTTP_STATUS"
SID=0000000000000000000000000000000000000000000000000000000000000000
mcp_post '{"jsonrpc":"2.0","id":14,"method":"tools/list"}'
check "an unknown session id: 404" 404 "$HTTP_STATUS"
SID='not a session'
mcp_post '{"jsonrpc":"2.0","id":14,"method":"tools/list"}'
check "a malformed session id: 404" 404 "$HTTP_STATUS"

# --- idle expiry and the session bound ------------------------------------------------------------
mcp_init
IDLE_SID=$SID
sleep 3.5
mcp_post '{"jsonrpc":"2.0","id":15,"method":"ping"}'
check "a session idle longer than --session-idle expires: 404" 404 "$HTTP_STATUS"
mcp_init
OLDEST=$SID
for i in $(seq 1 55); do SID=; mcp_post "$INIT" >/dev/null; done
SID=$OLDEST
mcp_post '{"jsonrpc":"2.0","id":16,"method":"ping"}'
check "beyond --max-sessions the least recently used session ends: 404" 404 "$HTTP_STATUS"

# --- Host and Origin ---------------------------------------------------------------------------------
SID=
mcp_post "$INIT" -H 'Host: evil.example.com'
check "a foreign Host: 403" 403 "$HTTP_STATUS"
mcp_post "$INIT" -H 'Origin: http://evil.example.com'
check "a foreign Origin: 403" 403 "$HTTP_STATUS"
mcp_post "$INIT" -H "Host: localhost:$MCP_PORT" -H 'Origin: http://localhost:3000'
check "localhost Host and a loopback Origin: 200" 200 "$HTTP_STATUS"
mcp_post "$INIT" -H "Host: localhost:1"
check "a loopback name on another port: 403" 403 "$HTTP_STATUS"
kill "$MCP_PID"; wait "$MCP_PID" 2>/dev/null
mcp_start --allow-host mcp.example.com --allow-origin https://app.example.com
mcp_post "$INIT" -H 'Host: mcp.example.com' -H 'Origin: https://app.example.com'
check "--allow-host / --allow-origin admit those: 200" 200 "$HTTP_STATUS"
mcp_post "$INIT" -H 'Host: mcp.example.com' -H 'Origin: https://other.example.com'
check "  ... and only those: 403" 403 "$HTTP_STATUS"

# --- stdio framing ---------------------------------------------------------------------------------
OUT=$(printf '%s\n' "$INIT" '{"jsonrpc":"2.0","method":"notifications/initialized"}' 'not json' \
  '[{"jsonrpc":"2.0","id":2,"method":"ping"}]' '' '{"jsonrpc":"2.0","id":3,"method":"ping"}' \
  '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get-model-versions","arguments":{"id":1}}}' |
  LABEL_STUDIO_API_KEY=stdio-key timeout 10 "$CAPGATE" mcp --stdio --upstream "$STUDIO" 2>"$E2E_TMP/stdio.err")
RC=$?
check "stdio: exits 0 at end of input, after answering the call in flight" 0 "$RC"
check "stdio: one line per answer (initialize, parse error, batch refusal, ping, call)" 5 "$(printf '%s\n' "$OUT" | grep -c .)"
check_json "stdio: answers in order" \
  '[., inputs] | .[0].result.protocolVersion=="2025-11-25" and .[1].error.code==-32700 and .[2].error.code==-32600 and .[3].id==3 and .[4].result.structuredContent.versions==["v1","v2"]' \
  "$OUT"
OUT=$(printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | timeout 5 "$CAPGATE" mcp --stdio --upstream "$STUDIO" 2>/dev/null)
check_json "stdio: requests before initialize are refused" '.error.code==-32000' "$OUT"
OUT=$(timeout 5 "$CAPGATE" mcp --stdio --upstream "$STUDIO" </dev/null 2>/dev/null); RC=$?
check "stdio: stdin that epoll cannot watch (/dev/null) still works and ends cleanly" "0:" "$RC:$OUT"

e2e_done
