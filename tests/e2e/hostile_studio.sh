#!/usr/bin/env bash
# hostile_studio.sh — capgate studio (Label Studio's API) against hostile input: malformed,
# truncated and deeply nested JSON, huge numbers, invalid UTF-8, CR/LF/NUL and traversal in
# ids, oversized headers and bodies, wrong methods and content types, raw sockets and slow
# clients. Each gets a 4xx in Label Studio's error shapes within a bounded time, and studio
# stays up and keeps its data.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/studio_lib.sh"
. "$(dirname "$0")/fixtures/hostile_lib.bash"
unset LABEL_STUDIO_API_KEY
start_studio "$E2E_TMP/studio.db" || exit 1
for _ in $(seq 100); do grep -q 'shown only now' "$ST_OUT" && break; sleep 0.05; done
KEY=$(sed -n 's/.*shown only now): \([0-9a-f]*\)$/\1/p' "$ST_OUT")
A="Authorization: Token $KEY"; J='Content-Type: application/json'
api POST /api/projects '{"title":"pro"}'
check "a project to aim at" 201 "$HTTP_STATUS"
api POST /api/projects/1/import '[{"data":{"text":"a"}}]'
check "a task to aim at" 201 "$HTTP_STATUS"

# scase NAME STATUS METHOD PATH [curl args] — authenticated; the answer must be one of
# Label Studio's error shapes: {"id","status_code",...,"detail"} JSON (status_code = the
# status), or an HTML page for a 4xx answered before any view (libmicrohttpd's 414/431).
scase() {
  local name=$1 st=$2 m=$3 p=$4; shift 4
  hcase "$name" "$st" "$m" "$ST$p" -H "$A" "$@"
  if json_holds '.status_code == ('"$HTTP_STATUS"'|tonumber) and (.detail != null)' "$HTTP_BODY" ||
     { [[ "$(header Content-Type)" == text/html* || "$HTTP_BODY" == "<html>"* ]] && [[ "$HTTP_STATUS" =~ ^4 ]]; }; then
    ok "$name: Label Studio error shape"
  else
    not_ok "$name: Label Studio error shape" "$(header Content-Type) $HTTP_BODY"
  fi
}

nest=$(head -c 100000 /dev/zero | tr '\0' '['); printf '%s' "$nest" >"$E2E_TMP/nest.json"
printf '{"title":"\xff\xfe","label_config":"<View></View>"}' >"$E2E_TMP/badutf8.json"
head -c $((60 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$E2E_TMP/big.json"
LONGH=$(head -c 60000 /dev/zero | tr '\0' 'a')

#     name                                  status method path / curl args
scase "truncated JSON"                       400 POST /api/projects -H "$J" -d '{"title":"x'
scase "only a brace"                         400 POST /api/projects -H "$J" -d '{'
scase "trailing garbage"                     400 POST /api/projects -H "$J" -d '{"title":"x"} x'
scase "100k [ nesting (project)"             400 POST /api/projects -H "$J" --data-binary "@$E2E_TMP/nest.json"
scase "100k [ nesting (import)"              400 POST /api/projects/1/import -H "$J" --data-binary "@$E2E_TMP/nest.json"
scase "100k [ nesting (annotation)"          400 POST /api/tasks/1/annotations -H "$J" --data-binary "@$E2E_TMP/nest.json"
scase "invalid UTF-8 in a title"             400 POST /api/projects -H "$J" --data-binary "@$E2E_TMP/badutf8.json"
scase "NaN in JSON"                          400 POST /api/projects -H "$J" -d '{"title":NaN}'
scase "project id 99999999999999999999"      404 GET /api/projects/99999999999999999999
scase "project id 1e400"                     404 GET /api/projects/1e400
scase "project id -0"                        404 GET /api/projects/-0
scase "project id 0x10"                      404 GET /api/projects/0x10
scase "task id %00"                          404 GET /api/tasks/1%00
scase "task id %0d%0a"                       404 GET /api/tasks/1%0d%0aX:%201
scase "project query 1e400"                  '400|404' GET "/api/tasks?project=1e400"
scase "project query 99999999999999999999"   '400|404' GET "/api/tasks?project=99999999999999999999"
scase "project query with %00"               '400|404' GET "/api/tasks?project=1%00"
scase "page_size 0x10"                       '400|404' GET "/api/projects?page_size=0x10"
scase "page 99999999999999999999"            '400|404' GET "/api/projects?page=99999999999999999999"
scase "..%2f..%2fadmin"                      404 GET /api/projects/..%2f..%2fadmin
scase "%2e%2e segments"                      404 GET /api/projects/%2e%2e/%2e%2e/admin
scase "double-encoded slash"                 404 GET /api/projects/1%252f..%252fadmin
scase "literal .. (path-as-is)"              404 GET /api/projects/../../etc/passwd --path-as-is
# Django decodes %2F in PATH_INFO before routing, so Label Studio serves /api/projects/1%2ftasks
# as /api/projects/1/tasks; studio does the same (a plain, authenticated read)
hcase "encoded slash into tasks, as Django"  200 GET "$ST/api/projects/1%2ftasks" -H "$A"
scase "wrong method PUT on projects"         405 PUT /api/projects -H "$J" -d '{}'
scase "wrong method DELETE on tasks list"    405 DELETE "/api/tasks?project=1"
scase "TRACE"                                '405|400|501' TRACE /api/projects
scase "form with a too-short title"          400 POST /api/projects -d 'title=x%'
scase "text/plain content type"              '400|415' POST /api/projects -H 'Content-Type: text/plain' -d '{"title":"x"}'
scase "annotation result not a list"         400 POST /api/tasks/1/annotations -H "$J" -d '{"result":"x"}'
scase "import of a JSON string"              400 POST /api/projects/1/import -H "$J" -d '"x"'
scase "body of 60 MiB"                       '413|400' POST /api/projects -H "$J" --data-binary "@$E2E_TMP/big.json"
scase "60 kB header"                         '4..' GET /api/projects -H "X-Big: $LONGH"
scase "60 kB URL"                            '4..' GET "/api/projects?page=$LONGH"
hcase "token with CRLF (%0d%0a is literal)"  401 GET "$ST/api/projects" -H "Authorization: Token $KEY%0d%0a"

# the item routes: label configs (XML), predictions, tasks, annotations, multipart
LAUGH='<!DOCTYPE View [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]><View><Text name="&g;" value="$t"/></View>'
jq -nc --arg c "$LAUGH" '{label_config: $c}' >"$E2E_TMP/laugh.json"
jq -nc '{label_config: "<!DOCTYPE View [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><View><Text name=\"t\" value=\"$t\"/><Choices name=\"c\" toName=\"&e;\"/></View>"}' >"$E2E_TMP/xxe.json"
{ printf '{"label_config":"'; head -c 300000 /dev/zero | tr '\0' 'x' | sed 's/x/<View>/g'; printf '"}'; } >"$E2E_TMP/deepxml.json"
{ printf '{"task":1,"result":'; cat "$E2E_TMP/nest.json"; printf '}'; } >"$E2E_TMP/nestpred.json"
scase "label config: entity expansion bomb"  '200|400' PATCH /api/projects/1 -H "$J" --data-binary "@$E2E_TMP/laugh.json"
scase "label config: external entity (XXE)"  '200|400' PATCH /api/projects/1 -H "$J" --data-binary "@$E2E_TMP/xxe.json"
check "  ... and /etc/passwd was never read" "" "$(printf '%s' "$HTTP_BODY" | grep -o 'root:')"
scase "label config: 300k nested <View>"     400 PATCH /api/projects/1 -H "$J" --data-binary "@$E2E_TMP/deepxml.json"
scase "label config: a number"               400 PATCH /api/projects/1 -H "$J" -d '{"label_config":5}'
api PATCH /api/projects/1 '{"label_config":"<View></View>"}'
scase "prediction: 100k [ nesting"           400 POST /api/predictions -H "$J" --data-binary "@$E2E_TMP/nestpred.json"
scase "prediction: task 1e400"               400 POST /api/predictions -H "$J" -d '{"task":1e400,"result":[]}'
scase "prediction: task 99999999999999999999" 400 POST /api/predictions -H "$J" -d '{"task":99999999999999999999,"result":[]}'
scase "prediction: task -1"                  400 POST /api/predictions -H "$J" -d '{"task":-1,"result":[]}'
scase "prediction: task \"1 OR 1=1\""        400 POST /api/predictions -H "$J" -d '{"task":"1 OR 1=1","result":[]}'
scase "prediction: minified, no control"     400 POST /api/predictions -H "$J" -d '{"task":1,"result":"pos"}'
scase "prediction: a list body"              400 POST /api/predictions -H "$J" -d '[1]'
scase "prediction id 0x1"                    404 GET /api/predictions/0x1
scase "PATCH prediction 99999999999999999999" 404 PATCH /api/predictions/99999999999999999999 -H "$J" -d '{}'
scase "task: data 100k [ nesting"            400 POST /api/tasks -H "$J" --data-binary "@$E2E_TMP/nest.json"
scase "task: project as an object"           400 POST /api/tasks -H "$J" -d '{"project":{"id":1},"data":{}}'
scase "PATCH task: data a string"            400 PATCH /api/tasks/1 -H "$J" -d '{"data":"x"}'
scase "annotation id with %00"               404 DELETE /api/annotations/1%00
scase "PUT annotation that is not there"     404 PUT /api/annotations/999 -H "$J" -d '{"result":[]}'
scase "import/predictions: 100k [ nesting"   400 POST /api/projects/1/import/predictions -H "$J" --data-binary "@$E2E_TMP/nest.json"
scase "import/predictions: task is a string" 400 POST /api/projects/1/import/predictions -H "$J" -d '[{"task":"x","result":[]}]'
hcase "preannotated field %00"               '201|400' POST "$ST/api/projects/1/import?preannotated_from_fields=%00" -H "$A" -H "$J" -d '[{"text":"p"}]'
api GET "/api/tasks?project=1"; TASKS_NOW=$(printf '%s' "$HTTP_BODY" | jq .total)
scase "multipart without a boundary"         400 POST /api/ml -H 'Content-Type: multipart/form-data' -d 'x'
scase "multipart, boundary of 200 bytes"     400 POST /api/ml -H "Content-Type: multipart/form-data; boundary=$(head -c 200 /dev/zero | tr '\0' b)" -d 'x'
scase "multipart, part with no end"          400 POST /api/ml -H 'Content-Type: multipart/form-data; boundary=b' --data-binary $'--b\r\nContent-Disposition: form-data; name="url"\r\n\r\nhttp://x'
scase "multipart, headers never end"         400 POST /api/ml -H 'Content-Type: multipart/form-data; boundary=b' --data-binary $'--b\r\nContent-Disposition: form-data; name="url"'
scase "multipart, a nameless part"           400 POST /api/ml -H 'Content-Type: multipart/form-data; boundary=b' --data-binary $'--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n'
scase "token rotate with a forged JWT"       400 POST /api/token/rotate/ -H "$J" -d '{"refresh":"eyJhbGciOiJub25lIn0.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9."}'
hcase "X-Api-Key with a forged JWT"          401 GET "$ST/api/projects" -H 'X-Api-Key: eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoxfQ.'

# raw sockets and slow clients
raw_case "raw CR in the request line"        'close' "$ST_PORT" 'GET /api/projects\r HTTP/1.1\r\nHost: x\r\n\r\n'
# a bare LF ends a header line (RFC 9112 allows it), so this is a valid request
raw_case "raw LF in a header value"          'close|200' "$ST_PORT" "GET /api/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Token $KEY\nX: y\r\n\r\n"
raw_case "raw NUL in the token"              'close|401' "$ST_PORT" "GET /api/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${KEY:0:10}\x00${KEY:10}\r\n\r\n"
# libmicrohttpd ends the request target at a raw NUL: /api/projects/1\0junk is project 1
raw_case "raw NUL in the path"               'close|200|404' "$ST_PORT" "GET /api/projects/1\0/../x HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${KEY}\r\n\r\n"
raw_case "garbage request line"              'close' "$ST_PORT" '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n'
raw_case "bad Content-Length"                'close' "$ST_PORT" "POST /api/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Token $KEY\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n{}"
raw_case "truncated body then close"         'close' "$ST_PORT" "POST /api/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Token $KEY\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"title\":"
HOSTILE_MAX=12 raw_case "slow client, 1 byte per 100 ms" '200' "$ST_PORT" 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n' 0.1
HOSTILE_MAX=2 stalled_body_case "$ST_PORT" /api/projects hcase "a normal call while a client stalls on its body" 200 GET "$ST/health"

alive "capgate studio" "$ST_PID"
api GET /api/projects
check_json "studio still serves its data: one project" '.count==1 and .results[0].title=="pro"' "$HTTP_BODY"
api GET "/api/tasks?project=1"
check_json "  ... and its tasks" ".total==$TASKS_NOW" "$HTTP_BODY"
echo "# $HOSTILE_CASES hostile cases"
e2e_done
