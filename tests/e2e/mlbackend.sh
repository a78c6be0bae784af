#!/usr/bin/env bash
# mlbackend.sh — the ML-backend protocol through a real `capgate mlbackend` process:
# /health /setup /predict /webhook /versions /metrics shapes, predictions before and after
# training, START_TRAINING fetching annotations from a fake Label Studio (Token and
# personal-access-token auth), versions on disk surviving a restart, held-out accuracy
# through /predict, interactive context, and training after N annotation events.
. "$(dirname "$0")/lib.sh"

DATA="$E2E_ROOT/demo/sentiment.jsonl"
CFG='<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text" choice="single"><Choice value="Positive"/><Choice value="Negative"/><Choice value="Neutral"/></Choices></View>'
KEY=0123456789abcdef0123456789abcdef01234567
PAT='eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl'
MODELS="$E2E_TMP/models"

fixture_start "$E2E_TMP/ls.log" fake-studio.mjs --port 0 --data "$DATA" --project 7 --key "$KEY" --pat "$PAT" ||
  { not_ok "fake label studio starts"; exit 1; }
LS="http://127.0.0.1:$FIX_PORT"

# start_backend [flags...] — starts capgate mlbackend; sets ML, ML_PID, ML_LOG.
start_backend() {
  cg_start mlbackend --model-dir "$MODELS" "$@" || { not_ok "mlbackend starts"; exit 1; }
  ML_PID=$CG_PID ML_LOG=$CG_LOG ML=$CG_URL
}
post() { http POST "$ML$1" -H 'Content-Type: application/json' --data-binary "$2"; }
setup_body() { jq -nc --arg c "$CFG" --arg h "$1" --arg t "$2" '{project: "7.1764320000", schema: $c, hostname: $h, access_token: $t, extra_params: null}'; }
# tasks_json FILTER — the demo lines selected by a jq filter on {i, text, label}, as tasks.
held_out_tasks() { jq -sc '[to_entries[] | select(.key % 5 == 4) | {id: (.key + 1), data: {text: .value.text}}]' "$DATA"; }
held_out_labels() { jq -sc '[to_entries[] | select(.key % 5 == 4) | .value.label]' "$DATA"; }

start_backend

# --- health, metrics, routing -------------------------------------------------------
http GET "$ML/health"
check "GET /health is 200" 200 "$HTTP_STATUS"
check_json "GET /health says UP with a model class" '.status == "UP" and (.model_class | type == "string")' "$HTTP_BODY"
check_contains "GET /health is JSON" "application/json" "$(header Content-Type)"
http GET "$ML/"
check_json "GET / answers like /health" '.status == "UP"' "$HTTP_BODY"
http GET "$ML/metrics"
check "GET /metrics is {}" "200 {}" "$HTTP_STATUS $HTTP_BODY"
http GET "$ML/nope"
check_json "unknown route is a JSON 404" '.status == 404 and (.detail | contains("/predict"))' "$HTTP_BODY"
http GET "$ML/predict"
check "GET /predict is 405" 405 "$HTTP_STATUS"
check "405 names the allowed method" POST "$(header Allow)"

# --- setup -------------------------------------------------------------------------
post /setup "$(jq -nc '{project: "7.1", schema: "<View><Text name=\"t\" value=\"$t\"/><Labels name=\"l\" toName=\"t\"><Label value=\"A\"/></Labels></View>"}')"
check "/setup with <Labels> is 200, as the ML backend SDK answers" 200 "$HTTP_STATUS"
check "/setup with <Labels> names no model it cannot have" '{"model_version":"unsupported-label-config"}' "$HTTP_BODY"
post /predict "$(jq -nc '{tasks: [{id: 1, data: {img: "x.png"}}], project: "7.1", label_config: "<View><Image name=\"i\" value=\"$img\"/><Choices name=\"c\" toName=\"i\"><Choice value=\"A\"/><Choice value=\"B\"/></Choices></View>"}')"
check "/predict with an <Image> config is 200" 200 "$HTTP_STATUS"
check_json "/predict with an <Image> config: no results, and the reason" \
  '.results == [] and .model_version == "unsupported-label-config" and (.detail | contains("unsupported tag <Image>"))' "$HTTP_BODY"
post /predict "$(jq -nc --arg c "$CFG" '{tasks: {id: 1, data: {text: "Great!"}}, label_config: $c}')"
check_json "/predict takes one task sent as an object" '.results | length == 1' "$HTTP_BODY"
post /setup '{"project": "7.1", "schema": "<View><Text name="}'
check_json "/setup with broken XML still answers a version (the reason is logged)" '.model_version == "unsupported-label-config"' "$HTTP_BODY"
post /setup '{"project": "7.1"}'
check_json "/setup without schema is 400" '.status == 400 and (.detail | contains("schema"))' "$HTTP_BODY"
post /setup 'not json'
check "/setup with a non-JSON body is 400" 400 "$HTTP_STATUS"
post /setup "$(jq -nc --arg c "$CFG" '{project: "x", schema: $c}')"
check_json "/setup with a bad project id is 400" '.status == 400 and (.detail | contains("project"))' "$HTTP_BODY"
post /setup "$(setup_body "$LS" "$KEY")"
check "/setup with the demo config is 200" 200 "$HTTP_STATUS"
check "/setup answers the untrained version" '{"model_version":"untrained"}' "$HTTP_BODY"

http GET "$ML/versions"
check "/versions before training is empty" '200 {"versions":[]}' "$HTTP_STATUS $HTTP_BODY"

# --- predict before training -------------------------------------------------------
post /predict "$(jq -nc --arg c "$CFG" '{tasks: [{id: 1, data: {text: "Great!"}}, {id: 2, data: {text: "Awful."}}], project: "7.1764320000", label_config: $c, params: {login: null, password: null, context: null}}')"
check "/predict before training is 200" 200 "$HTTP_STATUS"
check_json "/predict gives one result per task" '.results | length == 2' "$HTTP_BODY"
check_json "untrained prediction has Label Studio's result shape" \
  '.results[0].result == [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Positive"]}}]' "$HTTP_BODY"
check_json "untrained prediction is honest: score 1/3, version untrained" \
  'all(.results[]; (.score - 1/3 | fabs) < 0.001 and .model_version == "untrained")' "$HTTP_BODY"
post /predict '{"project": "7.1"}'
check_json "/predict without tasks is 400" '.status == 400 and (.detail | contains("tasks"))' "$HTTP_BODY"
post /predict '{"tasks": [{"data": {"text": "x"}}], "project": "99.1"}'
check_json "/predict with no label config anywhere is 400" '.status == 400 and (.detail | contains("label config"))' "$HTTP_BODY"
post /predict "$(jq -nc --arg c "$CFG" '{tasks: [{id: 1, data: {other: "x"}}], label_config: $c}')"
check_json "a task without the text field gets an empty result, not an error" \
  '.results == [{"result": [], "score": 0, "model_version": "untrained"}]' "$HTTP_BODY"

# --- training ----------------------------------------------------------------------
post /webhook '{"action": "PROJECT_UPDATED", "project": {"id": 7}}'
check "unknown webhook action is 200 Unknown event" '200 {"status":"Unknown event"}' "$HTTP_STATUS $HTTP_BODY"
post /webhook '{"project": {"id": 7}}'
check "webhook without action is 400" 400 "$HTTP_STATUS"
post /webhook '{"action": "START_TRAINING", "project": {"id": 7, "title": "demo"}}'
check "START_TRAINING is 201" 201 "$HTTP_STATUS"
check_json "START_TRAINING made version 1" '.status == "ok" and .result.model_version == "1" and .result.training == "done"' "$HTTP_BODY"
TRAIN_DOCS=$(jq -s '[to_entries[] | select(.key % 5 != 4)] | length' "$DATA")
check_json "training counted every exported annotation ($TRAIN_DOCS) and skipped the cancelled ones" \
  ".result.trained_on.documents == $TRAIN_DOCS and .result.trained_on.skipped > 0" "$HTTP_BODY"
http GET "$LS/__stats"
check_json "the export was fetched with the setup token" '.exports == 1 and .last_authorization_scheme == "Token"' "$HTTP_BODY"
http GET "$ML/versions"
check "/versions lists the new version" '{"versions":["1"]}' "$HTTP_BODY"
check "the version is a file on disk" yes "$([ -s "$MODELS/7/1.json" ] && echo yes)"
check_json "the model file names its version and project" '.version == "1" and .project == 7 and .model.format == "capgate-textclf/1"' "$(cat "$MODELS/7/1.json")"

# --- predict after training: accuracy on the held-out lines ------------------------
post /predict "$(jq -nc --argjson t "$(held_out_tasks)" '{tasks: $t, project: "7.1764320000"}')"
check "/predict of the held-out set is 200" 200 "$HTTP_STATUS"
ACC=$(jq -n --argjson r "$HTTP_BODY" --argjson l "$(held_out_labels)" \
  '[range($l | length) as $i | select($r.results[$i].result[0].value.choices[0] == $l[$i])] | length / ($l | length)')
echo "# held-out accuracy through /predict: $ACC"
check "held-out accuracy through /predict is at least 0.85" yes "$(jq -n "$ACC >= 0.85 | if . then \"yes\" else \"no\" end" -r)"
check_json "trained predictions carry version 1 and confident scores" \
  'all(.results[]; .model_version == "1" and .score > 0.34 and .score <= 1)' "$HTTP_BODY"
post /setup "$(setup_body "$LS" "$KEY")"
check "/setup now answers the trained version" '{"model_version":"1"}' "$HTTP_BODY"

# --- interactive annotation: the context's text is what gets classified -------------
post /predict '{"tasks": [{"id": 3, "data": {"text": "I love this fantastic phone, wonderful screen."}}], "project": "7.1", "params": {"context": {"result": [{"type": "textarea", "value": {"text": ["Worst phone ever, total waste of money."]}}]}}}'
check_json "interactive prediction classifies the context text" '.results[0].result[0].value.choices == ["Negative"]' "$HTTP_BODY"
post /predict '{"tasks": [{"id": 3, "data": {"text": "I love this fantastic phone, wonderful screen."}}], "project": "7.1", "params": {"context": null}}'
check_json "without context the task text is classified" '.results[0].result[0].value.choices == ["Positive"]' "$HTTP_BODY"

# --- a second run, a restart, and the model comes back from disk ---------------------
post /webhook '{"action": "START_TRAINING", "project": {"id": 7}}'
check_json "a second START_TRAINING makes version 2" '.result.model_version == "2"' "$HTTP_BODY"
http GET "$ML/versions?project=7"
check "/versions?project=7 lists both, in order" '{"versions":["1","2"]}' "$HTTP_BODY"
http GET "$ML/versions?project=abc"
check "/versions with a bad project is 400" 400 "$HTTP_STATUS"
kill -TERM "$ML_PID"; wait "$ML_PID" 2>/dev/null; RC=$?
check "SIGTERM stops the backend cleanly" 0 "$RC"
start_backend
post /predict "$(jq -nc --arg c "$CFG" '{tasks: [{id: 1, data: {text: "Worst hotel I have ever had, the staff was rude."}}], project: "7.1764320000", label_config: $c}')"
check_json "after a restart predictions use the latest version from disk" \
  '.results[0].model_version == "2" and .results[0].result[0].value.choices == ["Negative"]' "$HTTP_BODY"

# --- credentials: a wrong token is a clear error; a PAT is exchanged for a Bearer -----
post /setup "$(setup_body "$LS" "wrong-token")"
post /webhook '{"action": "START_TRAINING", "project": {"id": 7}}'
check "training with a rejected token is 502" 502 "$HTTP_STATUS"
check_json "the error says what Label Studio answered" '.detail | contains("401") and contains("Invalid token")' "$HTTP_BODY"
check "a failed run makes no version" '{"versions":["1","2"]}' "$(curl -s "$ML/versions")"
kill -TERM "$ML_PID"; wait "$ML_PID" 2>/dev/null
LABEL_STUDIO_URL="$LS" LABEL_STUDIO_API_KEY="$PAT" start_backend --train-every 2
post /setup "$(setup_body "http://127.0.0.1:9/unused" "ignored")"
post /webhook '{"action": "START_TRAINING", "project": {"id": 7}}'
check_json "env LABEL_STUDIO_URL + a personal access token train version 3" '.result.model_version == "3"' "$HTTP_BODY"
http GET "$LS/__stats"
check_json "the PAT was exchanged and the export fetched with Bearer" '.refreshes >= 1 and .last_authorization_scheme == "Bearer"' "$HTTP_BODY"
if grep -q "$PAT" "$ML_LOG"; then not_ok "the token never appears in logs"; else ok "the token never appears in logs"; fi

# --- training after N annotation events ---------------------------------------------
post /webhook '{"action": "ANNOTATION_CREATED", "project": {"id": 7}, "annotation": {"id": 1}, "task": {"id": 1}}'
check_json "first annotation event is counted" '.status == "ok" and .result.annotations_since_training == 1 and .result.training_started == false' "$HTTP_BODY"
check "annotation events answer 201" 201 "$HTTP_STATUS"
post /webhook '{"action": "ANNOTATION_UPDATED", "project": {"id": 7}, "annotation": {"id": 1}}'
check_json "the second event (of --train-every 2) starts training" '.result.training_started == true' "$HTTP_BODY"
for _ in $(seq 50); do
  [ "$(curl -s "$ML/versions" | jq -c .versions)" = '["1","2","3","4"]' ] && break
  sleep 0.1
done
check "the event-triggered run made version 4" '{"versions":["1","2","3","4"]}' "$(curl -s "$ML/versions")"

e2e_done
