#!/usr/bin/env bash
# hostile_mcp.sh — capgate serve's MCP adapter against hostile input: malformed, truncated
# and deeply nested JSON-RPC, huge and odd ids, invalid UTF-8, hostile tool arguments
# (traversal, CR/LF/NUL, huge numbers), wrong methods, content types and headers, raw
# sockets and slow clients. Each gets a JSON-RPC error, an isError result or a 4xx within a
# bounded time; the process stays up; the recording upstream proves only the allowed calls
# went out.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"
. "$(dirname "$0")/fixtures/hostile_lib.bash"
recording_start recording-upstream.js || exit 1
cg_start LABEL_STUDIO_URL="http://127.0.0.1:$FIX_PORT" LABEL_STUDIO_API_KEY=legacy0123456789 \
  serve --threads 2 || exit 1
MCP_PORT=$CG_MCP_PORT REST_PORT=$CG_REST_PORT
MCP_URL="http://127.0.0.1:$MCP_PORT/mcp"
mcp_init
[ -n "$SID" ] && ok "session opened" || { not_ok "no session"; exit 1; }
S=(-H "$MCP_JSON" -H "$MCP_ACCEPT" -H "Mcp-Session-Id: $SID")

# mcase NAME STATUS JQ BODY [curl args] — one JSON-RPC POST in the session
mcase() {
  local name=$1 st=$2 f=$3 body=$4; shift 4
  hcase "$name" "$st" POST "$MCP_URL" "${S[@]}" --data-binary "$body" "$@"
  check_json "$name: answer" "$f" "$HTTP_BODY"
}
# tcase NAME TOOL ARGS_JSON — a tools/call that must be refused as an isError result
tcase() { mcase "$1" 200 '.result.isError==true' "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"$2\",\"arguments\":$3}}"; }
call() { printf '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"%s","arguments":%s}}' "$1" "$2"; }

# the well-formed calls that may reach the upstream (checked at the end)
mcase "allowed: get-ml-backend 7" 200 '(.result|has("structuredContent")) and (.result.isError|not)' "$(call get-ml-backend '{"id":7}')"
mcase "allowed: list-ml-backends 3" 200 '(.result|has("structuredContent")) and (.result.isError|not)' "$(call list-ml-backends '{"project":3}')"

nest=$(head -c 100000 /dev/zero | tr '\0' '['); printf '%s' "$nest" >"$E2E_TMP/nest.json"
printf '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add-ml-backend","arguments":{"body":{"title":"\xff\xfe"}}}}' >"$E2E_TMP/badutf8.json"
printf '{"jsonrpc":"2.0","id":"\xc0\xaf","method":"ping"}' >"$E2E_TMP/badid.json"
printf '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":"7\\u0000"}}}' >"$E2E_TMP/nulid.json"
{ printf '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"'; head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' a; printf '"}}'; } >"$E2E_TMP/big.json"
LONGH=$(head -c 60000 /dev/zero | tr '\0' 'a')
E32700='.error.code==-32700 and .id==null'
E32600='.error.code==-32600'
E32602='.error.code==-32602'

#     name                                 status  jq             body
mcase "truncated JSON"                      400 "$E32700" '{"jsonrpc":"2.0","id":1,"meth'
mcase "only a brace"                        400 "$E32700" '{'
mcase "trailing garbage"                    400 "$E32700" '{"jsonrpc":"2.0","id":1,"method":"ping"} x'
mcase "100k [ nesting"                      400 "$E32700" "@$E2E_TMP/nest.json"
mcase "invalid UTF-8 in an argument"        '400|200' '.error.code==-32700 or .result.isError==true' "@$E2E_TMP/badutf8.json"
mcase "overlong UTF-8 in the id"            400 "$E32700" "@$E2E_TMP/badid.json"
mcase "NaN as id"                           400 "$E32700" '{"jsonrpc":"2.0","id":NaN,"method":"ping"}'
mcase "id 1e400"                            '400|200' '.error.code==-32700 or .error.code==-32600 or .result=={}' '{"jsonrpc":"2.0","id":1e400,"method":"ping"}'
mcase "id 0x10"                             400 "$E32700" '{"jsonrpc":"2.0","id":0x10,"method":"ping"}'
mcase "id is an object"                     400 "$E32600" '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}'
mcase "method is a number"                  400 "$E32600" '{"jsonrpc":"2.0","id":1,"method":7}'
mcase "empty batch"                         400 "$E32600" '[]'
mcase "params is a string"                  '200|400' "$E32602 or $E32600" '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"x"}'
mcase "arguments is an array"               200 "$E32602" "$(call get-ml-backend '[1]')"
mcase "arguments with 100k nesting"         400 "$E32700" "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"train\",\"arguments\":{\"id\":1,\"body\":$nest}}}"
mcase "tool name with ../"                  200 "$E32602" "$(call '../get-ml-backend' '{"id":7}')"
mcase "body over 4 MiB"                     413 'true' "@$E2E_TMP/big.json"
mcase "id 99999999999999999999"             400 "$E32700" "$(call get-ml-backend '{"id":99999999999999999999}')"
mcase "id 1e400 argument"                   400 "$E32700" "$(call get-ml-backend '{"id":1e400}')"
tcase "id -0.5"                             get-ml-backend '{"id":-0.5}'
tcase "id string 0x10"                      get-ml-backend '{"id":"0x10"}'
tcase "id string 007"                       get-ml-backend '{"id":"007"}'
tcase "id string +7"                        get-ml-backend '{"id":"+7"}'
tcase "id string with CRLF"                 get-ml-backend '{"id":"7\r\nX-Injected: 1"}'
mcase "id string with NUL"                  400 "$E32700" "@$E2E_TMP/nulid.json"
tcase "id string ../../admin"               get-ml-backend '{"id":"../../admin"}'
tcase "id string ..%2f..%2fadmin"           get-ml-backend '{"id":"..%2f..%2fadmin"}'
tcase "id string 7/versions"                get-ml-backend '{"id":"7/versions"}'
tcase "id true"                             get-ml-backend '{"id":true}'
tcase "id missing"                          get-ml-backend '{}'
tcase "project with a query injection"      list-ml-backends '{"project":"3&admin=1"}'
tcase "batch_size 1e3 string"               create-predictions-all-tasks '{"id":1,"batch_size":"1e3"}'
tcase "unknown argument Authorization"      get-ml-backend '{"id":7,"Authorization":"Token x"}'
tcase "body that is an array"               add-ml-backend '{"body":[1,2]}'
tcase "body that is a string"               train '{"id":1,"body":"{}"}'
hcase "wrong method PUT"                    405 PUT "$MCP_URL" "${S[@]}"
hcase "wrong method PATCH"                  405 PATCH "$MCP_URL" "${S[@]}" -d '{}'
hcase "content type text/plain"             415 POST "$MCP_URL" -H 'Content-Type: text/plain' -H "$MCP_ACCEPT" -H "Mcp-Session-Id: $SID" -d '{"jsonrpc":"2.0","id":1,"method":"ping"}'
hcase "content type form"                   415 POST "$MCP_URL" -H "$MCP_ACCEPT" -H "Mcp-Session-Id: $SID" -d 'a=b'
hcase "session id with %0d%0a"              '400|404' POST "$MCP_URL" -H "$MCP_JSON" -H "$MCP_ACCEPT" -H "Mcp-Session-Id: $SID%0d%0a" -d '{"jsonrpc":"2.0","id":1,"method":"ping"}'
hcase "session id of 60 kB"                 '4..' POST "$MCP_URL" -H "$MCP_JSON" -H "$MCP_ACCEPT" -H "Mcp-Session-Id: $LONGH" -d '{"jsonrpc":"2.0","id":1,"method":"ping"}'
hcase "60 kB header"                        '4..' POST "$MCP_URL" "${S[@]}" -H "X-Big: $LONGH" -d '{"jsonrpc":"2.0","id":1,"method":"ping"}'
hcase "traversal in the MCP path"           404 POST "http://127.0.0.1:$MCP_PORT/mcp/..%2f..%2fadmin" "${S[@]}" -d '{"jsonrpc":"2.0","id":1,"method":"ping"}'
hcase "%2e%2e MCP path"                     404 POST "http://127.0.0.1:$MCP_PORT/%2e%2e/mcp" "${S[@]}" -d '{"jsonrpc":"2.0","id":1,"method":"ping"}'
hcase "Host header not allowed"             403 POST "$MCP_URL" "${S[@]}" -H 'Host: evil.example' -d '{"jsonrpc":"2.0","id":1,"method":"ping"}'
hcase "Origin not allowed"                  403 POST "$MCP_URL" "${S[@]}" -H 'Origin: http://evil.example' -d '{"jsonrpc":"2.0","id":1,"method":"ping"}'

# raw sockets and slow clients
# the same bytes on the REST port: one HTTP layer under both adapters
for P in "$MCP_PORT" "$REST_PORT"; do
  L=$([ "$P" = "$MCP_PORT" ] && echo MCP || echo REST)
  raw_case "$L: raw LF inside the session header" 'close' "$P" "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: $SID\nX: y\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 2\r\n\r\n{}"
  raw_case "$L: raw NUL in the session header"    '400' "$P" "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: ${SID:0:10}\x00${SID:10}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 2\r\n\r\n{}"
  raw_case "$L: raw CR in the request line"       '400' "$P" 'POST /mcp\r HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
  raw_case "$L: smuggled request after CL and TE" '400' "$P" "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nDELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: $SID\r\n\r\n"
done
raw_case "truncated body then close"        'close' "$MCP_PORT" "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: $SID\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"jsonrpc\":"
PING='{"jsonrpc":"2.0","id":1,"method":"ping"}'
HOSTILE_MAX=20 raw_case "slow client, 1 byte per 100 ms" '200' "$MCP_PORT" "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: $SID\r\nContent-Type: application/json\r\nAccept: */*\r\nContent-Length: ${#PING}\r\n\r\n$PING" 0.02
stalled_body_case "$MCP_PORT" /mcp mcase "a normal call while a client stalls on its body" 200 '.result=={}' "$PING"

alive "capgate serve" "$CG_PID"
mcase "allowed: get-ml-backend 8 after the batch" 200 '(.result|has("structuredContent")) and (.result.isError|not)' "$(call get-ml-backend '{"id":8}')"
check "upstream saw exactly the allowed calls, in order" \
  "GET /api/ml/7|GET /api/ml/?project=3|GET /api/ml/8" "$(jq -r '.method + " " + .url' "$REC" | paste -sd'|')"
check_json "every upstream call is well formed" \
  'all(.[]; (.url|test("^/api/ml/([0-9]+)?(\\?project=[0-9]+)?$")) and (.body=="") and ([.. | strings] | all(explode | all(. >= 32))))' \
  "$(jq -s . "$REC")"
echo "# $HOSTILE_CASES hostile cases"
e2e_done
