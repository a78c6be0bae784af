#!/usr/bin/env bash
# serve-upstream.sh — capgate serve when the upstream misbehaves, and its credentials:
# unreachable → 502, hang → 504, reset → 502, retries of idempotent calls only, the cap on
# concurrent upstream calls, /readyz, the no-credentials 401, personal access tokens
# (exchange, cache, renewal on expiry and on 401, one exchange for concurrent requests,
# refusal), and the SIGTERM drain.
. "$(dirname "$0")/lib.sh"
ROUTES="$E2E_TMP/routes.json"; echo '[]' >"$ROUTES"
recording_start recording-upstream.js "$ROUTES" || exit 1
UP=$FIX_PORT UP_PID=$FIX_PID

# serve NAME [ENV=V...] -- [ARGS...] : starts capgate, sets $BASE and $CG_PID
serve() {
  local name=$1; shift
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  CG_NAME=$name cg_start -u LABEL_STUDIO_API_KEY -u LABEL_STUDIO_URL "${envs[@]}" serve "$@" || exit 1
  BASE=$CG_URL
}
stop() { kill -TERM "$CG_PID" 2>/dev/null; wait "$CG_PID" 2>/dev/null; }
count() { jq -s "map(select($1))|length" "$REC"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# ---- unreachable, retries ------------------------------------------------------------
DEAD=$(free_port)   # dead now; a late upstream binds it below
serve dead LABEL_STUDIO_URL="http://127.0.0.1:$DEAD" LABEL_STUDIO_API_KEY=k -- --threads 1 --retries 7
http GET "$BASE/v1/api/ml/1"
check "unreachable upstream: 502" 502 "$HTTP_STATUS"
check_json "unreachable upstream: problem+json" '.status==502 and .type=="urn:capgate:problem:upstream-unreachable"' "$HTTP_BODY"
http GET "$BASE/readyz"
check "readyz with the upstream down: 503" 503 "$HTTP_STATUS"
# an idempotent call is retried until the upstream comes up (back-off 50 ms doubling, 7 times)
curl -s -o "$E2E_TMP/retry.body" -w '%{http_code}' "$BASE/v1/api/ml/5" >"$E2E_TMP/retry.status" &
RETRY=$!
sleep 0.15
start_bg "$E2E_TMP/late.log" node "$FIX/recording-upstream.js" "$DEAD" "$E2E_TMP/late.jsonl"
wait "$RETRY"
check "idempotent GET retried until the upstream came up" 200 "$(cat "$E2E_TMP/retry.status")"
kill "$BG_PID"; wait "$BG_PID" 2>/dev/null
sleep 0.1
T0=$(date +%s%N)
http POST "$BASE/v1/api/ml/5/train" -H 'Content-Type: application/json' -d '{}'
check "non-idempotent POST is not retried: 502" 502 "$HTTP_STATUS"
[ "$(ms_since "$T0")" -lt 400 ] && ok "POST failed at once (no back-off)" || not_ok "POST failed at once (no back-off)" "$(ms_since "$T0") ms"
stop

# ---- hang → 504, reset → 502, cap on concurrent calls ---------------------------------
serve slow LABEL_STUDIO_URL="http://127.0.0.1:$UP" LABEL_STUDIO_API_KEY=k -- --threads 1 --timeout 600 --long-timeout 1500 --max-upstream 1
echo '[{"path":"/api/ml/1","mode":"hang"},{"path":"/api/ml/2","mode":"reset"},
       {"path":"/api/ml/3","delayMs":300,"body":"{\"id\":3}"},
       {"path":"/api/ml/4/train","delayMs":900,"body":""}]' >"$ROUTES"
T0=$(date +%s%N)
http GET "$BASE/v1/api/ml/1"
EL=$(ms_since "$T0")
check "hanging upstream: 504" 504 "$HTTP_STATUS"
check_json "hanging upstream: problem+json" '.type=="urn:capgate:problem:upstream-timeout"' "$HTTP_BODY"
[ "$EL" -ge 550 ] && [ "$EL" -lt 1500 ] && ok "timeout honoured (--timeout 600: ${EL} ms)" || not_ok "timeout honoured" "$EL ms"
http POST "$BASE/v1/api/ml/4/train" -H 'Content-Type: application/json' -d '{}'
check "train gets the long timeout (900 ms answer within --long-timeout 1500)" 200 "$HTTP_STATUS"
http GET "$BASE/v1/api/ml/2"
check "connection reset by the upstream: 502" 502 "$HTTP_STATUS"
T0=$(date +%s%N)
PIDS=()
for i in 1 2 3; do curl -s -o "$E2E_TMP/cap$i" -w '%{http_code}' "$BASE/v1/api/ml/3" >"$E2E_TMP/cap$i.status" & PIDS+=($!); done
wait "${PIDS[@]}"
EL=$(ms_since "$T0")
[ "$EL" -ge 850 ] && ok "--max-upstream 1 runs 3 slow calls one after another (${EL} ms)" || not_ok "--max-upstream 1 serialises calls" "$EL ms"
check "queued calls are not timed out by their wait (all 200)" "200 200 200" "$(cat "$E2E_TMP"/cap?.status | sed 's/200/200 /g' | sed 's/ $//')"
stop

# ---- no credentials --------------------------------------------------------------------
echo '[]' >"$ROUTES"
serve nocred LABEL_STUDIO_URL="http://127.0.0.1:$UP" -- --threads 1
BEFORE=$(records)
http GET "$BASE/v1/api/ml/1"
check "no credentials: 401" 401 "$HTTP_STATUS"
check_json "no credentials: problem says how to provide them" '.type=="urn:capgate:problem:no-credentials" and (.detail|test("LABEL_STUDIO_API_KEY")) and (.detail|test("Authorization"))' "$HTTP_BODY"
check "no credentials: nothing sent" "$BEFORE" "$(records)"
check_contains "start-up warns about the unset variable" "LABEL_STUDIO_API_KEY" "$(cat "$E2E_TMP/nocred.log")"
http GET "$BASE/v1/api/ml/1" -H 'Authorization: Token callers-own'
check "no configured credentials, caller's Authorization forwarded" 200 "$HTTP_STATUS"
check_json "caller's Authorization reached the upstream" '.headers.authorization=="Token callers-own"' "$(tail -1 "$REC")"
stop

# ---- --upstream and --base-uri win over LABEL_STUDIO_URL ---------------------------------
serve flags LABEL_STUDIO_URL="http://127.0.0.1:$DEAD" LABEL_STUDIO_API_KEY=k -- --threads 1 \
  --upstream "label-studio-subpackage-ml=http://127.0.0.1:$UP/"
http GET "$BASE/v1/api/ml/12"
check "--upstream NS=URL overrides LABEL_STUDIO_URL" 200 "$HTTP_STATUS"
check_json "--upstream: trailing slash of the URL dropped" '.url=="/api/ml/12"' "$(tail -1 "$REC")"
stop
serve flags2 LABEL_STUDIO_API_KEY=k -- --threads 1 --base-uri "http://127.0.0.1:$UP"
http GET "$BASE/v1/api/ml/13"
check "--base-uri overrides the spec's baseUri" 200 "$HTTP_STATUS"
stop

# ---- personal access tokens -----------------------------------------------------------
jwt() { node -e 'const b=s=>Buffer.from(JSON.stringify(s)).toString("base64url");
  console.log(b({alg:"HS256",typ:"JWT"})+"."+b(JSON.parse(process.argv[1]))+".c2ln")' "$1"; }
NOW=$(date +%s)
PAT=$(jwt "{\"token_type\":\"refresh\",\"exp\":$((NOW + 86400)),\"jti\":\"pat\"}")
ACCESS1=$(jwt "{\"token_type\":\"access\",\"exp\":$((NOW + 300)),\"jti\":\"a1\"}")
ACCESS_SHORT=$(jwt "{\"token_type\":\"access\",\"exp\":$((NOW + 31)),\"jti\":\"short\"}")
refresh_route() { # ACCESS [DELAY] [STATUS]
  jq -n --arg a "$1" --argjson d "${2:-0}" --argjson s "${3:-200}" \
    '[{method:"POST", path:"/api/token/refresh/", status:$s, delayMs:$d, body:({access:$a}|tojson)}]' >"$ROUTES"
}
refresh_route "$ACCESS1" 300
serve pat LABEL_STUDIO_URL="http://127.0.0.1:$UP" LABEL_STUDIO_API_KEY="$PAT" -- --threads 1
: >"$REC"
PIDS=()
for i in 1 2 3 4 5; do curl -s -o /dev/null -w '%{http_code}\n' "$BASE/v1/api/ml/$i" >>"$E2E_TMP/par.txt" & PIDS+=($!); done
wait "${PIDS[@]}"
check "PAT: 5 concurrent calls succeed" "200 200 200 200 200" "$(sort "$E2E_TMP/par.txt" | tr '\n' ' ' | sed 's/ $//')"
check "PAT: concurrent calls wait on one exchange" 1 "$(count '.url=="/api/token/refresh/"')"
check_json "PAT: the exchange posts the refresh token" ".method==\"POST\" and (.body|fromjson).refresh==\"$PAT\" and .headers[\"content-type\"]==\"application/json\"" "$(head -1 "$REC")"
check "PAT: calls carry Bearer <access token>" 5 "$(count ".headers.authorization==\"Bearer $ACCESS1\"")"
check "PAT: the PAT itself never goes to a normal call" 0 "$(count "(.url|startswith(\"/api/ml\")) and (.headers.authorization|test(\"$PAT\"))")"
http GET "$BASE/v1/api/ml/9"
check "PAT: the access token is cached" 1 "$(count '.url=="/api/token/refresh/"')"
# a 401 drops the access token; the call is retried once with a fresh one
refresh_route "$ACCESS_SHORT"
jq '. + [{method:"GET", path:"/api/ml/10", status:401, body:"{\"detail\":\"Authentication credentials were not provided.\"}"}]' "$ROUTES" >"$ROUTES.new" && mv "$ROUTES.new" "$ROUTES"
: >"$REC"
http GET "$BASE/v1/api/ml/10"
check "401 from the upstream: passed through after one renewal" 401 "$HTTP_STATUS"
check "401 from the upstream: one new exchange" 1 "$(count '.url=="/api/token/refresh/"')"
check "401 from the upstream: the call was sent twice" 2 "$(count '.url=="/api/ml/10"')"
check_json "401 retry used the new token" ".headers.authorization==\"Bearer $ACCESS_SHORT\"" "$(tail -1 "$REC")"
# ACCESS_SHORT is usable for at most 1 s (capgate stops using a token 30 s before exp)
refresh_route "$ACCESS1"
sleep 1.2
: >"$REC"
http GET "$BASE/v1/api/ml/11"
check "expired access token renewed before use" 1 "$(count '.url=="/api/token/refresh/"')"
check_json "renewed token used" ".headers.authorization==\"Bearer $ACCESS1\"" "$(tail -1 "$REC")"
stop
refresh_route "$ACCESS1" 0 401
serve patbad LABEL_STUDIO_URL="http://127.0.0.1:$UP" LABEL_STUDIO_API_KEY="$PAT" -- --threads 1
http GET "$BASE/v1/api/ml/1"
check "refused PAT: 401" 401 "$HTTP_STATUS"
check_json "refused PAT: problem says so" '.type=="urn:capgate:problem:credentials-refused"' "$HTTP_BODY"
if grep -q "$PAT" "$E2E_TMP/pat.log" "$E2E_TMP/patbad.log"; then not_ok "logs never hold the PAT"; else ok "logs never hold the PAT"; fi
stop

# ---- SIGTERM drains in-flight calls -----------------------------------------------------
echo '[{"path":"/api/ml/1","delayMs":800,"body":"{\"id\":1}"}]' >"$ROUTES"
serve drain LABEL_STUDIO_URL="http://127.0.0.1:$UP" LABEL_STUDIO_API_KEY=k -- --threads 2
curl -s -o "$E2E_TMP/drain.body" -w '%{http_code}' "$BASE/v1/api/ml/1" >"$E2E_TMP/drain.status" &
CURL=$!
sleep 0.3
kill -TERM "$CG_PID"
sleep 0.1
curl -s -o /dev/null -m 1 "$BASE/healthz" && not_ok "no new connections while draining" || ok "no new connections while draining"
wait "$CURL"
check "drain: the call in flight completed" 200 "$(cat "$E2E_TMP/drain.status")"
check "drain: its body" '{"id":1}' "$(cat "$E2E_TMP/drain.body")"
wait "$CG_PID"; rc=$?
check "drain: exit status 0" 0 "$rc"
e2e_done
