#!/usr/bin/env bash
# studio: the 9 /api/ml endpoints against a real ML backend process (the fake one in
# fixtures/), success and error responses checked field by field against Label Studio's
# shapes; the CO/DI/ER/TR state machine; basic auth; what studio sends to the backend.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/studio_lib.sh"

KEY=e2e0123456789abcdef0123456789abcdef0123
export LABEL_STUDIO_API_KEY=$KEY
start_fake_ml --model-version v7
start_studio "$E2E_TMP/studio.db"

CFG='<View><Text name=\"text\" value=\"$text\"/><Choices name=\"sentiment\" toName=\"text\"><Choice value=\"Positive\"/><Choice value=\"Negative\"/></Choices></View>'
api POST /api/projects "{\"title\":\"ML e2e\",\"label_config\":\"$CFG\"}"
check "project created" 201 "$HTTP_STATUS"
PROJECT=$(printf '%s' "$HTTP_BODY" | jq .id)
PROJECT_CREATED=$(printf '%s' "$HTTP_BODY" | jq -r .created_at)
api POST "/api/projects/$PROJECT/import" '[{"text":"good"},{"text":"bad"},{"data":{"text":"fine"}}]'
check "tasks imported" 201 "$HTTP_STATUS"

# --- 1. list: empty, then errors
api GET "/api/ml?project=$PROJECT"
check "list: 200" 200 "$HTTP_STATUS"; check "list: empty array" "[]" "$HTTP_BODY"
api GET "/api/ml"; check_error "list without project" 404 "No Project matches the given query."
api GET "/api/ml?project=999"; check_error "list of unknown project" 404 "No Project matches the given query."
api GET "/api/ml?project=abc"; check_error "list with non-numeric project" 404 "Not found."

# --- 2. create
api POST /api/ml "{\"url\":\"$ML_URL\",\"project\":$PROJECT,\"title\":\"fake\",\"extra_params\":{\"k\":1}}"
check "create: 201" 201 "$HTTP_STATUS"
check "create: Location header is the backend url" "$ML_URL" "$(header Location)"
check_json "create: MLBackend fields in Label Studio's order" "keys_unsorted == $ML_KEYS" "$HTTP_BODY"
check_json "create: values and defaults" \
  ".state == \"CO\" and .readable_state == \"Connected\" and .is_interactive == false and .url == \"$ML_URL\" and .error_message == null and .title == \"fake\" and .auth_method == \"NONE\" and .basic_auth_user == \"\" and .basic_auth_pass_is_set == false and .description == \"\" and .extra_params == {\"k\":1} and .model_version == \"v7\" and .timeout == 100 and .auto_update == true and .project == $PROJECT and (.id|type == \"number\")" \
  "$HTTP_BODY"
check_json "create: timestamps are ISO-8601 with microseconds and Z" \
  "(.created_at | test(\"$TIME_RE\")) and (.updated_at | test(\"$TIME_RE\"))" "$HTTP_BODY"
check_contains "create: timeout rendered as a float" '"timeout":100.0' "$HTTP_BODY"
ML=$(printf '%s' "$HTTP_BODY" | jq .id)

SETUP=$(fake_requests /setup | jq -c '.[-1]')
EPOCH=$(date -d "$PROJECT_CREATED" +%s)
check_json "setup: body fields as Label Studio sends them" \
  "(.body | keys_unsorted) == [\"project\",\"schema\",\"hostname\",\"access_token\",\"extra_params\"] and .body.project == \"$PROJECT.$EPOCH\" and (.body.schema | startswith(\"<View>\")) and .body.hostname == \"$ST\" and .body.access_token == \"$KEY\" and .body.extra_params == {\"k\":1}" \
  "$SETUP"
check_json "setup: User-Agent heartex/<version>, no auth header" \
  '(.user_agent | startswith("heartex/")) and .authorization == null' "$SETUP"
check "create: health and setup run twice (validation, then update_state)" "2 2" \
  "$(fake_requests /health | jq length) $(fake_requests /setup | jq length)"

api POST /api/ml '{}'
check_verror "create without fields" '{"url":["This field is required."],"project":["This field is required."]}'
api POST /api/ml "{\"url\":\"ftp://example.com\",\"project\":$PROJECT}"
check_error "create with a non-http url" 403 "The provided URL was not valid. URLs must begin with http:// or https://, and cannot be local IPs."
api POST /api/ml "{\"url\":\"http://no-such-host.invalid:9090\",\"project\":$PROJECT}"
check_error "create with an unresolvable host" 500 "Can't resolve hostname no-such-host.invalid"
api POST /api/ml "{\"url\":\"$ML_URL\",\"project\":99,\"is_interactive\":\"maybe\",\"auth_method\":\"X\",\"timeout\":\"abc\"}"
check_verror "create with bad fields" '{"is_interactive":["Must be a valid boolean."],"auth_method":["\"X\" is not a valid choice."],"timeout":["A valid number is required."],"project":["Invalid pk \"99\" - object does not exist."]}'
api POST /api/ml "{\"url\":\"\",\"project\":\"x\"}"
check_verror "create with blank url and string project" '{"url":["This field may not be blank."],"project":["Incorrect type. Expected pk value, received str."]}'
api POST /api/ml "{\"url\":\"$ML_URL\",\"project\":$PROJECT,\"auth_method\":\"BASIC_AUTH\"}"
check_verror "create basic auth without credentials" '{"non_field_errors":["Authentication username and password is required for Basic Authentication."]}'
DEAD=$(free_port)
api POST /api/ml "{\"url\":\"http://127.0.0.1:$DEAD\",\"project\":$PROJECT}"
check "create with a dead backend: 400" 400 "$HTTP_STATUS"
check_json "create with a dead backend: health-check message" \
  ".validation_errors.non_field_errors[0] | startswith(\"Can't connect to ML backend http://127.0.0.1:$DEAD, health check failed.\") and contains(\"Additional info: HTTPConnectionPool(host='127.0.0.1', port=$DEAD)\") and contains(\"Connection refused\")" \
  "$HTTP_BODY"
fake_control '{"fail_setup":true}'
api POST /api/ml "{\"url\":\"$ML_URL\",\"project\":$PROJECT}"
check_json "create when setup fails: Label Studio's message" \
  ".validation_errors.non_field_errors[0] | startswith(\"Successfully connected to $ML_URL but it doesn't look like a valid ML backend. Reason: 500 \") and contains(\"for url: $ML_URL/setup.\\nCheck the ML backend server console logs to check the status.There might be\")" \
  "$HTTP_BODY"
fake_control '{"fail_setup":false}'
api POST /api/ml '{"url":'
check_error "create with malformed JSON" 400 "JSON parse error - unexpected token near end of file: line 1 column 7 (char 7)"
api POST /api/ml '[1,2]'
check_verror "create with a list body" '{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}'
http POST "$ST/api/ml" -H "Authorization: Token $KEY" --data-urlencode "url=$ML_URL" --data-urlencode "project=$PROJECT" --data-urlencode "is_interactive=true" --data-urlencode "title=form"
check "create from a form-urlencoded body: 201" 201 "$HTTP_STATUS"
check_json "create from a form: fields coerced" '.is_interactive == true and .title == "form" and .state == "CO"' "$HTTP_BODY"
ML2=$(printf '%s' "$HTTP_BODY" | jq .id)

# --- 3. get
api GET "/api/ml/$ML"
check "get: 200" 200 "$HTTP_STATUS"
check_json "get: fields in order" "keys_unsorted == $ML_KEYS and .id == $ML and .state == \"CO\"" "$HTTP_BODY"
api GET /api/ml/999999; check_error "get unknown backend" 404 "No MLBackend matches the given query."
http GET "$ST/api/ml/abc" -H "Authorization: Token $KEY"
check "get with a non-integer id: HTML 404" "404 text/html" "$HTTP_STATUS $(header Content-Type | cut -d';' -f1)"
http GET "$ST/api/ml/$ML/" -H "Authorization: Token $KEY"
check "get with a trailing slash: 404" 404 "$HTTP_STATUS"
http GET "$ST/api/ml/?project=$PROJECT" -H "Authorization: Token $KEY"
check "/api/ml/ works like /api/ml" "200 2" "$HTTP_STATUS $(printf '%s' "$HTTP_BODY" | jq length)"

# --- 1b. list with backends and the is_interactive filter
api GET "/api/ml?project=$PROJECT"
check_json "list: both backends, id order, full objects" "length == 2 and .[0].id == $ML and .[1].id == $ML2 and (.[0] | keys_unsorted) == $ML_KEYS" "$HTTP_BODY"
api GET "/api/ml?project=$PROJECT&is_interactive=TRUE"
check_json "list: is_interactive=TRUE filters" "length == 1 and .[0].id == $ML2" "$HTTP_BODY"
api GET "/api/ml?project=$PROJECT&is_interactive=0"
check_json "list: is_interactive=0 filters" "length == 1 and .[0].id == $ML" "$HTTP_BODY"
api GET "/api/ml?project=$PROJECT&is_interactive=perhaps"
check_json "list: other is_interactive values are ignored" "length == 2" "$HTTP_BODY"

# --- state machine: DI when health fails, ER when setup fails, CO again
fake_control '{"fail_health":true}'
api GET "/api/ml/$ML"
check_json "health failure: DI, error_message untouched" '.state == "DI" and .readable_state == "Disconnected" and .error_message == null' "$HTTP_BODY"
fake_control '{"fail_health":false,"fail_setup":true}'
api GET "/api/ml/$ML"
check_json "setup failure: ER with the client error text" \
  ".state == \"ER\" and .readable_state == \"Error\" and .error_message == \"500 Server Error: Internal Server Error for url: $ML_URL/setup\"" "$HTTP_BODY"
fake_control '{"fail_setup":false,"model_version":"v8"}'
api GET "/api/ml/$ML"
check_json "recovery: CO, error cleared, model_version from setup" '.state == "CO" and .error_message == null and .model_version == "v8"' "$HTTP_BODY"

# --- 4. update
api PATCH "/api/ml/$ML" "{\"url\":\"$ML_URL\",\"project\":$PROJECT,\"title\":\"renamed\",\"description\":\"d\",\"auto_update\":false,\"model_version\":\"pinned\"}"
check "patch: 200" 200 "$HTTP_STATUS"
check_json "patch: fields updated, order kept" "keys_unsorted == $ML_KEYS and .title == \"renamed\" and .description == \"d\" and .auto_update == false and .model_version == \"pinned\"" "$HTTP_BODY"
api GET "/api/ml/$ML"
check_json "auto_update false keeps the pinned model_version" '.model_version == "pinned"' "$HTTP_BODY"
api PATCH "/api/ml/$ML" '{"auth_method":"BASIC_AUTH","basic_auth_user":"u","basic_auth_pass":""}'
check_verror "patch: blank password with none stored" '{"basic_auth_pass":["Authentication password is required for Basic Authentication."]}'
api PATCH "/api/ml/$ML" "{\"url\":\"http://127.0.0.1:$DEAD\",\"project\":$PROJECT}"
check "patch to an unreachable url: 400" 400 "$HTTP_STATUS"
check_json "patch to an unreachable url: health-check message" '.validation_errors.non_field_errors[0] | startswith("Can'"'"'t connect to ML backend")' "$HTTP_BODY"
api PATCH /api/ml/999999 '{"title":"x"}'; check_error "patch unknown backend" 404 "No MLBackend matches the given query."
api PUT "/api/ml/$ML" '{"title":"put"}'
check_json "PUT works like PATCH" '.title == "put"' "$HTTP_BODY"

# --- basic auth towards the backend
fake_control '{"basic_auth":"alice:secret"}'
api GET "/api/ml/$ML"
check_json "backend requires auth, none stored: DI" '.state == "DI"' "$HTTP_BODY"
api PATCH "/api/ml/$ML" '{"auth_method":"BASIC_AUTH","basic_auth_user":"alice","basic_auth_pass":"wrong"}'
check_verror "patch with wrong basic auth" '{"non_field_errors":["Able to connect to ML Server, but authentication parameters were either not provided or are incorrect."]}'
api PATCH "/api/ml/$ML" '{"auth_method":"BASIC_AUTH","basic_auth_user":"alice","basic_auth_pass":"secret"}'
check_json "patch with right basic auth: CO, password write-only" '.state == "CO" and .basic_auth_user == "alice" and .basic_auth_pass_is_set == true and (has("basic_auth_pass") | not)' "$HTTP_BODY"
check_json "basic auth header sent to the backend" \
  ".[-1].authorization == \"Basic $(printf 'alice:secret' | base64)\"" "$(fake_requests /setup)"
api PATCH "/api/ml/$ML" '{"basic_auth_pass":"  "}'
check_json "patch with a blank password keeps the stored one" '.state == "CO" and .basic_auth_pass_is_set == true' "$HTTP_BODY"
fake_control '{"basic_auth":""}'

# --- 6. interactive annotating
TASK=$(curl -s "$ST/api/projects/$PROJECT/tasks" -H "Authorization: Token $KEY" | jq '.[0].id')
api POST "/api/ml/$ML/interactive-annotating" "{\"task\":$TASK}"
check "interactive on a non-interactive backend: 200" 200 "$HTTP_STATUS"
check "interactive on a non-interactive backend: errors" '{"errors":["Model is not set to be used for interactive preannotations"]}' "$HTTP_BODY"
api POST "/api/ml/$ML2/interactive-annotating" "{\"task\":$TASK,\"context\":{\"result\":[]}}"
check "interactive: 200" 200 "$HTTP_STATUS"
check_json "interactive: data is the first result" ".data.result[0].meta.task_id == $TASK and .data.model_version == \"v8\" and (.data.score|type == \"number\") and (keys_unsorted == [\"data\"])" "$HTTP_BODY"
check_json "interactive: task and context sent to /predict" \
  ".[-1].body.tasks[0].id == $TASK and .[-1].body.params.context == {\"result\":[]} and .[-1].body.project == \"$PROJECT.$EPOCH\" and (.[-1].body.label_config|startswith(\"<View>\"))" "$(fake_requests /predict)"
api POST "/api/ml/$ML2/interactive-annotating" '{"task":999999}'
check_error "interactive: task not in project" 404 "No Task matches the given query."
api POST "/api/ml/$ML2/interactive-annotating" '{}'
check_verror "interactive: task required" '{"task":["This field is required."]}'
api POST "/api/ml/$ML2/interactive-annotating" '{"task":"abc"}'
check_verror "interactive: task must be an integer" '{"task":["A valid integer is required."]}'
api POST "/api/ml/999999/interactive-annotating" "{\"task\":$TASK}"
check_error "interactive: unknown backend" 404 "No MLBackend matches the given query."
fake_control '{"fail_predict":true}'
api POST "/api/ml/$ML2/interactive-annotating" "{\"task\":$TASK}"
check "interactive: backend failure is a 200 with errors" "200 [\"500 Server Error: Internal Server Error for url: $ML_URL/predict\"]" "$HTTP_STATUS $(printf '%s' "$HTTP_BODY" | jq -c .errors)"
fake_control '{"fail_predict":false}'

# --- 8. train
api POST "/api/ml/$ML/train" '{"use_ground_truth":true}'
check "train: 200 with an empty body and no content type" "200||" "$HTTP_STATUS|$HTTP_BODY|$(header Content-Type)"
check_json "train: START_TRAINING webhook with the project" \
  "[.[] | select(.body.action == \"START_TRAINING\")][-1].body | (keys_unsorted == [\"action\",\"project\"]) and .project.id == $PROJECT" "$(fake_requests /webhook)"
# TR is visible in the database until the next update_state; GET runs update_state → CO.
check "train: state TR saved" "TR" "$(sqlite3 "$E2E_TMP/studio.db" "SELECT state FROM ml_backends WHERE id=$ML")"
api GET "/api/ml/$ML"; check_json "a GET after train shows CO" '.state == "CO"' "$HTTP_BODY"
kill "$ML_PID"; wait "$ML_PID" 2>/dev/null
api POST "/api/ml/$ML/train"
check "train with the backend down: still 200, empty" "200|" "$HTTP_STATUS|$HTTP_BODY"
check "train failure: state ER with the error" "ER|1" "$(sqlite3 "$E2E_TMP/studio.db" "SELECT state, error_message LIKE '%Connection refused%' FROM ml_backends WHERE id=$ML")"
api GET "/api/ml/$ML"
check_json "get with the backend down: DI" '.state == "DI" and .readable_state == "Disconnected"' "$HTTP_BODY"
api POST /api/ml/999999/train; check_error "train: unknown backend" 404 "No MLBackend matches the given query."

# --- 9. versions
api GET "/api/ml/$ML/versions"
check "versions with the backend down: 500" 500 "$HTTP_STATUS"
check_json "versions with the backend down: {error}" '(keys_unsorted == ["error"]) and (.error | contains("Connection refused"))' "$HTTP_BODY"
start_fake_ml --model-version v9
api PATCH "/api/ml/$ML" "{\"url\":\"$ML_URL\",\"project\":$PROJECT,\"auth_method\":\"NONE\",\"auto_update\":true}"
check_json "patch to the new backend: CO, new version" '.state == "CO" and .model_version == "v9"' "$HTTP_BODY"
api GET "/api/ml/$ML/versions"
check "versions on a backend without /versions: fallback" '200 {"versions":["v9"],"message":"Upgrade your ML backend version to latest."}' "$HTTP_STATUS $HTTP_BODY"
fake_control '{"versions":["a","b"]}'
api GET "/api/ml/$ML/versions"
check "versions on an old backend: its list" '200 {"versions":["a","b"]}' "$HTTP_STATUS $HTTP_BODY"
api GET /api/ml/999999/versions; check_error "versions: unknown backend" 404 "No MLBackend matches the given query."

# --- 7. predict (details in studio_predict_all.sh)
api POST "/api/ml/$ML/predict?batch_size=abc"
check_verror "predict: bad batch_size" '{"batch_size":["A valid integer is required."]}'
api POST "/api/ml/$ML/predict?batch_size=0"
check_verror "predict: batch_size 0" '{"batch_size":["Ensure this value is greater than or equal to 1."]}'
api POST /api/ml/999999/predict; check_error "predict: unknown backend" 404 "No MLBackend matches the given query."

# --- 5. delete
api POST "/api/projects/$PROJECT/import" '[]'
sqlite3 "$E2E_TMP/studio.db" "UPDATE projects SET model_version='put' WHERE id=$PROJECT"
api DELETE "/api/ml/$ML"
check "delete: 204 with no body" "204|" "$HTTP_STATUS|$HTTP_BODY"
check "delete: project model_version equal to the title is reset" "" "$(sqlite3 "$E2E_TMP/studio.db" "SELECT model_version FROM projects WHERE id=$PROJECT")"
api GET "/api/ml/$ML"; check_error "get after delete" 404 "No MLBackend matches the given query."
api DELETE "/api/ml/$ML"; check_error "delete twice" 404 "No MLBackend matches the given query."

e2e_done
