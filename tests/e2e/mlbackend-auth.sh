#!/usr/bin/env bash
# mlbackend-auth.sh — `capgate mlbackend` basic auth (flags and environment), command-line
# errors, SIGINT, and a START_TRAINING that outlasts --train-wait.
. "$(dirname "$0")/lib.sh"

MODELS="$E2E_TMP/models"

# --- flags ---------------------------------------------------------------------------
"$CAPGATE" mlbackend --help >"$E2E_TMP/help" 2>&1
check "--help exits 0" 0 "$?"
check_contains "--help lists --model-dir" "--model-dir DIR" "$(cat "$E2E_TMP/help")"
"$CAPGATE" mlbackend --port abc >/dev/null 2>"$E2E_TMP/err"
check "--port abc exits 2" 2 "$?"
check_contains "--port abc says why" "capgate mlbackend: --port: expected an integer 0..65535, got 'abc'" "$(cat "$E2E_TMP/err")"
"$CAPGATE" mlbackend --bogus >/dev/null 2>"$E2E_TMP/err"
check "an unknown option exits 2" 2 "$?"
"$CAPGATE" mlbackend --port >/dev/null 2>"$E2E_TMP/err"
check_contains "a flag without value says so" "capgate mlbackend: --port: needs a value" "$(cat "$E2E_TMP/err")"
"$CAPGATE" mlbackend --port 0 --basic-auth-user u >/dev/null 2>"$E2E_TMP/err"
check "a user without a password exits 1" 1 "$?"
check_contains "and says both are needed" "both a user and a password" "$(cat "$E2E_TMP/err")"
"$CAPGATE" mlbackend --listen not-an-ip --port 0 >/dev/null 2>"$E2E_TMP/err"
check_contains "a bad --listen address is refused" "invalid listen address" "$(cat "$E2E_TMP/err")"

# --- basic auth from flags ---------------------------------------------------------
CG_NAME=a cg_start mlbackend --model-dir "$MODELS" --basic-auth-user alice --basic-auth-pass 's3cret:x' ||
  { not_ok "mlbackend starts"; exit 1; }
PID=$CG_PID ML=$CG_URL
http GET "$ML/health"
check "no credentials: 401" 401 "$HTTP_STATUS"
check "401 asks for basic auth" 'Basic realm="Login required"' "$(header WWW-Authenticate)"
check "401 body is Unauthorized" "Unauthorized" "$HTTP_BODY"
http GET "$ML/health" -u alice:wrong
check "a wrong password: 401" 401 "$HTTP_STATUS"
http GET "$ML/health" -u alice:s3cret
check "a prefix of the password: 401" 401 "$HTTP_STATUS"
http GET "$ML/health" -H 'Authorization: Basic !!!notbase64'
check "garbage credentials: 401" 401 "$HTTP_STATUS"
http POST "$ML/predict" -d '{"tasks": []}'
check "every route is guarded (/predict)" 401 "$HTTP_STATUS"
http GET "$ML/health" -u 'alice:s3cret:x'
check "right credentials: 200" 200 "$HTTP_STATUS"
http POST "$ML/setup" -u 'alice:s3cret:x' -d "$(jq -nc '{project: "3.1", schema: "<View><Text name=\"t\" value=\"$t\"/><Choices name=\"c\" toName=\"t\"><Choice value=\"A\"/><Choice value=\"B\"/></Choices></View>"}')"
check "right credentials reach /setup" '200 {"model_version":"untrained"}' "$HTTP_STATUS $HTTP_BODY"
if grep -q 's3cret' "$E2E_TMP/a.log" "$E2E_TMP/a.out"; then not_ok "the password never appears in logs"; else ok "the password never appears in logs"; fi
kill -INT "$PID"; wait "$PID" 2>/dev/null; RC=$?
check "SIGINT stops the backend cleanly" 0 "$RC"
check_contains "and it says so" "stopping on SIGINT" "$(cat "$E2E_TMP/a.log")"

# --- basic auth from the environment -------------------------------------------------
cg_start BASIC_AUTH_USER=bob BASIC_AUTH_PASS=pw mlbackend --model-dir "$MODELS" || { not_ok "mlbackend starts"; exit 1; }
ML=$CG_URL
http GET "$ML/health"
check "BASIC_AUTH_USER/PASS turn auth on" 401 "$HTTP_STATUS"
http GET "$ML/health" -u bob:pw
check "and those credentials pass" 200 "$HTTP_STATUS"

# --- a training run longer than --train-wait answers "running" ------------------------
# A Label Studio that accepts the connection and never answers keeps the run going.
start_bg "$E2E_TMP/slow.log" node -e "const s = require('net').createServer(() => {}).listen(0, '127.0.0.1', () => console.log('slow on ' + s.address().port))"
SLOW_PORT=$(log_port "$E2E_TMP/slow.log" 'slow on ([0-9]+)') || { not_ok "the silent server starts"; exit 1; }
cg_start mlbackend --model-dir "$MODELS" --train-wait 0.3 || { not_ok "mlbackend starts"; exit 1; }
PID=$CG_PID ML=$CG_URL
http POST "$ML/setup" -d "$(jq -nc --arg h "http://127.0.0.1:$SLOW_PORT" '{project: "4.1", hostname: $h, access_token: "k", schema: "<View><Text name=\"t\" value=\"$t\"/><Choices name=\"c\" toName=\"t\"><Choice value=\"A\"/><Choice value=\"B\"/></Choices></View>"}')"
START=$(date +%s%N)
http POST "$ML/webhook" -d '{"action": "START_TRAINING", "project": {"id": 4}}'
MS=$(( ($(date +%s%N) - START) / 1000000 ))
check "a slow run answers 201 before it ends" 201 "$HTTP_STATUS"
check_json "and says it is still running, with the current version" '.result.training == "running" and .result.model_version == "untrained"' "$HTTP_BODY"
check "after about --train-wait (under 2 s)" yes "$([ "$MS" -lt 2000 ] && echo yes || echo "no: $MS ms")"
http POST "$ML/predict" -d '{"tasks": [{"data": {"t": "x"}}], "project": "4.1"}'
check_json "predictions are served while training runs" '.results[0].model_version == "untrained"' "$HTTP_BODY"
# A waiting START_TRAINING and the stuck run must not hold up a stop.
curl -s -o /dev/null "$ML/webhook" -d '{"action": "START_TRAINING", "project": {"id": 4}}' &
CURL_PID=$!
sleep 0.1
START=$(date +%s%N)
kill -TERM "$PID"; wait "$PID" 2>/dev/null; RC=$?
MS=$(( ($(date +%s%N) - START) / 1000000 ))
wait "$CURL_PID" 2>/dev/null
check "SIGTERM during a stuck training run exits 0" 0 "$RC"
check "and within 3 s" yes "$([ "$MS" -lt 3000 ] && echo yes || echo "no: $MS ms")"

e2e_done
