#!/usr/bin/env bash
# serve-auth.sh — inbound auth (CAPGATE_API_TOKENS / CAPGATE_API_TOKENS_FILE) through real
# processes: capgate serve (REST and MCP) and capgate mcp in front of the recording upstream.
# No token, a wrong token and the right one (Bearer and X-Capgate-Token, two tokens, a token
# file); /healthz and /readyz open; nothing reaches the upstream on a 401; the inbound token
# is never forwarded while LABEL_STUDIO_API_KEY is; a caller's Authorization is still
# forwarded with the X-Capgate-Token form; tokens never appear in logs or /metrics; bad
# configurations stop start-up with a clear error; the official SDK client with and
# without the token; auth off keeps today's behaviour.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"
recording_start recording-upstream.js || exit 1
UPSTREAM="http://127.0.0.1:$FIX_PORT"

TOK1="inb-alpha-7f3e9c2b1d4a"
TOK2="inb-bravo-0c8d6e5f4a3b"
FTOK="inb-file-9a8b7c6d5e4f"
COMMENTED="inb-commented-1234abcd"
WRONG="inb-wrong-5555eeee"
LSKEY="ls-configured-key"

# serve NAME [ENV=V...] : capgate serve on free ports with the recording upstream;
# sets REST, MCP_URL, CG_PID, CG_LOG
serve() {
  local name=$1; shift
  CG_NAME=$name cg_start -u LABEL_STUDIO_URL -u CAPGATE_API_TOKENS -u CAPGATE_API_TOKENS_FILE \
    LABEL_STUDIO_API_KEY="$LSKEY" "$@" serve --threads 2 --base-uri "$UPSTREAM"
  REST="http://127.0.0.1:$CG_REST_PORT" MCP_URL="http://127.0.0.1:$CG_MCP_PORT/mcp"
}
stop() { kill -TERM "$CG_PID" 2>/dev/null; wait "$CG_PID" 2>/dev/null; }
last() { tail -1 "$REC"; }
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}'
CALL='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":5}}}'

# ==== auth on: two tokens in CAPGATE_API_TOKENS ====================================
serve on CAPGATE_API_TOKENS=" $TOK1 , $TOK2 " CAPGATE_LOG_LEVEL=debug
check_contains "start-up says inbound auth is on, with 2 tokens" '"inbound auth: on, 2 tokens' "$(cat "$CG_LOG")"

# ---- REST refusals ---------------------------------------------------------------------
BEFORE=$(records)
http GET "$REST/v1/api/ml/1"
check "REST, no token: 401" 401 "$HTTP_STATUS"
check_json "REST, no token: problem+json unauthorized saying how to send a token" \
  '.type=="urn:capgate:problem:unauthorized" and .title=="Unauthorized" and .status==401 and (.detail|test("Authorization: Bearer")) and (.detail|test("X-Capgate-Token"))' "$HTTP_BODY"
check "REST, no token: problem+json content type" "application/problem+json" "$(header Content-Type)"
check "REST, no token: WWW-Authenticate without error" 'Bearer realm="capgate"' "$(header WWW-Authenticate)"
http GET "$REST/v1/api/ml/1" -H "Authorization: Bearer $WRONG"
check "REST, wrong Bearer token: 401" 401 "$HTTP_STATUS"
check "REST, wrong token: WWW-Authenticate error=invalid_token" 'Bearer realm="capgate", error="invalid_token"' "$(header WWW-Authenticate)"
check_json "REST, wrong token: the detail says it is not valid, and does not echo it" \
  "(.detail|test(\"not valid\")) and (tostring|contains(\"$WRONG\")|not)" "$HTTP_BODY"
http GET "$REST/v1/api/ml/1" -H "X-Capgate-Token: $WRONG"
check "REST, wrong X-Capgate-Token: 401 invalid_token" '401 Bearer realm="capgate", error="invalid_token"' "$HTTP_STATUS $(header WWW-Authenticate)"
http GET "$REST/v1/api/ml/1" -H "Authorization: Token $TOK1"
check "REST, a token under another scheme (Token) is not an inbound token: 401" 401 "$HTTP_STATUS"
http GET "$REST/v1/api/ml/1" -H "Authorization: Bearer ${TOK1}x"
check "REST, the right token plus one byte: 401" 401 "$HTTP_STATUS"
http GET "$REST/v1/api/ml/1" -H "Authorization: Bearer ${TOK1%?}"
check "REST, the right token minus one byte: 401" 401 "$HTTP_STATUS"
http POST "$REST/v1/api/ml" -H 'Content-Type: application/json' -d '{"url":"http://x","project":1}'
check "REST, POST with a body and no token: 401" 401 "$HTTP_STATUS"
http GET "$REST/no/such/path"
check "REST, unknown path without a token: 401 (routes are not revealed)" 401 "$HTTP_STATUS"
http PUT "$REST/v1/api/ml/1"
check "REST, wrong method without a token: 401" 401 "$HTTP_STATUS"
http GET "$REST/metrics"
check "REST, /metrics without a token: 401" 401 "$HTTP_STATUS"
http GET "$REST/v1/openapi.json"
check "REST, /v1/openapi.json without a token: 401" 401 "$HTTP_STATUS"
check "REST: nothing reached the upstream on any 401" "$BEFORE" "$(records)"

# ---- REST open endpoints and routing with a token --------------------------------------
http GET "$REST/healthz"
check "REST, /healthz needs no token" 200 "$HTTP_STATUS"
http GET "$REST/readyz"
check "REST, /readyz needs no token" 200 "$HTTP_STATUS"
http GET "$REST/no/such/path" -H "Authorization: Bearer $TOK1"
check "REST, unknown path with a token: 404" 404 "$HTTP_STATUS"
http PUT "$REST/v1/api/ml/1" -H "Authorization: Bearer $TOK1"
check "REST, wrong method with a token: 405" 405 "$HTTP_STATUS"
http GET "$REST/v1/openapi.json" -H "X-Capgate-Token: $TOK2"
check "REST, /v1/openapi.json with a token: 200" 200 "$HTTP_STATUS"

# ---- REST with the right token -----------------------------------------------------------
http GET "$REST/v1/api/ml/1" -H "Authorization: Bearer $TOK1"
check "REST, Bearer token 1: 200" 200 "$HTTP_STATUS"
check_json "REST, Bearer: the upstream got LABEL_STUDIO_API_KEY, not the inbound token" \
  ".url==\"/api/ml/1\" and .headers.authorization==\"Token $LSKEY\"" "$(last)"
http GET "$REST/v1/api/ml/2" -H "Authorization: bearer $TOK2"
check "REST, bearer (lower case) token 2: 200" 200 "$HTTP_STATUS"
check_json "REST, token 2: upstream credential is the configured key" ".url==\"/api/ml/2\" and .headers.authorization==\"Token $LSKEY\"" "$(last)"
http GET "$REST/v1/api/ml/3" -H "X-Capgate-Token: $TOK1"
check "REST, X-Capgate-Token: 200" 200 "$HTTP_STATUS"
check_json "REST, X-Capgate-Token: not forwarded, configured key sent" \
  ".url==\"/api/ml/3\" and .headers.authorization==\"Token $LSKEY\" and (.headers|has(\"x-capgate-token\")|not)" "$(last)"
http GET "$REST/v1/api/ml/4" -H "X-Capgate-Token: $TOK2" -H 'Authorization: Token callers-own-ls-key'
check "REST, X-Capgate-Token plus the caller's Authorization: 200" 200 "$HTTP_STATUS"
check_json "REST, X-Capgate-Token form: the caller's Authorization is still forwarded" \
  '.url=="/api/ml/4" and .headers.authorization=="Token callers-own-ls-key"' "$(last)"
http POST "$REST/v1/api/ml" -H "Authorization: Bearer $TOK1" -H 'Content-Type: application/json' -d '{"url":"http://x","project":1}'
check "REST, POST with a token: 200 and the body forwarded" '200 {"url":"http://x","project":1}' "$HTTP_STATUS $(last | jq -r .body)"

# ---- MCP on serve's port -----------------------------------------------------------------
BEFORE=$(records)
SID=
mcp_post "$INIT"
check "MCP, initialize without a token: 401" 401 "$HTTP_STATUS"
check "MCP, no token: WWW-Authenticate" 'Bearer realm="capgate"' "$(header WWW-Authenticate)"
check_json "MCP, no token: a JSON-RPC error body saying how to send a token" \
  '.jsonrpc=="2.0" and .id==null and .error.code==-32000 and (.error.message|test("^Unauthorized")) and (.error.message|test("X-Capgate-Token"))' "$HTTP_BODY"
check "MCP, no token: no session was created" "" "$(header Mcp-Session-Id)"
mcp_post "$INIT" -H "Authorization: Bearer $WRONG"
check "MCP, wrong token: 401 invalid_token" '401 Bearer realm="capgate", error="invalid_token"' "$HTTP_STATUS $(header WWW-Authenticate)"
mcp_post "$INIT" -H "Authorization: Bearer $TOK1"
check "MCP, initialize with the Bearer token: 200" 200 "$HTTP_STATUS"
SID=$(header Mcp-Session-Id)
[ -n "$SID" ] && ok "MCP: the session id came back" || not_ok "MCP: the session id came back"
mcp_post '{"jsonrpc":"2.0","method":"notifications/initialized"}' -H "Authorization: Bearer $TOK1" >/dev/null
mcp_post "$CALL"
check "MCP, a session id without a token is refused: 401" 401 "$HTTP_STATUS"
mcp_post "$CALL" -H "X-Capgate-Token: $WRONG"
check "MCP, a session id with a wrong token: 401" 401 "$HTTP_STATUS"
http GET "$MCP_URL" -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $SID"
check "MCP, GET without a token: 401" 401 "$HTTP_STATUS"
http DELETE "$MCP_URL" -H "Mcp-Session-Id: $SID"
check "MCP, DELETE without a token: 401" 401 "$HTTP_STATUS"
check "MCP: nothing reached the upstream on any 401" "$BEFORE" "$(records)"
mcp_post "$CALL" -H "Authorization: Bearer $TOK2"
check_json "MCP, tools/call with token 2 answers" '.id==2 and .result.structuredContent.ok==true' "$HTTP_BODY"
check_json "MCP, Bearer: the upstream got LABEL_STUDIO_API_KEY, not the inbound token" \
  ".url==\"/api/ml/5\" and .headers.authorization==\"Token $LSKEY\"" "$(last)"
mcp_post "$CALL" -H "X-Capgate-Token: $TOK1" -H 'Authorization: Token callers-own-mcp-key'
check_json "MCP, X-Capgate-Token: tools/call answers" '.id==2 and .result.structuredContent.ok==true' "$HTTP_BODY"
check_json "MCP, X-Capgate-Token form: the caller's Authorization is forwarded, the token is not" \
  '.headers.authorization=="Token callers-own-mcp-key" and (.headers|has("x-capgate-token")|not)' "$(last)"
http DELETE "$MCP_URL" -H "Mcp-Session-Id: $SID" -H "X-Capgate-Token: $TOK2"
check "MCP, DELETE with a token: 200" 200 "$HTTP_STATUS"

# ---- the official SDK client -------------------------------------------------------------
if mcp_need_node_modules; then
  timeout 60 node "$FIX/mcp_sdk_auth.mjs" "$MCP_URL" "$TOK1"; [ $? -eq 0 ] || not_ok "sdk: client script (exit status)"
else
  not_ok "npm ci (the pinned MCP test tools)"
fi

# ---- metrics and logs ----------------------------------------------------------------------
http GET "$REST/metrics" -H "Authorization: Bearer $TOK1"
check "REST, /metrics with a token: 200" 200 "$HTTP_STATUS"
check_contains "metrics count the REST 401s by route" 'capgate_requests_total{route="/v1/api/ml/{id}",method="GET",status="401"}' "$HTTP_BODY"
check_contains "metrics count 401s of unknown paths as unmatched" 'route="unmatched",method="GET",status="401"' "$HTTP_BODY"
check_contains "metrics count the MCP 401s" 'route="/mcp",method="POST",status="401"' "$HTTP_BODY"
METRICS=$HTTP_BODY
stop
leaks=""
for t in "$TOK1" "$TOK2" "$WRONG"; do
  grep -qF -- "$t" "$CG_LOG" && leaks="$leaks log:$t"
  grep -qF -- "$t" <<<"$METRICS" && leaks="$leaks metrics:$t"
  grep -qF -- "$t" "$REC" && leaks="$leaks upstream:$t"
done
check "no token (right or wrong) in stderr logs, /metrics or anything the upstream received" "" "$leaks"
check_contains "the access log has the 401 lines" '"status":401' "$(cat "$CG_LOG")"

# ==== a token file (with comments), and a list and a file together ========================
printf '# capgate API tokens\n\n# %s\n  %s  \n' "$COMMENTED" "$FTOK" >"$E2E_TMP/tokens"
serve file CAPGATE_API_TOKENS_FILE="$E2E_TMP/tokens"
check_contains "token file: start-up says 1 token" '"inbound auth: on, 1 token;' "$(cat "$CG_LOG")"
http GET "$REST/v1/api/ml/7" -H "Authorization: Bearer $FTOK"
check "token file: its token works (surrounding spaces ignored)" 200 "$HTTP_STATUS"
http GET "$REST/v1/api/ml/7" -H "Authorization: Bearer $COMMENTED"
check "token file: a commented-out token does not" 401 "$HTTP_STATUS"
http GET "$REST/v1/api/ml/7" -H "Authorization: Bearer # capgate API tokens"
check "token file: a comment line is not a token" 401 "$HTTP_STATUS"
SID=
mcp_post "$INIT" -H "X-Capgate-Token: $FTOK"
check "token file: MCP accepts its token" 200 "$HTTP_STATUS"
stop
serve both CAPGATE_API_TOKENS="$TOK1" CAPGATE_API_TOKENS_FILE="$E2E_TMP/tokens"
check_contains "list and file together: 2 tokens" '"inbound auth: on, 2 tokens' "$(cat "$CG_LOG")"
http GET "$REST/v1/api/ml/8" -H "Authorization: Bearer $FTOK"
A=$HTTP_STATUS
http GET "$REST/v1/api/ml/8" -H "Authorization: Bearer $TOK1"
check "list and file together: both tokens work" "200 200" "$A $HTTP_STATUS"
stop

# ==== bad configurations stop start-up ======================================================
# bad_start NAME ENV=V... : runs serve with that environment; sets RC and OUT
bad_start() {
  local name=$1; shift
  OUT=$(env -u CAPGATE_API_TOKENS -u CAPGATE_API_TOKENS_FILE "$@" timeout 10 \
        "$CAPGATE" serve --listen 127.0.0.1:0 --mcp-port 0 --threads 1 --base-uri "$UPSTREAM" 2>&1)
  RC=$?
}
bad_start missing CAPGATE_API_TOKENS_FILE="$E2E_TMP/no-such-file"
check "missing token file: exit 2" 2 "$RC"
check_contains "missing token file: the error names the variable and the cause" \
  "capgate serve: CAPGATE_API_TOKENS_FILE: cannot read the file it names: No such file or directory" "$OUT"
bad_start isdir CAPGATE_API_TOKENS_FILE="$E2E_TMP"
check "a directory as token file: exit 2" 2 "$RC"
printf '# only a comment\n\n' >"$E2E_TMP/empty-tokens"
bad_start emptyfile CAPGATE_API_TOKENS_FILE="$E2E_TMP/empty-tokens"
check "token file with no token: exit 2" 2 "$RC"
check_contains "token file with no token: says so" "the file holds no token" "$OUT"
bad_start emptylist CAPGATE_API_TOKENS=" , "
check "CAPGATE_API_TOKENS set but empty: exit 2 (auth is not silently off)" 2 "$RC"
check_contains "empty list: says so" "CAPGATE_API_TOKENS is set but holds no token" "$OUT"
bad_start spaced CAPGATE_API_TOKENS="$TOK1,two words-$WRONG"
check "a token with a space: exit 2" 2 "$RC"
check_contains "a token with a space: names the item" "CAPGATE_API_TOKENS: item 2: a token must be printable ASCII" "$OUT"
bad_start swapped CAPGATE_API_TOKENS_FILE="$WRONG"
check "a token where the file path goes: exit 2" 2 "$RC"
leaks=""
for t in "$TOK1" "$WRONG" "two words"; do grep -qF -- "$t" <<<"$OUT" && leaks="$leaks $t"; done
check "start-up errors never contain a token" "" "$leaks"
OUT=$(env CAPGATE_API_TOKENS_FILE="$E2E_TMP/no-such-file" timeout 10 "$CAPGATE" mcp --port 0 --upstream "$UPSTREAM" 2>&1)
check "capgate mcp: a missing token file: exit 2" 2 "$?"
check_contains "capgate mcp: a missing token file: the same error" \
  "capgate mcp: CAPGATE_API_TOKENS_FILE: cannot read the file it names: No such file or directory" "$OUT"
OUT=$(printf '' | env CAPGATE_API_TOKENS_FILE="$E2E_TMP/no-such-file" timeout 10 "$CAPGATE" mcp --stdio --upstream "$UPSTREAM" 2>&1)
check "capgate mcp --stdio is local: the token variables do not apply (exit 0)" 0 "$?"

# ==== capgate mcp (standalone HTTP) honours the tokens too ==================================
STUDIO=$UPSTREAM
export CAPGATE_API_TOKENS="$TOK2"
mcp_start
unset CAPGATE_API_TOKENS
SID=
mcp_post "$INIT"
check "capgate mcp: no token: 401" 401 "$HTTP_STATUS"
mcp_post "$INIT" -H "Authorization: Bearer $TOK2"
check "capgate mcp: Bearer token: 200" 200 "$HTTP_STATUS"
kill "$MCP_PID"; wait "$MCP_PID" 2>/dev/null

# ==== auth off: today's behaviour ===========================================================
serve off
check_contains "auth off: start-up says so" '"inbound auth: off (set CAPGATE_API_TOKENS or CAPGATE_API_TOKENS_FILE' "$(cat "$CG_LOG")"
http GET "$REST/v1/api/ml/9"
check "auth off: a request without a token is served" 200 "$HTTP_STATUS"
http GET "$REST/v1/api/ml/9" -H 'Authorization: Bearer callers-upstream-token'
check_json "auth off: the caller's Authorization (even Bearer) is forwarded as before" \
  '.url=="/api/ml/9" and .headers.authorization=="Bearer callers-upstream-token"' "$(last)"
http GET "$REST/metrics"
check "auth off: /metrics needs no token" 200 "$HTTP_STATUS"
SID=
mcp_post "$INIT"
check "auth off: MCP initialize without a token: 200" 200 "$HTTP_STATUS"
stop

e2e_done
