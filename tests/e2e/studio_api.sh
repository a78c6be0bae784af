#!/usr/bin/env bash
# studio: token auth (legacy keys, X-Api-Key, personal access tokens and Bearer access
# tokens) and the project / task / annotation / prediction / export endpoints, checked
# against Label Studio's shapes; the admin key is generated once, stored and printed once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/studio_lib.sh"

DB="$E2E_TMP/studio.db"
# jwt_payload TOKEN — the decoded JSON payload of a JWT.
jwt_payload() {
  local p
  p=$(printf '%s' "$1" | cut -d. -f2 | tr '_-' '/+')
  while [ $(( ${#p} % 4 )) -ne 0 ]; do p="$p="; done
  printf '%s' "$p" | base64 -d
}
unset LABEL_STUDIO_API_KEY
start_studio "$DB"
for _ in $(seq 100); do grep -q 'shown only now' "$ST_OUT" && break; sleep 0.05; done
KEY=$(sed -n 's/.*shown only now): \([0-9a-f]*\)$/\1/p' "$ST_OUT")
check "first start prints a generated 40-hex admin key" 40 "${#KEY}"
check "the key is not in the log" "" "$(grep -l "$KEY" "$ST_LOG")"

# --- 401s, as Django REST framework words them
http GET "$ST/api/projects"
check_error "no credentials" 401 "Authentication credentials were not provided."
check "401 carries WWW-Authenticate: Token" "Token" "$(header WWW-Authenticate)"
http GET "$ST/api/projects" -H "Authorization: Token"
check_error "Token with nothing after it" 401 "Invalid token header. No credentials provided."
http GET "$ST/api/projects" -H "Authorization: Token a b"
check_error "Token with spaces" 401 "Invalid token header. Token string should not contain spaces."
http GET "$ST/api/projects" -H "Authorization: Token 0000000000000000000000000000000000000000"
check_error "unknown key" 401 "Invalid token."
http GET "$ST/api/projects" -H "Authorization: Basic YTpi"
check_error "other schemes are not credentials" 401 "Authentication credentials were not provided."
http GET "$ST/api/projects" -H "Authorization: Token $KEY"
check "legacy key: 200" 200 "$HTTP_STATUS"
http GET "$ST/api/projects" -H "X-Api-Key: $KEY"
check "X-Api-Key is a legacy key: 200" 200 "$HTTP_STATUS"
http GET "$ST/api/nope" -H "Authorization: Token $KEY"
check "unknown route: HTML 404" "404 text/html" "$HTTP_STATUS $(header Content-Type | cut -d';' -f1)"
http GET "$ST/api/ml/1"
check "unknown route is resolved before auth; known routes need auth" 401 "$HTTP_STATUS"
http GET "$ST/health"
check "GET /health needs no auth" '200 {"status":"UP"}' "$HTTP_STATUS $HTTP_BODY"

# --- personal access tokens
api POST /api/token/
check "mint a PAT: 201" 201 "$HTTP_STATUS"
PAT=$(printf '%s' "$HTTP_BODY" | jq -r .token)
check_json "PAT body is {token}" 'keys_unsorted == ["token"]' "$HTTP_BODY"
check_json "PAT is a refresh JWT" '.token_type == "refresh" and .user_id == 1 and (.jti|length == 32) and .exp > (now + 86400*365*100)' "$(jwt_payload "$PAT")"
http GET "$ST/api/projects" -H "Authorization: Token $PAT"
check_error "a PAT is not a credential itself" 401 "Invalid token."
http POST "$ST/api/token/refresh/" -H 'Content-Type: application/json' -d "{\"refresh\":\"$PAT\"}"
check "refresh needs no auth: 200" 200 "$HTTP_STATUS"
check_json "refresh body is {access}" 'keys_unsorted == ["access"]' "$HTTP_BODY"
ACCESS=$(printf '%s' "$HTTP_BODY" | jq -r .access)
check_json "access token: type access, 5-minute lifetime" '.token_type == "access" and (.exp - .iat) == 300 and .user_id == 1' "$(jwt_payload "$ACCESS")"
http GET "$ST/api/projects" -H "Authorization: Bearer $ACCESS"
check "Bearer access token: 200" 200 "$HTTP_STATUS"
http GET "$ST/api/projects" -H "Authorization: Bearer ${ACCESS%?}x"
check_error "tampered Bearer token is ignored" 401 "Authentication credentials were not provided."
http GET "$ST/api/projects" -H "Authorization: Bearer $PAT"
check_error "a refresh token is not an access token" 401 "Authentication credentials were not provided."
http POST "$ST/api/token/refresh/" -H 'Content-Type: application/json' -d "{\"refresh\":\"$ACCESS\"}"
check_error "refresh with an access token" 401 "Token has wrong type"
http POST "$ST/api/token/refresh/" -H 'Content-Type: application/json' -d '{"refresh":"abc.def.ghi"}'
check_error "refresh with garbage" 401 "Token is invalid or expired"
http POST "$ST/api/token/refresh/" -H 'Content-Type: application/json' -d '{}'
check_verror "refresh without a token" '{"refresh":["This field is required."]}'
# alg=none must never be accepted
NONE_H=$(printf '{"alg":"none","typ":"JWT"}' | base64 -w0 | tr '+/' '-_' | tr -d '=')
NONE_P=$(printf '{"token_type":"access","exp":9999999999,"iat":1,"jti":"x","user_id":1}' | base64 -w0 | tr '+/' '-_' | tr -d '=')
http GET "$ST/api/projects" -H "Authorization: Bearer $NONE_H.$NONE_P."
check_error "alg none is refused" 401 "Authentication credentials were not provided."

# --- restart: the key and PATs survive, the key is not printed again
kill "$ST_PID"; wait "$ST_PID" 2>/dev/null
start_studio "$DB"
check "second start prints no key" "" "$(grep -c 'shown only now' "$ST_OUT" | grep -v '^0$')"
http GET "$ST/api/projects" -H "Authorization: Token $KEY"
check "stored admin key still works" 200 "$HTTP_STATUS"
http POST "$ST/api/token/refresh/" -H 'Content-Type: application/json' -d "{\"refresh\":\"$PAT\"}"
check "PAT still refreshes after a restart" 200 "$HTTP_STATUS"
api POST /api/token/blacklist/ "{\"refresh\":\"$PAT\"}"
check "blacklist: 204" "204|" "$HTTP_STATUS|$HTTP_BODY"
http POST "$ST/api/token/refresh/" -H 'Content-Type: application/json' -d "{\"refresh\":\"$PAT\"}"
check_error "blacklisted PAT" 401 "Token is blacklisted"
api POST /api/token/blacklist/ "{\"refresh\":\"$PAT\"}"
check_error "blacklist twice" 404 "Token is invalid or already blacklisted."
kill "$ST_PID"; wait "$ST_PID" 2>/dev/null
LABEL_STUDIO_API_KEY=env-key-123 start_studio "$DB"
http GET "$ST/api/projects" -H "Authorization: Token env-key-123"
check "LABEL_STUDIO_API_KEY sets the admin key" 200 "$HTTP_STATUS"
http GET "$ST/api/projects" -H "Authorization: Token $KEY"
check "the previous key no longer works" 401 "$HTTP_STATUS"
KEY=env-key-123

# --- projects
start_fake_ml
api POST /api/projects '{"title":"Sentiment","description":"d","label_config":"<View><Text name=\"text\" value=\"$text\"/><Choices name=\"s\" toName=\"text\"><Choice value=\"A\"/></Choices></View>"}'
check "project create: 201" 201 "$HTTP_STATUS"
check_json "project: Label Studio's leading fields and values" \
  '(keys_unsorted[0:6] == ["id","title","description","label_config","expert_instruction","show_instruction"]) and .title == "Sentiment" and .description == "d" and .task_number == 0 and .created_by.id == 1 and .config_has_control_tags == true and .model_version == ""' "$HTTP_BODY"
P=$(printf '%s' "$HTTP_BODY" | jq .id)
api POST /api/projects '{"title":"ab"}'
check_verror "project title too short" '{"title":["Ensure this field has at least 3 characters."]}'
api POST /api/projects '{"title":5}'
check_verror "project title not a string" '{"title":["Not a valid string."]}'
api GET /api/projects
check_json "project list is paginated like Label Studio" "(keys_unsorted == [\"count\",\"next\",\"previous\",\"results\"]) and .count == 1 and .results[0].id == $P" "$HTTP_BODY"
api GET "/api/projects/$P/"; check "project get (trailing slash ok): 200" "200 $P" "$HTTP_STATUS $(printf '%s' "$HTTP_BODY" | jq .id)"
api GET /api/projects/999; check_error "project get: unknown" 404 "No Project matches the given query."

# --- import
api POST "/api/projects/$P/import" '[{"text":"one"},{"data":{"text":"two"},"annotations":[{"result":[{"from_name":"s","to_name":"text","type":"choices","value":{"choices":["A"]}}]}],"predictions":[{"result":[],"score":0.25,"model_version":"imported"}]},{"text":"three"}]'
check "import: 201" 201 "$HTTP_STATUS"
check_json "import: counters" '.task_count == 3 and .annotation_count == 1 and .prediction_count == 1 and (.duration|type == "number") and (keys_unsorted[0:3] == ["task_count","annotation_count","prediction_count"])' "$HTTP_BODY"
api POST "/api/projects/$P/import" '{"text":"single"}'
check_json "import of a single object" '.task_count == 1' "$HTTP_BODY"
api POST "/api/projects/$P/import" '[{"text":"ok"},5]'
check_verror "import with a bad item stores nothing" '{"non_field_errors":["Task #1: a task must be a JSON object"]}'
api POST "/api/projects/$P/import" '[]'
check "import of nothing: 400" 400 "$HTTP_STATUS"
api POST /api/projects/999/import '[{"text":"x"}]'; check_error "import into an unknown project" 404 "No Project matches the given query."

# --- tasks
TASK_KEYS='["id","annotations","file_upload","drafts","predictions","data","meta","created_at","updated_at","inner_id","total_annotations","cancelled_annotations","total_predictions","comment_count","unresolved_comment_count","last_comment_updated_at","project","updated_by","comment_authors","is_labeled","overlap"]'
api GET "/api/projects/$P/tasks"
check_json "project tasks: 4 tasks in id order, export shape" "length == 4 and (.[0] | keys_unsorted) == $TASK_KEYS and .[0].data == {\"text\":\"one\"} and .[1].total_annotations == 1 and .[1].is_labeled == true and .[1].predictions[0].score == 0.25 and .[3].inner_id == 4" "$HTTP_BODY"
T1=$(printf '%s' "$HTTP_BODY" | jq '.[0].id')
api GET "/api/projects/$P/tasks?page=2&page_size=3"
check_json "project tasks: pagination" "length == 1 and .[0].data.text == \"single\"" "$HTTP_BODY"
api GET "/api/tasks?project=$P"
check_json "/api/tasks?project=: totals and tasks" '(keys_unsorted == ["total_annotations","total_predictions","total","tasks"]) and .total == 4 and .total_annotations == 1 and .total_predictions == 1 and (.tasks|length) == 4' "$HTTP_BODY"
api GET "/api/tasks/$T1"; check_json "task get" ".id == $T1 and .project == $P" "$HTTP_BODY"
api GET /api/tasks/999999; check_error "task get: unknown" 404 "No Task matches the given query."

# --- annotations (and the webhook a backend's project gets)
api POST /api/ml "{\"url\":\"$ML_URL\",\"project\":$P}"
check "backend added (creates the project webhook)" 201 "$HTTP_STATUS"
api POST "/api/tasks/$T1/annotations" '{"result":[{"from_name":"s","to_name":"text","type":"choices","value":{"choices":["A"]}}],"lead_time":2.5}'
check "annotation create: 201" 201 "$HTTP_STATUS"
check_json "annotation: Label Studio's fields" "(keys_unsorted[0:8] == [\"id\",\"result\",\"created_username\",\"created_ago\",\"completed_by\",\"was_cancelled\",\"ground_truth\",\"created_at\"]) and .task == $T1 and .project == $P and .lead_time == 2.5 and .completed_by == 1 and .was_cancelled == false" "$HTTP_BODY"
ANN=$(printf '%s' "$HTTP_BODY" | jq .id)
api POST "/api/tasks/$T1/annotations" '{"result":{"x":1}}'
check "annotation with a non-list result: 400" 400 "$HTTP_STATUS"
api POST /api/tasks/999999/annotations '{"result":[]}'; check_error "annotation on an unknown task" 404 "No Task matches the given query."
api GET "/api/tasks/$T1/annotations"; check_json "annotation list" "length == 1 and .[0].id == $ANN" "$HTTP_BODY"
for _ in $(seq 50); do [ "$(fake_requests /webhook | jq length)" -gt 0 ] && break; sleep 0.1; done
check_json "ANNOTATION_CREATED webhook to {url}/webhook" \
  "[.[] | select(.body.action == \"ANNOTATION_CREATED\")][0].body | .annotation.id == $ANN and .task.id == $T1 and .project.id == $P" "$(fake_requests /webhook)"

# --- predictions
api GET "/api/predictions?task=$(printf '%s' "$(curl -s "$ST/api/projects/$P/tasks" -H "Authorization: Token $KEY")" | jq '.[1].id')"
check_json "predictions by task: Label Studio's fields" '(.[0] | keys_unsorted) == ["id","result","model_version","created_ago","score","cluster","neighbors","mislabeling","created_at","updated_at","model","model_run","task","project"] and .[0].model_version == "imported"' "$HTTP_BODY"
api GET "/api/predictions?project=$P"; check_json "predictions by project" 'length == 1' "$HTTP_BODY"
api GET "/api/predictions?task=abc"; check "predictions with a bad filter: 400" 400 "$HTTP_STATUS"

# --- export
api GET "/api/projects/$P/export?exportType=JSON"
check "export: 200" 200 "$HTTP_STATUS"
check_contains "export: attachment" "attachment; filename=\"project-$P-at-" "$(header Content-Disposition)"
check_json "export: only annotated tasks, with annotations[].result[]" "length == 2 and (.[0] | keys_unsorted) == $TASK_KEYS and ([.[].annotations[].result[0].value.choices[0]] == [\"A\",\"A\"])" "$HTTP_BODY"
api GET "/api/projects/$P/export?exportType=JSON&download_all_tasks=true"; check_json "export: all tasks" 'length == 4' "$HTTP_BODY"
api GET "/api/projects/$P/export?exportType=CSV"; check "export: unsupported type 400" 400 "$HTTP_STATUS"

# --- method, media type
api DELETE "/api/projects/$P"; check_error "method not allowed" 405 "Method \"DELETE\" not allowed."
http POST "$ST/api/projects" -H "Authorization: Token $KEY" -H 'Content-Type: text/plain' -d 'x'
check_error "unsupported media type" 415 "Unsupported media type \"text/plain\" in request."

# an annotation without "result" is stored with result [] (found by fuzz_studio: the empty
# list was leaked; make test-asan and test-valgrind check the exit)
api POST "/api/tasks/$T1/annotations" '{"lead_time":1}'
check "annotation without result: 201" 201 "$HTTP_STATUS"
check_json "annotation without result: result is []" '.result == []' "$HTTP_BODY"

e2e_done
