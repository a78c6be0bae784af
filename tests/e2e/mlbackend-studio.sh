#!/usr/bin/env bash
# mlbackend-studio.sh — `capgate studio` and `capgate mlbackend` together, with no fake in
# between: a project seeded from demo/sentiment.jsonl, the training split annotated through
# the API, the backend connected (/health + /setup), POST /api/ml/{id}/train (studio sends
# START_TRAINING, the backend fetches studio's export), /api/ml/{id}/versions, predictions
# for every task stored with the new version (held-out accuracy checked), and interactive
# annotation. Needs the studio command; on a build without it the script says so and
# checks nothing.
. "$(dirname "$0")/lib.sh"

if ! "$CAPGATE" studio --help >/dev/null 2>&1; then
  echo "# capgate has no studio command in this build: nothing to check here"
  exit 0
fi

DATA="$E2E_ROOT/demo/sentiment.jsonl"
CFG='<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text" choice="single"><Choice value="Positive"/><Choice value="Negative"/><Choice value="Neutral"/></Choices></View>'
KEY=e2e0123456789abcdef0123456789abcdef0123
AUTH="Authorization: Token $KEY"
JSON='Content-Type: application/json'

cg_start LABEL_STUDIO_API_KEY=$KEY studio --db "$E2E_TMP/studio.db" || { not_ok "studio starts"; exit 1; }
LS=$CG_URL
CG_NAME=ml cg_start mlbackend --model-dir "$E2E_TMP/models" || { not_ok "mlbackend starts"; exit 1; }
M_PORT=$CG_PORT

http POST "$LS/api/projects" -H "$AUTH" -H "$JSON" --data-binary "$(jq -nc --arg c "$CFG" '{title: "demo", label_config: $c}')"
check "studio creates the demo project" 201 "$HTTP_STATUS"
PROJECT=$(printf '%s' "$HTTP_BODY" | jq .id)
http POST "$LS/api/projects/$PROJECT/import" -H "$AUTH" -H "$JSON" --data-binary "$(jq -sc '[.[] | {text}]' "$DATA")"
check_json "studio imports the demo set" ".task_count == $(wc -l <"$DATA")" "$HTTP_BODY"

# Annotate the training split (every line but each 5th); task ids follow the import order.
FIRST=$(curl -s -H "$AUTH" "$LS/api/projects/$PROJECT/tasks?page_size=1" | jq '.[0].id // .tasks[0].id')
jq -r '.label' "$DATA" | awk -v first="$FIRST" '(NR - 1) % 5 != 4 { print (first + NR - 1) " " $0 }' >"$E2E_TMP/to-annotate"
FAILED=0
while read -r task label; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" -H "$JSON" "$LS/api/tasks/$task/annotations" \
    -d "{\"result\": [{\"from_name\": \"sentiment\", \"to_name\": \"text\", \"type\": \"choices\", \"value\": {\"choices\": [\"$label\"]}}]}")
  [ "$code" = 201 ] || FAILED=$((FAILED + 1))
done <"$E2E_TMP/to-annotate"
check "every training task is annotated through studio" 0 "$FAILED"

http POST "$LS/api/ml" -H "$AUTH" -H "$JSON" --data-binary "{\"url\": \"http://127.0.0.1:$M_PORT\", \"project\": $PROJECT, \"is_interactive\": true, \"title\": \"nb\"}"
check "studio connects the backend" 201 "$HTTP_STATUS"
check_json "connected, with the untrained version from /setup" '.state == "CO" and .model_version == "untrained"' "$HTTP_BODY"
ML_ID=$(printf '%s' "$HTTP_BODY" | jq .id)

http POST "$LS/api/ml/$ML_ID/train" -H "$AUTH"
check "train is 200" 200 "$HTTP_STATUS"
http GET "$LS/api/ml/$ML_ID/versions" -H "$AUTH"
check "studio lists the backend's new version" '{"versions":["1"]}' "$HTTP_BODY"
http GET "$LS/api/ml/$ML_ID" -H "$AUTH"
check_json "the backend's model_version follows /setup" '.state == "CO" and .model_version == "1"' "$HTTP_BODY"
check_contains "the backend trained on studio's export" "made version 1 from $(wc -l <"$E2E_TMP/to-annotate") documents" "$(cat "$E2E_TMP/ml.log")"

http POST "$LS/api/ml/$ML_ID/predict" -H "$AUTH"
check "predict-all starts" 200 "$HTTP_STATUS"
N=$(wc -l <"$DATA")
for _ in $(seq 100); do
  PREDS=$(curl -s -H "$AUTH" "$LS/api/predictions?project=$PROJECT")
  [ "$(printf '%s' "$PREDS" | jq 'length')" = "$N" ] && break
  sleep 0.1
done
check_json "every task gets a prediction from version 1 with a score" \
  "length == $N and all(.[]; .model_version == \"1\" and .score > 0 and .score <= 1)" "$PREDS"
printf '%s' "$PREDS" >"$E2E_TMP/preds.json"
ACC=$(jq -n --slurpfile p "$E2E_TMP/preds.json" --slurpfile d "$DATA" --argjson first "$FIRST" '
  ($p[0] | map({key: (.task | tostring), value: .result[0].value.choices[0]}) | from_entries) as $by_task
  | [$d | to_entries[] | select(.key % 5 == 4) | $by_task[($first + .key) | tostring] == .value.label]
  | (map(select(.)) | length) / length')
echo "# held-out accuracy of studio's stored predictions: $ACC"
check "held-out accuracy of the stored predictions is at least 0.85" true "$(jq -n "${ACC:-0} >= 0.85")"

http POST "$LS/api/ml/$ML_ID/interactive-annotating" -H "$AUTH" -H "$JSON" \
  --data-binary "{\"task\": $FIRST, \"context\": {\"result\": [{\"type\": \"textarea\", \"value\": {\"text\": [\"Avoid this, total waste of money.\"]}}]}}"
check_json "interactive annotation answers from version 1 for the context" \
  '.data.model_version == "1" and .data.result[0].value.choices == ["Negative"]' "$HTTP_BODY"

e2e_done
