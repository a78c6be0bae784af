#!/usr/bin/env bash
# MCP resumability (2025 revisions): a tools/call's SSE stream that drops loses nothing.
# The fake studio answers get-ml-backend id 3000 after 3 s; capgate moves a call that has
# not finished within 2 s to an SSE answer whose priming event names a replay stream. Raw
# HTTP: curl cuts the POST's stream after that priming event, comes back with GET +
# Last-Event-ID and gets the result; then the SDK 1.32.2 client, with reconnection on, whose
# POST stream is cut by its fetch, gets its result (mcp_resume_client.mjs).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"

mcp_stack --workers 2

CALL='{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":3000}}}'
SSE_FILE="$E2E_TMP/post.sse"

# start_slow_call — POSTs CALL in session $SID with curl -N into $SSE_FILE, waits for the
# priming event (an id with empty data), then cuts the connection; sets PRIMER.
start_slow_call() {
  : >"$SSE_FILE"
  curl -sN -X POST "$MCP_URL" -H "$MCP_JSON" -H "$MCP_ACCEPT" -H "Mcp-Session-Id: $SID" \
    -H "MCP-Protocol-Version: ${1:-2025-11-25}" --data-binary "$CALL" -D "$E2E_TMP/post.h" -o "$SSE_FILE" &
  local pid=$! i
  for ((i = 0; i < 100; i++)); do grep -q '^id: ' "$SSE_FILE" && break; sleep 0.05; done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  PRIMER=$(sed -n 's/^id: //p' "$SSE_FILE" | head -1 | tr -d '\r')
}


# resume ID [SID] — GET + Last-Event-ID ID; the stream lands in $E2E_TMP/get.sse.
resume() {
  http GET "$MCP_URL" -H 'Accept: text/event-stream' -H "Mcp-Session-Id: ${2:-$SID}" \
    -H "Last-Event-ID: $1" --max-time 10
  printf '%s' "$HTTP_BODY" >"$E2E_TMP/get.sse"
}

# --- raw HTTP ---------------------------------------------------------------------------------
mcp_init
curl -s -X DELETE "$STUDIO/__requests" >/dev/null
# the session's own GET stream is open, as the SDK keeps it: a resume is not that stream
curl -sN "$MCP_URL" -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $SID" -o /dev/null --max-time 30 &
GET_PID=$!
sleep 0.3
t0=$(date +%s.%N)
start_slow_call
t_cut=$(date +%s.%N)
check "a call still running after 2 s answers as SSE" "text/event-stream" \
  "$(tr -d '\r' <"$E2E_TMP/post.h" | sed -n 's/^[Cc]ontent-[Tt]ype: //p')"
[[ "$PRIMER" =~ ^[0-9a-f]{16}-0$ ]] && ok "the priming event's id names its stream ($PRIMER)" \
  || not_ok "the priming event's id names its stream" "$PRIMER"
check_contains "the priming event suggests a reconnection delay" "retry: 500" "$(tr -d '\r' <"$SSE_FILE")"
check "nothing but the priming event came before the cut" "" "$(sse_data <"$SSE_FILE")"
resume "$PRIMER"
t1=$(date +%s.%N)
check "GET + Last-Event-ID of the cut stream: 200 (not 409)" 200 "$HTTP_STATUS"
check_json "... and it carries the call's result" \
  '.id=="slow" and .result.structuredContent.id==3000 and (.result.isError|not)' "$(sse_data <"$E2E_TMP/get.sse" | tail -1)"
check "... exactly once" 1 "$(sse_data <"$E2E_TMP/get.sse" | grep -c '"id":"slow"')"
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 5) }' && ok "the result came when the upstream answered (< 5 s)" \
  || not_ok "the result came when the upstream answered" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s"
REQS=$(curl -s "$STUDIO/__requests")
check_json "the upstream got the call once, and it was not aborted by the cut" \
  '[.[] | select(.path=="/api/ml/3000")] | length==1 and (.[0].aborted|not)' "$REQS"
RESULT_ID=$(sed -n 's/^id: //p' "$E2E_TMP/get.sse" | tr -d '\r' | tail -1)
[[ "$RESULT_ID" == "${PRIMER%-0}-"[1-9]* ]] && ok "the result's event id is on the same stream ($RESULT_ID)" \
  || not_ok "the result's event id is on the same stream" "$RESULT_ID"

# resuming again: from the primer, the result again; after the result, nothing
resume "$PRIMER"
check_json "a second resume from the priming event replays the result" '.id=="slow"' "$(sse_data <"$E2E_TMP/get.sse" | tail -1)"
resume "$RESULT_ID"
check "a resume after the last event: 200, and the stream ends with nothing" "200:" "$HTTP_STATUS:$(sse_data <"$E2E_TMP/get.sse")"

# another session cannot read this stream; unknown stream ids are refused
OLD_SID=$SID
mcp_init
OTHER_SID=$SID
SID=$OLD_SID
resume "$PRIMER" "$OTHER_SID"
check_json "another session's Last-Event-ID: 400 with a JSON-RPC error, nothing replayed" \
  '.error.code==-32000 and (.error.message|test("Last-Event-ID"))' "$HTTP_BODY"
check "... (status)" 400 "$HTTP_STATUS"
resume "0123456789abcdef-0"
check "a well-formed but unknown stream id: 400" 400 "$HTTP_STATUS"
kill "$GET_PID" 2>/dev/null; wait "$GET_PID" 2>/dev/null

# a resume that arrives while the call still runs waits for the result (on any worker)
mcp_init
start_slow_call
sleep 0.2
resume "$PRIMER"
check_json "a resume while the call runs gets the result when it comes" \
  '.id=="slow" and .result.structuredContent.id==3000' "$(sse_data <"$E2E_TMP/get.sse" | tail -1)"

# progress notifications are events of the stream too: cut after progress 0 (sent with the
# priming event), the resume gets progress 1 and the result
mcp_init
: >"$SSE_FILE"
curl -sN -X POST "$MCP_URL" -H "$MCP_JSON" -H "$MCP_ACCEPT" -H "Mcp-Session-Id: $SID" \
  --data-binary '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":3000},"_meta":{"progressToken":"p"}}}' -o "$SSE_FILE" &
PID=$!
for ((i = 0; i < 100; i++)); do [ "$(sse_data <"$SSE_FILE" | wc -l)" -ge 1 ] && break; sleep 0.05; done
kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null
LAST=$(sed -n 's/^id: //p' "$SSE_FILE" | tr -d '\r' | tail -1)
resume "$LAST"
check "with a progressToken: the resume after progress 0 gets progress 1, then the result" \
  "notifications/progress 1|7" "$(sse_data <"$E2E_TMP/get.sse" | jq -rs '(.[0].method + " " + (.[0].params.progress|tostring)) + "|" + (.[1].id|tostring)')"

# DELETE forgets the session's streams
mcp_init
start_slow_call
sleep 1.2
http DELETE "$MCP_URL" -H "Mcp-Session-Id: $SID"
check "DELETE ends the session" 200 "$HTTP_STATUS"
resume "$PRIMER"
check "after DELETE, the session's streams are gone (404: no session)" 404 "$HTTP_STATUS"

# a quick call stays plain JSON
mcp_init
mcp_post '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list-ml-backends","arguments":{}}}'
check "a call answered within 2 s stays application/json" "application/json" "$(header Content-Type)"

# --- the SDK client with reconnection on ---------------------------------------------------------
timeout 60 node "$E2E_ROOT/tests/e2e/mcp_resume_client.mjs" "$MCP_URL" "$STUDIO" \
  || not_ok "SDK client resumption (exit status)"

e2e_done
