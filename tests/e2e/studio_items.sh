#!/usr/bin/env bash
# studio: the item routes around the ML API, through a real studio and a real (fake) ML
# backend: label config validation, PATCH projects and model_version rules, POST/PATCH
# tasks and the task detail shape, predictions CRUD with minified results, imported
# predictions (both routes), /next, annotations by id with their webhooks, form and
# multipart bodies, personal access token rules, ML_BLOCK_LOCAL_IP and predict/test.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/studio_lib.sh"

export LABEL_STUDIO_API_KEY=e2eitemskey0000000000000000000000000000
KEY=$LABEL_STUDIO_API_KEY
start_studio "$E2E_TMP/items.db"
start_fake_ml --model-version v7
CFG='<View><Text name="text" value="$text"/><Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>'
cfg_json() { jq -nc --arg c "$1" '{title: "Items", label_config: $c}'; }

# --- label config validation on create and update
api POST /api/projects "$(cfg_json '<View><Text name="my_text" value="$text"/><Choices name="my_class" toName="unexisted"><Choice value="a"/></Choices></View>')"
check_verror "unknown toName" "{\"label_config\":[\"toName=\\\"unexisted\\\" not found in names: ['my_class', 'my_text']\"]}"
api POST /api/projects "$(cfg_json '<View><Text name="t" value="$text"/><Choices name="c"><Choice value="a"/></Choices></View>')"
check_verror "missing toName" "{\"label_config\":[\"Validation failed on : 'toName' is a required property\"]}"
api POST /api/projects '{"title":"Items","label_config":null}'
check_verror "null label config" '{"label_config":["can only parse strings"]}'
api POST /api/projects "$(cfg_json '<View><Text name="t"')"
check "broken XML: 400" 400 "$HTTP_STATUS"
check_json "broken XML: libxml2 says why" '.validation_errors.label_config[0] | length > 5' "$HTTP_BODY"
api POST /api/projects "$(cfg_json "$CFG")"
check "valid config: 201" 201 "$HTTP_STATUS"
check_json "a JSON project shows collaborators' predictions by default" '.show_collab_predictions == true and .model_version == ""' "$HTTP_BODY"
P=$(printf '%s' "$HTTP_BODY" | jq .id)
api PATCH "/api/projects/$P/" '{"label_config":"<View><Text name=\"text\" value=\"$text\"/><Choices name=\"label\" toName=\"nope\"/></View>"}'
check_verror "PATCH with an unknown toName" "{\"label_config\":[\"toName=\\\"nope\\\" not found in names: ['label', 'text']\"]}"
api PATCH "/api/projects/$P" '{"title":"Renamed","description":"d2"}'
check_json "PATCH title and description: 200 with the project" '.title == "Renamed" and .description == "d2" and .label_config != null' "$HTTP_BODY"
api PATCH "/api/projects/$P" '{"title":"ab"}'
check_verror "PATCH with a short title" '{"title":["Ensure this field has at least 3 characters."]}'
api PATCH "/api/projects/$P" '{"model_version":"nowhere"}'
check_verror "PATCH to an unknown model_version" "{\"model_version\":[\"Model version doesn't exist either as live model or as static predictions.\"]}"
api PATCH /api/projects/999 '{"title":"Nope"}'; check_error "PATCH an unknown project" 404 "No Project matches the given query."
api PUT "/api/projects/$P" '{}'; check "PUT is not served: 405" 405 "$HTTP_STATUS"

# --- tasks
api POST /api/tasks "{\"project\":\"$P\",\"data\":{\"text\":\"good stuff\"}}"
check "POST /api/tasks (project as a string pk): 201" 201 "$HTTP_STATUS"
DETAIL_KEYS='["id","predictions","annotations","drafts","annotators","inner_id","cancelled_annotations","total_annotations","total_predictions","completed_at","annotations_results","predictions_results","predictions_score","file_upload","storage_filename","annotations_ids","predictions_model_versions","avg_lead_time","draft_exists","updated_by","data","meta","created_at","updated_at","is_labeled","overlap","comment_count","unresolved_comment_count","last_comment_updated_at","project","comment_authors"]'
check_json "task detail: Label Studio's keys in its order" "keys_unsorted == $DETAIL_KEYS and .updated_by == [] and .annotations_ids == \"\" and .predictions_score == null and .inner_id == 1 and .project == $P" "$HTTP_BODY"
T1=$(printf '%s' "$HTTP_BODY" | jq .id)
api POST /api/tasks "{\"project\":$P,\"data\":{\"text\":\"bad stuff\"},\"meta\":{\"src\":\"e2e\"}}"
T2=$(printf '%s' "$HTTP_BODY" | jq .id)
check_json "second task: inner_id 2, meta kept" '.inner_id == 2 and .meta == {"src":"e2e"}' "$HTTP_BODY"
api POST /api/tasks '{"data":{"text":"x"}}'; check_verror "task without project" '{"project":["This field is required."]}'
api POST /api/tasks '{"project":999,"data":{}}'; check_verror "task in an unknown project" '{"project":["Invalid pk \"999\" - object does not exist."]}'
api POST /api/tasks "{\"project\":$P,\"data\":[1]}"; check_verror "task data not an object" '{"data":["Expected a dictionary of items but got type \"list\"."]}'
api POST /api/tasks "{\"project\":$P}"; check_verror "task without data" '{"data":["This field is required."]}'
api PATCH "/api/tasks/$T1/" "{\"data\":{\"text\":\"great stuff\"},\"annotations\":[],\"created_at\":\"\",\"updated_by\":null,\"project\":$P}"
check_json "PATCH task data (read-only fields ignored): 200" '.data == {"text":"great stuff"} and .updated_by == []' "$HTTP_BODY"
api PATCH /api/tasks/999999 '{"data":{}}'; check_error "PATCH an unknown task" 404 "No Task matches the given query."

# --- predictions CRUD, minified results
api POST /api/predictions "{\"task\":$T1,\"result\":\"pos\",\"score\":0.9,\"model_version\":\"m1\"}"
check "minified prediction: 201" 201 "$HTTP_STATUS"
check_json "minified result expanded onto the first Choices" '.result == [{"from_name":"label","to_name":"text","type":"choices","value":{"choices":["pos"]}}] and .score == 0.9 and .model_version == "m1"' "$HTTP_BODY"
PR1=$(printf '%s' "$HTTP_BODY" | jq .id)
api POST /api/predictions "{\"task\":\"$T2\",\"result\":[{\"from_name\":\"label\",\"to_name\":\"text\",\"type\":\"choices\",\"value\":{\"choices\":[\"neg\"]}}]}"
check_json "full result kept; model_version defaults to empty" '.model_version == "" and .score == null and (.result | length) == 1' "$HTTP_BODY"
PR2=$(printf '%s' "$HTTP_BODY" | jq .id)
api POST /api/predictions "{\"task\":$T1,\"result\":{\"choices\":[\"neg\"]}}"
check_json "a value object goes to the control of its type" '.result[0].from_name == "label" and .result[0].value == {"choices":["neg"]}' "$HTTP_BODY"
PR3=$(printf '%s' "$HTTP_BODY" | jq .id)
api POST /api/predictions "{\"task\":$T1,\"result\":[5]}"; check_verror "result items must be objects" '{"result":["Each item in prediction result should be dict"]}'
api POST /api/predictions "{\"task\":$T1,\"result\":true}"; check_verror "a boolean result" '{"result":["Incorrect format bool for prediction result"]}'
api POST /api/predictions "{\"task\":$T1,\"result\":7}"; check_verror "a number no control takes" '{"result":["No control tag of the label config takes this result"]}'
api POST /api/predictions '{"task":999999,"result":[]}'; check_verror "prediction for an unknown task" '{"task":["Invalid pk \"999999\" - object does not exist."]}'
api POST /api/predictions "{\"task\":$T1,\"result\":[],\"score\":\"high\"}"; check_verror "a score that is no number" '{"score":["A valid number is required."]}'
api POST /api/predictions '{}'; check_verror "empty prediction" '{"task":["This field is required."],"result":["This field is required."]}'
api GET "/api/predictions/$PR1/"; check_json "GET prediction by id" ".id == $PR1 and .task == $T1 and .project == $P" "$HTTP_BODY"
api PATCH "/api/predictions/$PR1/" '{"model_version":"m2","score":null}'
check_json "PATCH prediction: version changed, score cleared, result kept" '.model_version == "m2" and .score == null and .result[0].value.choices == ["pos"]' "$HTTP_BODY"
api DELETE "/api/predictions/$PR3/"; check "DELETE prediction: 204, no body" "204|" "$HTTP_STATUS|$HTTP_BODY"
api GET "/api/predictions/$PR3/"; check_error "deleted prediction" 404 "No Prediction matches the given query."
api DELETE "/api/predictions/$PR3/"; check_error "delete twice" 404 "No Prediction matches the given query."
api GET "/api/tasks/$T1"
check_json "task detail aggregates predictions" '.total_predictions == 1 and .predictions_model_versions == "m2"' "$HTTP_BODY"

# model_version may now name the prediction version
api PATCH "/api/projects/$P" '{"model_version":"m2"}'
check_json "PATCH to a version predictions have: 200" '.model_version == "m2"' "$HTTP_BODY"
http PATCH "$ST/api/projects/$P" -H "Authorization: Token $KEY" -H 'Content-Type: application/x-www-form-urlencoded' --data 'model_version='
check_json "PATCH with an empty form value clears it" '.model_version == ""' "$HTTP_BODY"

# --- import predictions
api POST "/api/projects/$P/import/predictions" "[{\"task\":$T2,\"result\":\"neg\",\"score\":0.4,\"model_version\":\"imp\"},{\"task\":$T1,\"result\":[],\"model_version\":\"imp\"}]"
check "import/predictions: 201" '201 {"created":2}' "$HTTP_STATUS $HTTP_BODY"
api GET "/api/predictions?task=$T2"
check_json "imported minified prediction expanded" '[.[] | select(.model_version == "imp")][0].result[0].value.choices == ["neg"]' "$HTTP_BODY"
api POST /api/projects "$(cfg_json "$CFG")"; P2=$(printf '%s' "$HTTP_BODY" | jq .id)
api POST "/api/projects/$P2/import/predictions" "[{\"task\":$T1,\"result\":[]}]"
check_verror "import/predictions for another project's task stores nothing" "{\"non_field_errors\":[\"Prediction #0: task $T1 is not in project $P2\"]}"
api POST "/api/projects/$P/import/predictions" '{"task":1}'; check "import/predictions needs a list: 400" 400 "$HTTP_STATUS"
api POST "/api/projects/$P/import/predictions" "[{\"task\":$T1}]"; check "import/predictions item without result: 400" 400 "$HTTP_STATUS"
api POST /api/projects/999/import/predictions '[]'; check_error "import/predictions into an unknown project" 404 "No Project matches the given query."

# import with ?preannotated_from_fields=
api POST "/api/projects/$P2/import?preannotated_from_fields=my_label" '[{"text":"a","my_label":"pos"},{"data":{"text":"b","my_label":"neg"}}]'
check_json "preannotated import: 2 tasks, 2 predictions" '.task_count == 2 and .prediction_count == 2' "$HTTP_BODY"
api GET "/api/projects/$P2/tasks"
check_json "the field became a prediction and left the data" '.[0].data == {"text":"a"} and .[0].predictions[0].result[0].value.choices == ["pos"] and .[1].predictions[0].result[0].value.choices == ["neg"]' "$HTTP_BODY"
api POST "/api/projects/$P2/import" '[{"data":{"text":"c"},"predictions":[{"result":true}]}]'
check "import with an unusable minified result: 400" 400 "$HTTP_STATUS"

# --- next
api GET "/api/projects/$P/next"
check_json "next: the oldest unlabeled task, in detail shape" ".id == $T1 and (keys_unsorted == $DETAIL_KEYS)" "$HTTP_BODY"

# --- annotations by id, and their webhooks
api POST /api/ml "{\"url\":\"$ML_URL\",\"project\":$P,\"title\":\"fake\"}"
check "backend added: 201" 201 "$HTTP_STATUS"
api POST "/api/tasks/$T1/annotations" '{"result":[{"from_name":"label","to_name":"text","type":"choices","value":{"choices":["pos"]}}]}'
A=$(printf '%s' "$HTTP_BODY" | jq .id)
api GET "/api/projects/$P/next"; check_json "next skips the annotated task" ".id == $T2" "$HTTP_BODY"
curl -s -X DELETE "$ML_URL/__requests" >/dev/null
api PUT "/api/annotations/$A/" '{"result":[]}'
check_json "PUT annotation: 200 with the change" ".id == $A and .result == []" "$HTTP_BODY"
api PATCH "/api/annotations/$A" '{"result":[{"from_name":"label","to_name":"text","type":"choices","value":{"choices":["neg"]}}],"lead_time":3.5,"ground_truth":true}'
check_json "PATCH annotation: result, lead_time, ground_truth; the annotator stays" '.result[0].value.choices == ["neg"] and .lead_time == 3.5 and .ground_truth == true and .completed_by == 1' "$HTTP_BODY"
api GET "/api/annotations/$A/"; check_json "GET annotation by id" ".id == $A and .task == $T1" "$HTTP_BODY"
api PATCH "/api/annotations/$A" '{"result":"x"}'; check_verror "annotation result must be a list" '{"result":["Expected a list of items but got type \"str\"."]}'
api PATCH "/api/annotations/$A" '{"was_cancelled":"yes"}'; check_verror "was_cancelled must be a boolean" '{"was_cancelled":["Must be a valid boolean."]}'
for _ in $(seq 50); do [ "$(fake_requests /webhook | jq length)" -ge 2 ] && break; sleep 0.1; done
check_json "two ANNOTATION_UPDATED webhooks with annotation, task and project" \
  "length == 2 and all(.[]; .body.action == \"ANNOTATION_UPDATED\" and .body.annotation.id == $A and .body.task.id == $T1 and .body.project.id == $P)" "$(fake_requests /webhook)"
curl -s -X DELETE "$ML_URL/__requests" >/dev/null
api DELETE "/api/annotations/$A/"; check "DELETE annotation: 204" "204|" "$HTTP_STATUS|$HTTP_BODY"
for _ in $(seq 50); do [ "$(fake_requests /webhook | jq length)" -ge 1 ] && break; sleep 0.1; done
check_json "ANNOTATIONS_DELETED webhook names the annotation" \
  "length == 1 and .[0].body.action == \"ANNOTATIONS_DELETED\" and .[0].body.annotations == [{\"id\": $A}]" "$(fake_requests /webhook)"
api GET "/api/annotations/$A/"; check_error "deleted annotation" 404 "No Annotation matches the given query."
api PATCH "/api/annotations/$A/" '{}'; check_error "PATCH a deleted annotation" 404 "No Annotation matches the given query."

# --- form and multipart bodies: DRF reads a boolean left out of a form as false
http POST "$ST/api/ml" -H "Authorization: Token $KEY" -H 'Content-Type: application/x-www-form-urlencoded' --data "project=$P2&title=formed&url=$ML_URL"
check_json "form body: 201, auto_update false, so /setup's version is not taken" '.auto_update == false and .is_interactive == false and .model_version == ""' "$HTTP_BODY"
api GET "/api/projects/$P2"; check_json "a new backend's title becomes an empty project model_version" '.model_version == "formed"' "$HTTP_BODY"
http POST "$ST/api/ml" -H "Authorization: Token $KEY" -F "project=$P2" -F "title=multi" -F "url=$ML_URL" -F "auto_update=true"
check_json "multipart body: 201 with the fields" '.title == "multi" and .auto_update == true and .model_version == "v7"' "$HTTP_BODY"
api GET "/api/projects/$P2"; check_json "a set project model_version is kept" '.model_version == "formed"' "$HTTP_BODY"
http POST "$ST/api/projects" -H "Authorization: Token $KEY" -H 'Content-Type: application/x-www-form-urlencoded' --data "title=FormProject"
check_json "form project: show_collab_predictions left out means false" '.show_collab_predictions == false' "$HTTP_BODY"
P3=$(printf '%s' "$HTTP_BODY" | jq .id)
http POST "$ST/api/ml" -H "Authorization: Token $KEY" -H 'Content-Type: application/x-www-form-urlencoded' --data "project=$P3&title=nocollab&url=$ML_URL"
api GET "/api/projects/$P3"; check_json "without collaborators' predictions the model_version stays empty" '.model_version == ""' "$HTTP_BODY"
http POST "$ST/api/ml" -H "Authorization: Token $KEY" -F "project=$P2" -F "file=@$E2E_ROOT/VERSION"
check_error "multipart with a file" 400 "File uploads are not supported: send the field values only."
http POST "$ST/api/ml" -H "Authorization: Token $KEY" -H 'Content-Type: multipart/form-data; boundary=xyz' --data-binary $'--abc\r\n'
check_error "multipart with a wrong boundary" 400 "Multipart form parse error - Invalid boundary in multipart: None"

# --- predict/test
api POST "/api/ml/1/predict/test"
check "predict/test without random=true: 501" '501 {"error":"Not implemented - you must provide random=true query parameter"}' "$HTTP_STATUS $HTTP_BODY"
api POST "/api/ml/1/predict/test?random=true"
check_json "predict/test: one task sent, status and url" ".url == \"$ML_URL/predict\" and .status == 200 and .error == null and (.response.results | length) == 1" "$HTTP_BODY"
api POST "/api/ml/999/predict/test?random=true"; check_error "predict/test of an unknown backend" 404 "No MLBackend matches the given query."

# --- personal access tokens: one valid at a time, list, rotate, X-Api-Key with a JWT
api GET /api/token/; check "no tokens yet" '200 []' "$HTTP_STATUS $HTTP_BODY"
api POST /api/token/; PAT=$(printf '%s' "$HTTP_BODY" | jq -r .token)
api POST /api/token/; check_error "a second PAT while one is valid" 409 "You already have a valid token. Please revoke it before creating a new one."
api GET /api/token/; check_json "token list: one, truncated" 'length == 1 and (.[0].token | endswith("...")) and (.[0].token | length) == 11 and (.[0].expires_at | test("Z$"))' "$HTTP_BODY"
check "the list never shows the token" "" "$(printf '%s' "$HTTP_BODY" | grep -F "$PAT")"
api POST /api/token/rotate/ "{\"refresh\":\"$PAT\"}"
check "rotate: 200" 200 "$HTTP_STATUS"
NEW=$(printf '%s' "$HTTP_BODY" | jq -r .refresh)
api POST /api/token/rotate/ "{\"refresh\":\"$PAT\"}"; check_error "rotating the old one again" 400 "Token is invalid or expired"
http POST "$ST/api/token/rotate/" -H 'Content-Type: application/json' -d "{\"refresh\":\"$NEW\"}"
check "rotate needs credentials" 401 "$HTTP_STATUS"
http POST "$ST/api/token/refresh/" -H 'Content-Type: application/json' -d "{\"refresh\":\"$NEW\"}"
ACCESS=$(printf '%s' "$HTTP_BODY" | jq -r .access)
http GET "$ST/api/projects" -H "X-Api-Key: $ACCESS"
check "X-Api-Key with an access JWT: 200" 200 "$HTTP_STATUS"
http GET "$ST/api/projects" -H "X-Api-Key: $NEW"
check_error "X-Api-Key with a refresh JWT is not a credential" 401 "Authentication credentials were not provided."

# --- ML_BLOCK_LOCAL_IP (off by default, as in Label Studio's settings)
kill "$ST_PID"; wait "$ST_PID" 2>/dev/null
ML_BLOCK_LOCAL_IP=true start_studio "$E2E_TMP/items.db"
api POST /api/ml "{\"url\":\"$ML_URL\",\"project\":$P}"
check_error "ML_BLOCK_LOCAL_IP=true refuses a loopback backend" 403 "URL resolves to a reserved network address (block: 127.0.0.0/8)"
api POST /api/ml "{\"url\":\"http://10.1.2.3:9090\",\"project\":$P}"
check_error "ML_BLOCK_LOCAL_IP=true refuses a private address" 403 "URL resolves to a reserved network address (block: 10.0.0.0/8)"
api GET "/api/projects/$P"; check "the data survived the restart" 200 "$HTTP_STATUS"

e2e_done
