#!/usr/bin/env bash
# MCP revision 2026-07-28 beside the 2025 sessions, on one endpoint: the wire with curl
# (server/discover, the _meta envelope, the request metadata headers, version and method
# errors, result decorations, GET/DELETE, cancellation by closing), stdio, the v2 client
# @modelcontextprotocol/client 2.4.0 pinned to 2026-07-28, in 'auto' and in its default
# mode (HTTP and stdio), the SDK 1.32.2 client unchanged, and conformance 0.2.0-alpha.12
# (every server scenario, with a baseline of the not-applicable ones and why).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"

mcp_stack --page-size 4
PAGED_URL=$MCP_URL
mcp_start

V=2026-07-28
META="\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"$V\",\"io.modelcontextprotocol/clientCapabilities\":{},\"io.modelcontextprotocol/clientInfo\":{\"name\":\"e2e\",\"version\":\"1\"}}"
# modern METHOD PARAMS_WITHOUT_META [curl args] — a 2026-07-28 request (id 7) with the headers
modern() {
  local m=$1 p=$2; shift 2
  SID= mcp_post "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"$m\",\"params\":{${p:+$p,}$META}}" \
    -H "MCP-Protocol-Version: $V" -H "Mcp-Method: $m" "$@"
}
upstream() { http GET "$STUDIO/__requests"; }
reset_upstream() { http DELETE "$STUDIO/__requests"; }

# --- server/discover --------------------------------------------------------------------------------
modern server/discover ''
check "server/discover: 200" 200 "$HTTP_STATUS"
check_json "server/discover: resultType, every revision (2026-07-28 first), tools (no logging), serverInfo in _meta, cache hints" \
  '.id==7 and .result.resultType=="complete" and .result.supportedVersions==["2026-07-28","2025-11-25","2025-06-18","2025-03-26"] and .result.capabilities=={"tools":{"listChanged":false}} and .result._meta["io.modelcontextprotocol/serverInfo"].name=="label-studio-subpackage-ml-mcp" and .result._meta["io.modelcontextprotocol/serverInfo"].title=="API Reference — subpackage_ml" and (.result.instructions|length>0) and .result.ttlMs==60000 and .result.cacheScope=="public"' "$HTTP_BODY"
check "  ... and no session: no Mcp-Session-Id header" "" "$(header Mcp-Session-Id)"

# --- tools/list, tools/call ------------------------------------------------------------------------------
modern tools/list ''
check_json "tools/list: resultType, ttlMs, cacheScope, the 9 tools with titles and output schemas" \
  '.result.resultType=="complete" and .result.ttlMs==60000 and .result.cacheScope=="public" and (.result.tools|length==9) and (.result.tools|all(.title and .outputSchema.type=="object"))' "$HTTP_BODY"
FIRST=$HTTP_BODY; modern tools/list ''
check "tools/list: the same bytes every time (deterministic order)" "$FIRST" "$HTTP_BODY"
reset_upstream
modern tools/call '"name":"get-model-versions","arguments":{"id":1}' -H 'Mcp-Name: get-model-versions'
check_json "tools/call: resultType complete and the structured result" \
  '.id==7 and .result.resultType=="complete" and .result.structuredContent.versions==["v1","v2"] and (.result.isError|not)' "$HTTP_BODY"
check "  ... as application/json, no session" "application/json:" "$(header Content-Type):$(header Mcp-Session-Id)"
upstream
check_json "  ... which reached the upstream once, with the configured key" \
  'length==1 and .[0].path=="/api/ml/1/versions" and .[0].authorization=="Token e2e-configured-key"' "$HTTP_BODY"
modern tools/call '"name":"get-model-versions","arguments":{"id":1}' -H 'Mcp-Name: get-model-versions' \
  -H 'Mcp-Session-Id: 00000000000000000000000000000000000000000000000000000000deadbeef'
check_json "an Mcp-Session-Id on a 2026-07-28 request is ignored (no 404)" '.result.resultType=="complete"' "$HTTP_BODY"
SID= mcp_post "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"get-ml-backend\",\"arguments\":{\"id\":1},\"_meta\":{\"progressToken\":\"p1\",\"io.modelcontextprotocol/protocolVersion\":\"$V\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}" \
  -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/call' -H 'Mcp-Name: get-ml-backend'
check_contains "tools/call with a progressToken: an SSE response" "text/event-stream" "$(header Content-Type)"
check "  ... with X-Accel-Buffering: no, for proxies" "no" "$(header X-Accel-Buffering)"
check "  ... with no event ids (2026-07-28 streams are not resumable)" 0 "$(printf '%s\n' "$HTTP_BODY" | grep -c '^id:')"
check_json "  ... progress, then the result with resultType" \
  '[inputs] | .[0].method=="notifications/progress" and .[-1].id==8 and .[-1].result.resultType=="complete" and .[-1].result.structuredContent.id==1' \
  "$(printf '%s\n' "$HTTP_BODY" | sed -n 's/^data: //p')"

# with inbound tokens, lists are per caller: cacheScope private
MAIN_URL=$MCP_URL
CAPGATE_API_TOKENS=e2e-inbound-token mcp_start
AUTH_URL=$MCP_URL; MCP_URL=$MAIN_URL
SID= http POST "$AUTH_URL" -H "$MCP_JSON" -H "$MCP_ACCEPT" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/list' \
  --data-binary "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{$META}}"
check "inbound auth on: a 2026-07-28 request without a token is 401 too" 401 "$HTTP_STATUS"
SID= http POST "$AUTH_URL" -H "$MCP_JSON" -H "$MCP_ACCEPT" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/list' \
  -H 'Authorization: Bearer e2e-inbound-token' --data-binary "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{$META}}"
check_json "  ... and with one, tools/list says cacheScope private" '.result.cacheScope=="private" and (.result.tools|length==9)' "$HTTP_BODY"

# --- the envelope and the headers ------------------------------------------------------------------------
SID= mcp_post '{"jsonrpc":"2.0","id":11,"method":"tools/list","params":{}}' -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/list'
check "no _meta: 400" 400 "$HTTP_STATUS"
check_json "  ... -32602, the request's id" '.id==11 and .error.code==-32602' "$HTTP_BODY"
SID= mcp_post "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/list\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"$V\"}}}" \
  -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/list'
check_json "_meta without clientCapabilities: 400 -32602" '.id==12 and .error.code==-32602' "$HTTP_STATUS$HTTP_BODY"
SID= mcp_post "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"tools/list\",\"params\":{$META}}" -H "MCP-Protocol-Version: $V"
check "no Mcp-Method: 400" 400 "$HTTP_STATUS"
check_json "  ... -32020 HeaderMismatch" '.id==13 and .error.code==-32020' "$HTTP_BODY"
SID= mcp_post "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{$META}}" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: prompts/list'
check_json "Mcp-Method naming another method: -32020" '.error.code==-32020' "$HTTP_BODY"
SID= mcp_post "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{$META}}" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: TOOLS/LIST'
check_json "header values are case-sensitive (TOOLS/LIST): -32020" '.error.code==-32020' "$HTTP_BODY"
SID= mcp_post "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{$META}}" -H "mcp-protocol-version: $V" -H 'mcp-method: tools/list'
check_json "header names are not (lowercase names accepted)" '.result.resultType=="complete"' "$HTTP_BODY"
modern tools/call '"name":"get-model-versions","arguments":{"id":1}'
check_json "tools/call without Mcp-Name: -32020" '.error.code==-32020 and (.error.message|test("Mcp-Name"))' "$HTTP_BODY"
modern tools/call '"name":"get-model-versions","arguments":{"id":1}' -H 'Mcp-Name: train'
check_json "Mcp-Name naming another tool: -32020, nothing called" '.error.code==-32020' "$HTTP_BODY"
modern tools/call '"name":"get-model-versions","arguments":{"id":1}' -H "Mcp-Name: =?base64?$(printf 'get-model-versions' | base64)?="
check_json "Mcp-Name in the =?base64?...?= form is decoded" '.result.resultType=="complete"' "$HTTP_BODY"
modern tools/call '"name":"get-model-versions","arguments":{"id":1}' -H 'Mcp-Name: =?base64?Z2V0!!!?='
check_json "Mcp-Name with malformed Base64: -32020" '.error.code==-32020' "$HTTP_BODY"
modern tools/call '"name":"get-model-versions","arguments":{"id":1}' -H 'Mcp-Name:   get-model-versions  '
check_json "Mcp-Name with whitespace around it (RFC 9110 OWS) is accepted" '.result.resultType=="complete"' "$HTTP_BODY"
SID= mcp_post "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"tools/list\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2099-01-01\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}" \
  -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/list'
check_json "MCP-Protocol-Version unlike the _meta version: 400 -32020" '.id==14 and .error.code==-32020' "$HTTP_STATUS$HTTP_BODY"

# --- versions ---------------------------------------------------------------------------------------------
SID= mcp_post '{"jsonrpc":"2.0","id":15,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}' \
  -H 'MCP-Protocol-Version: 2099-01-01' -H 'Mcp-Method: server/discover'
check "an unsupported version: 400" 400 "$HTTP_STATUS"
check_json "  ... -32022 with data.supported (what a dual-era client retries with) and data.requested" \
  '.id==15 and .error.code==-32022 and .error.data.supported==["2026-07-28","2025-11-25","2025-06-18","2025-03-26"] and .error.data.requested=="2099-01-01"' "$HTTP_BODY"
SID= mcp_post "{\"jsonrpc\":\"2.0\",\"id\":16,\"method\":\"tools/list\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2025-11-25\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}" \
  -H 'MCP-Protocol-Version: 2025-11-25' -H 'Mcp-Method: tools/list'
check_json "a 2025 version without a session, in _meta: 400 -32022 (2025 revisions begin with initialize)" '.error.code==-32022' "$HTTP_STATUS$HTTP_BODY"
mcp_init
mcp_post '{"jsonrpc":"2.0","id":17,"method":"ping"}' -H 'MCP-Protocol-Version: 1999-01-01'
check "in a 2025 session, an unsupported MCP-Protocol-Version: 400" 400 "$HTTP_STATUS"
check_json "  ... -32022 with the supported versions and the request's id" '.id==17 and .error.code==-32022 and (.error.data.supported|index("2025-11-25"))' "$HTTP_BODY"

# --- methods ---------------------------------------------------------------------------------------------
for m in initialize ping logging/setLevel resources/subscribe resources/unsubscribe completion/complete no/such-method; do
  modern "$m" ''
  check_json "$m under 2026-07-28: 404 -32601 with the request's id" '.id==7 and .error.code==-32601' "$HTTP_BODY"
  [ "$HTTP_STATUS" = 404 ] || not_ok "$m: HTTP 404" "got $HTTP_STATUS"
done
modern resources/list ''
check "resources/list on an adapter with no resources: 404 -32601" "404 -32601" "$HTTP_STATUS $(printf '%s' "$HTTP_BODY" | jq .error.code)"
SID= mcp_post "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{$META}}]" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/list'
check_json "a batch under 2026-07-28: 400 -32600" '.error.code==-32600' "$HTTP_STATUS$HTTP_BODY"
SID= mcp_post "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1,$META}}" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: notifications/cancelled'
check "a notification under 2026-07-28: 202" 202 "$HTTP_STATUS"

# --- GET and DELETE ------------------------------------------------------------------------------------------
http GET "$MCP_URL" -H 'Accept: text/event-stream' -H "MCP-Protocol-Version: $V"
check "GET with MCP-Protocol-Version 2026-07-28: 405, Allow: POST" "405 POST" "$HTTP_STATUS $(header Allow)"
http DELETE "$MCP_URL" -H "MCP-Protocol-Version: $V" -H "Mcp-Session-Id: $SID"
check "DELETE with MCP-Protocol-Version 2026-07-28: 405" 405 "$HTTP_STATUS"
mcp_post '{"jsonrpc":"2.0","id":18,"method":"tools/list"}' -H 'MCP-Protocol-Version: 2025-11-25'
check_json "  ... and the 2025 session it named lives on" '.id==18 and (.result.tools|length==9) and (.result|has("resultType")|not)' "$HTTP_BODY"
http DELETE "$MCP_URL" -H 'MCP-Protocol-Version: 2025-11-25' -H "Mcp-Session-Id: $SID"
check "a 2025 DELETE still ends its session: 200" 200 "$HTTP_STATUS"

# --- closing the response cancels the call upstream ----------------------------------------------------------
reset_upstream
SID= curl -s -m 0.5 -o /dev/null "$MCP_URL" -H "$MCP_JSON" -H "$MCP_ACCEPT" -H "MCP-Protocol-Version: $V" \
  -H 'Mcp-Method: tools/call' -H 'Mcp-Name: get-ml-backend' \
  --data-binary "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"get-ml-backend\",\"arguments\":{\"id\":777},$META}}"
sleep 0.5
upstream
check_json "a client that closes before the (1.5 s) answer: the upstream request is aborted" \
  'length==1 and .[0].path=="/api/ml/777" and .[0].aborted==true' "$HTTP_BODY"

reset_upstream
SID= curl -s -m 0.5 -o /dev/null "$MCP_URL" -H "$MCP_JSON" -H "$MCP_ACCEPT" -H "MCP-Protocol-Version: $V" \
  -H 'Mcp-Method: tools/call' -H 'Mcp-Name: get-ml-backend' \
  --data-binary "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"get-ml-backend\",\"arguments\":{\"id\":777},\"_meta\":{\"progressToken\":1,\"io.modelcontextprotocol/protocolVersion\":\"$V\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}"
sleep 0.5
upstream
check_json "  ... and one that closes its SSE (progress) stream: aborted too" \
  'length==1 and .[0].path=="/api/ml/777" and .[0].aborted==true' "$HTTP_BODY"

# --- stdio: both eras in one process ---------------------------------------------------------------------------
INIT='{"jsonrpc":"2.0","id":6,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}'
OUT=$(printf '%s\n' \
  "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":{$META}}" \
  "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"get-model-versions\",\"arguments\":{\"id\":1},$META}}" \
  "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":{$META}}" \
  '{"jsonrpc":"2.0","id":4,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}' \
  '{"jsonrpc":"2.0","id":5,"method":"tools/list"}' \
  "$INIT" '{"jsonrpc":"2.0","id":7,"method":"tools/list"}' |
  timeout 10 "$CAPGATE" mcp --stdio --upstream "$STUDIO" 2>/dev/null)
check_json "stdio: server/discover, a stateless call, ping is -32601, -32022, tools/list before initialize refused, then a 2025 session" \
  '[., inputs] | sort_by(.id) | .[0].result.supportedVersions[0]=="2026-07-28" and .[1].result.resultType=="complete" and .[1].result.structuredContent.versions==["v1","v2"] and .[2].error.code==-32601 and .[3].error.code==-32022 and .[4].error.code==-32000 and .[5].result.protocolVersion=="2025-11-25" and (.[6].result.tools|length==9)' \
  "$OUT"

# --- the v2 client (2.4.0), pinned, auto and default, over HTTP and stdio -------------------------------------
timeout 120 node "$E2E_ROOT/tests/e2e/mcp_2026_client.mjs" http "$MCP_URL" "$STUDIO" \
  || not_ok "v2 client over Streamable HTTP (exit status)"
timeout 120 node "$E2E_ROOT/tests/e2e/mcp_2026_client.mjs" stdio "$CAPGATE" "$E2E_ROOT/capabilities/label-studio-ml.yaml" "$STUDIO" \
  || not_ok "v2 client over stdio (exit status)"

# --- the SDK 1.32.2 client, unchanged, on the same endpoint -------------------------------------------------------
timeout 90 node "$E2E_ROOT/tests/e2e/mcp_sdk_client.mjs" http "$MCP_URL" "$STUDIO" "$PAGED_URL" >"$E2E_TMP/sdk1.out" 2>&1
rc=$?
fails=$(grep -c '^not ok' "$E2E_TMP/sdk1.out")
if [ "$rc" -eq 0 ] && [ "$fails" -eq 0 ]; then ok "SDK 1.32.2 client over Streamable HTTP: $(grep -c '^ok' "$E2E_TMP/sdk1.out") checks pass"
else not_ok "SDK 1.32.2 client over Streamable HTTP" "exit $rc" "$(grep -A1 '^not ok' "$E2E_TMP/sdk1.out" | head -6)"; fi

# --- conformance 0.2.0-alpha.12: every server scenario, against the baselines -------------------------------------
CONFORMANCE=(node --import "$E2E_ROOT/tests/e2e/fixtures/node20-globsync.mjs"
             "$E2E_ROOT/node_modules/mcp-conformance-next/dist/index.js")
for v in 2026-07-28 2025-11-25; do
  out=$(cd "$E2E_TMP" && set -o pipefail && timeout 300 "${CONFORMANCE[@]}" server --url "$MCP_URL" --suite all --spec-version "$v" \
          --expected-failures "$MCP_FIXTURES/conformance/next-$v.yaml" 2>&1 | sed 's/\x1b\[[0-9;]*m//g')
  rc=$?
  total=$(printf '%s\n' "$out" | grep -E '^Total: ' | tail -1)
  if [ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -q 'Baseline check passed'; then
    ok "conformance 0.2.0-alpha.12, every server scenario at $v: $total, every failure a listed not-applicable one"
  else
    not_ok "conformance 0.2.0-alpha.12 at $v" "exit $rc: $total" "$(printf '%s\n' "$out" | sed -n '/Unexpected failures\|Stale baseline/,+8p' | head -12)"
  fi
done
EXTENSIONS=$(cd "$E2E_TMP" && "${CONFORMANCE[@]}" list 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' |
  sed -n '/^Server scenarios/,/^Client scenarios/s/^  - \([a-z0-9-]*\) \[extension\]$/\1/p')
n_ext=0; bad_ext=
for s in $EXTENSIONS; do
  out=$(cd "$E2E_TMP" && set -o pipefail && timeout 60 "${CONFORMANCE[@]}" server --url "$MCP_URL" --scenario "$s" \
          --expected-failures "$MCP_FIXTURES/conformance/next-extensions.yaml" 2>&1 | sed 's/\x1b\[[0-9;]*m//g')
  rc=$?; n_ext=$((n_ext + 1))
  if [ "$rc" -ne 0 ] || ! printf '%s\n' "$out" | grep -q 'Baseline check passed'; then bad_ext="$bad_ext $s"; fi
done
if [ "$n_ext" -ge 10 ] && [ -z "$bad_ext" ]; then ok "conformance 0.2.0-alpha.12, the $n_ext extension scenarios: every failure a listed not-applicable one"
else not_ok "conformance 0.2.0-alpha.12 extension scenarios ($n_ext run)" "unexpected:$bad_ext"; fi
for s in server-stateless caching http-header-validation; do
  out=$(cd "$E2E_TMP" && set -o pipefail && timeout 60 "${CONFORMANCE[@]}" server --url "$MCP_URL" --scenario "$s" 2>&1 | sed 's/\x1b\[[0-9;]*m//g')
  printf '# conformance %s (shipped adapter): %s\n' "$s" "$(printf '%s\n' "$out" | grep -E '^Passed: ' | tail -1)"
done

# the catalog fixture declares resources and prompts: the caching hints on every list and
# resources/read, and -32602 with data.uri for a resource that is not there
WORK="$E2E_TMP/catalog"
cp -r "$MCP_FIXTURES/catalog" "$WORK"
CG_DIR=$WORK CG_NAME=catalog-mcp cg_start mcp --upstream "$STUDIO" capability.yaml
CAT_PORT=$CG_PORT
for s in caching sep-2164-resource-not-found; do
  out=$(cd "$E2E_TMP" && set -o pipefail && timeout 60 "${CONFORMANCE[@]}" server --url "http://127.0.0.1:$CAT_PORT/mcp" --scenario "$s" 2>&1 | sed 's/\x1b\[[0-9;]*m//g')
  rc=$?
  summary=$(printf '%s\n' "$out" | grep -E '^Passed: ' | tail -1)
  if [ "$rc" -eq 0 ] && [[ "$summary" == *" 0 failed, 0 warnings"* ]]; then ok "conformance $s on the catalog adapter ($summary)"
  else not_ok "conformance $s on the catalog adapter" "exit $rc: $summary" "$(printf '%s\n' "$out" | grep -E 'FAILURE|WARNING' | head -5)"; fi
done

e2e_done
