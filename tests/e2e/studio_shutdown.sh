#!/usr/bin/env bash
# studio: shutdown and the project webhook senders. A sender still talking to a slow
# receiver is waited for (a webhook that arrived is answered and logged, never cut off
# half-way), a receiver that does not answer within the grace (5 s) is cancelled, and
# SIGTERM always ends studio within a bounded time with exit status 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/studio_lib.sh"

KEY=shutdown0123456789abcdef0123456789abcdef
export LABEL_STUDIO_API_KEY=$KEY
start_fake_ml

ANN='{"result":[{"value":{"choices":["Positive"]},"from_name":"s","to_name":"t","type":"choices"}]}'
setup_project() {   # a project with one task and the fake backend (so its /webhook is a hook)
  api POST /api/projects '{"title":"Shutdown"}'; P=$(printf '%s' "$HTTP_BODY" | jq .id)
  api POST "/api/projects/$P/import" '[{"text":"one"}]'
  TASK=$(curl -s "$ST/api/projects/$P/tasks" -H "Authorization: Token $KEY" | jq '.[0].id')
  api POST /api/ml "{\"url\":\"$ML_URL\",\"project\":$P}"
  check "backend added: 201" 201 "$HTTP_STATUS"
}
ms() { echo $(( $(date +%s%N) / 1000000 )); }
# stop_timed — SIGTERM studio, wait for it; sets STOP_MS and STOP_RC.
stop_timed() {
  local t0; t0=$(ms)
  kill -TERM "$ST_PID"
  wait "$ST_PID"; STOP_RC=$?
  STOP_MS=$(( $(ms) - t0 ))
}
webhooks_received() {
  curl -s "$ML_URL/__requests" | jq "[.requests[] | select(.path == \"/webhook\" and .body.action == \"$1\")] | length"
}

# --- 1. a slow receiver (2 s) inside the grace: studio waits, the webhook is delivered whole
start_studio "$E2E_TMP/a.db"
setup_project
curl -s -X POST "$ML_URL/__control" -H 'Content-Type: application/json' -d '{"webhook_delay_ms":2000}' >/dev/null
api POST "/api/tasks/$TASK/annotations" "$ANN"
check "annotation created: 201" 201 "$HTTP_STATUS"
sleep 0.5                               # the sender is now waiting for the slow answer
stop_timed
check "SIGTERM: exit status 0" 0 "$STOP_RC"
check "studio waited for the running webhook (>= 1 s)" 1 "$([ "$STOP_MS" -ge 1000 ] && echo 1)"
check "and not for the grace (< 5 s, took ${STOP_MS} ms)" 1 "$([ "$STOP_MS" -lt 5000 ] && echo 1)"
check "the receiver got ANNOTATION_CREATED once" 1 "$(webhooks_received ANNOTATION_CREATED)"
ERR=$(cat "$ST_LOG")
check "no sender was cancelled" 0 "$(grep -c 'cancelled' <<<"$ERR")"
check "no webhook failed" 0 "$(grep -c 'webhook .* failed' <<<"$ERR")"

# --- 2. a receiver that never answers in time: cancelled after the grace, studio still ends
curl -s -X DELETE "$ML_URL/__requests" >/dev/null
curl -s -X POST "$ML_URL/__control" -H 'Content-Type: application/json' -d '{"webhook_delay_ms":60000}' >/dev/null
start_studio "$E2E_TMP/b.db"
setup_project
api POST "/api/tasks/$TASK/annotations" "$ANN"
check "annotation created: 201" 201 "$HTTP_STATUS"
sleep 0.5
stop_timed
check "SIGTERM: exit status 0" 0 "$STOP_RC"
check "studio gave the sender its grace (>= 4.5 s)" 1 "$([ "$STOP_MS" -ge 4500 ] && echo 1)"
check "and then stopped it (< 9 s, took ${STOP_MS} ms)" 1 "$([ "$STOP_MS" -lt 9000 ] && echo 1)"
ERR=$(cat "$ST_LOG")
check_contains "the log says the sender was cancelled" "still running after 5 s: cancelled" "$ERR"

e2e_done
