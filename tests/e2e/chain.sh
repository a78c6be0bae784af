#!/usr/bin/env bash
# chain.sh — the whole stack with nothing faked: `capgate studio` with the demo project
# (scripts/seed-demo.sh), the reference `capgate mlbackend`, and `capgate serve` in front.
# REST: all 9 operations through capgate against studio. MCP: train → studio → webhook →
# new version → create-predictions-all-tasks → every task predicted by that version.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"

KEY=c4a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3
JSON='Content-Type: application/json'
cg_start LABEL_STUDIO_API_KEY=$KEY studio --db "$E2E_TMP/studio.db" || { not_ok "studio starts"; exit 1; }
LS=$CG_URL
cg_start -u LABEL_STUDIO_URL -u LABEL_STUDIO_API_KEY mlbackend --model-dir "$E2E_TMP/models" ||
  { not_ok "mlbackend starts"; exit 1; }
ML=$CG_URL
PROJECT=$("$E2E_ROOT/scripts/seed-demo.sh" "$LS" "$KEY" "$ML")
check "seed-demo creates the demo project" 1 "$PROJECT"

cg_start LABEL_STUDIO_API_KEY=$KEY serve --base-uri "$LS"
API="http://127.0.0.1:$CG_REST_PORT/v1/api/ml"
MCP_URL="http://127.0.0.1:$CG_MCP_PORT/mcp"

# ---- REST: the 9 operations against the real studio ----------------------------------
http GET "$API?project=$PROJECT"
check "REST list: 200" 200 "$HTTP_STATUS"
check_json "REST list: the demo backend, connected and untrained" \
  'length == 1 and .[0].state == "CO" and .[0].model_version == "untrained" and .[0].is_interactive' "$HTTP_BODY"
ML_ID=$(jq '.[0].id' <<<"$HTTP_BODY")
http POST "$API" -H "$JSON" --data-binary "{\"url\":\"$ML\",\"project\":$PROJECT,\"title\":\"second\"}"
check "REST create: 201" 201 "$HTTP_STATUS"
check_contains "REST create: JSON passed through" "application/json" "$(header Content-Type)"
ID2=$(jq .id <<<"$HTTP_BODY")
http GET "$API/$ID2"
check_json "REST get: the new backend" ".id == $ID2 and .title == \"second\" and .state == \"CO\"" "$HTTP_BODY"
http PATCH "$API/$ID2" -H "$JSON" --data-binary "{\"url\":\"$ML\",\"project\":$PROJECT,\"title\":\"renamed\"}"
check_json "REST update: renamed" '.title == "renamed"' "$HTTP_BODY"
http GET "$API/$ID2/versions"
check "REST versions before training: none yet" '{"versions":[]}' "$HTTP_BODY"
http DELETE "$API/$ID2"
check "REST delete: 204 with no body" "204:" "$HTTP_STATUS:$HTTP_BODY"
http GET "$API/$ID2"
check "REST get after delete: studio's 404 passed through" 404 "$HTTP_STATUS"
check_json "REST 404 keeps Label Studio's error body" '.detail == "No MLBackend matches the given query." and .status_code == 404' "$HTTP_BODY"
http GET "$API/abc"
check "REST: a non-integer id never reaches studio" 400 "$HTTP_STATUS"
http GET "$API?project=$PROJECT" -H "Authorization: Token wrong"
check "REST: the caller's own credential is forwarded (studio refuses it)" 401 "$HTTP_STATUS"
FIRST=$(curl -s -H "Authorization: Token $KEY" "$LS/api/projects/$PROJECT/tasks?page_size=1" | jq '.[0].id // .tasks[0].id')
http POST "$API/$ML_ID/interactive-annotating" -H "$JSON" --data-binary "{\"task\": $FIRST}"
check_json "REST interactive annotation: a choice with a score" \
  '.data.result[0].type == "choices" and (.data.score > 0)' "$HTTP_BODY"

# ---- MCP: train, versions, predictions for all tasks --------------------------------
mcp_init
check "MCP initialize gives a session, initialized is accepted" "yes:200:202" \
  "$([ -n "$SID" ] && echo yes):$HTTP_STATUS:$MCP_INITIALIZED_STATUS"
call() { mcp_post "{\"jsonrpc\":\"2.0\",\"id\":$1,\"method\":\"tools/call\",\"params\":{\"name\":\"$2\",\"arguments\":$3}}"; }
call 10 train "{\"id\": $ML_ID}"
check_json "MCP train: success (studio sends START_TRAINING)" '.result.isError != true' "$HTTP_BODY"
call 11 get-model-versions "{\"id\": $ML_ID}"
check_json "MCP get-model-versions: the new version 1" '.result.structuredContent.versions == ["1"]' "$HTTP_BODY"
call 12 create-predictions-all-tasks "{\"id\": $ML_ID, \"batch_size\": 64}"
check_json "MCP create-predictions-all-tasks: started" '.result.isError != true and .result.structuredContent.detail == "Predictions have successfully started."' "$HTTP_BODY"
for _ in $(seq 100); do
  PREDS=$(curl -s -H "Authorization: Token $KEY" "$LS/api/predictions?project=$PROJECT")
  [ "$(jq '[.[] | select(.model_version == "1")] | length' <<<"$PREDS")" = 510 ] && break
  sleep 0.1
done
check "every demo task is predicted by version 1" 510 "$(jq '[.[] | select(.model_version == "1")] | length' <<<"$PREDS")"
call 13 get-ml-backend "{\"id\": $ML_ID}"
check_json "MCP get-ml-backend: the backend now reports version 1" '.result.structuredContent.model_version == "1"' "$HTTP_BODY"
call 14 list-ml-backends "{\"project\": $PROJECT}"
check_json "MCP list-ml-backends: arrays wrapped as items" '.result.structuredContent.items | length == 1' "$HTTP_BODY"
call 15 get-ml-backend '{"id": "x"}'
check_json "MCP: a bad argument is a tool error naming it" '.result.isError and (.result.content[0].text | contains("id"))' "$HTTP_BODY"
e2e_done
