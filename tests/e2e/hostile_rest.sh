#!/usr/bin/env bash
# hostile_rest.sh — capgate serve's REST adapter against hostile input: malformed, truncated
# and deeply nested JSON, huge numbers, invalid UTF-8, CR/LF/NUL in ids, traversal and
# encoded slashes, oversized headers and bodies, wrong methods and content types, raw-socket
# bytes curl refuses and slow clients (the raw-socket cases on the MCP port too). Each gets a
# problem+json 4xx within a bounded time;
# the process stays up; the recording upstream proves only the allowed calls went out.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"
. "$(dirname "$0")/fixtures/hostile_lib.bash"
recording_start recording-upstream.js || exit 1
cg_start LABEL_STUDIO_URL="http://127.0.0.1:$FIX_PORT" LABEL_STUDIO_API_KEY=legacy0123456789 \
  serve --threads 2 --max-body 1m || exit 1
CG=$CG_REST_PORT MCP_PORT=$CG_MCP_PORT
B="http://127.0.0.1:$CG"
J='Content-Type: application/json'

# the well-formed calls that may reach the upstream (checked at the end)
hcase "allowed: get 7" 200 GET "$B/v1/api/ml/7"
hcase "allowed: list project 3" 200 GET "$B/v1/api/ml?project=3"
hcase "allowed: create without a body (the body is optional)" 200 POST "$B/v1/api/ml" -H "$J" -d ''
hcase "allowed: an unknown query key is dropped, not forwarded" 200 GET "$B/v1/api/ml/5?admin=1"
hcase "allowed: a repeated project key forwards the first" 200 GET "$B/v1/api/ml?project=4&project=5"
hcase "allowed: a negative id is an integer" 200 GET "$B/v1/api/ml/-1"

nest=$(head -c 100000 /dev/zero | tr '\0' '['); printf '%s' "$nest" >"$E2E_TMP/nest.json"
printf '{"url":"http://x","project":1,"title":"\xff\xfe"}' >"$E2E_TMP/badutf8.json"
printf '{"url":"http://x","project":1,"title":"a\xc0\xafb"}' >"$E2E_TMP/overlong.json"
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$E2E_TMP/big.json"
LONGH=$(head -c 60000 /dev/zero | tr '\0' 'a')
LONGP=$(head -c 100000 /dev/zero | tr '\0' '1')

HOSTILE_CT='^application/problem\+json'
#     name                                  expect method url / curl args
hcase "truncated JSON"                       400 POST "$B/v1/api/ml" -H "$J" -d '{"url":"http://x","proj'
hcase "JSON with only a brace"               400 POST "$B/v1/api/ml" -H "$J" -d '{'
hcase "JSON trailing garbage"                400 POST "$B/v1/api/ml" -H "$J" -d '{"url":"x","project":1} x'
hcase "two JSON documents"                   400 POST "$B/v1/api/ml" -H "$J" -d '{"url":"x","project":1}{"a":1}'
hcase "JSON with a NUL byte"                 400 POST "$B/v1/api/ml" -H "$J" --data-binary $'{"url":"x","project":1}\x01'
hcase "100k [ nesting"                       400 POST "$B/v1/api/ml" -H "$J" --data-binary "@$E2E_TMP/nest.json"
hcase "100k [ nesting on PATCH"              400 PATCH "$B/v1/api/ml/7" -H "$J" --data-binary "@$E2E_TMP/nest.json"
hcase "invalid UTF-8 in JSON string"         400 POST "$B/v1/api/ml" -H "$J" --data-binary "@$E2E_TMP/badutf8.json"
hcase "overlong UTF-8 in JSON string"        400 POST "$B/v1/api/ml" -H "$J" --data-binary "@$E2E_TMP/overlong.json"
hcase "JSON string as body"                  400 POST "$B/v1/api/ml" -H "$J" -d '"hello"'
hcase "JSON null as body"                    400 POST "$B/v1/api/ml/7/train" -H "$J" -d 'null'
hcase "NaN literal"                          400 POST "$B/v1/api/ml" -H "$J" -d '{"url":"x","project":NaN}'
hcase "id 99999999999999999999"              400 GET "$B/v1/api/ml/99999999999999999999"
hcase "id 1e400"                             400 GET "$B/v1/api/ml/1e400"
hcase "id -0"                                400 GET "$B/v1/api/ml/-0"
hcase "id 0x10"                              400 GET "$B/v1/api/ml/0x10"
hcase "id +7"                                400 GET "$B/v1/api/ml/+7"
hcase "id 9223372036854775808"               400 GET "$B/v1/api/ml/9223372036854775808"
HOSTILE_CT= hcase "id of 100k digits (libmicrohttpd's 414)" '414|431' GET "$B/v1/api/ml/$LONGP"
hcase "project 1e400"                        400 GET "$B/v1/api/ml?project=1e400"
hcase "project 0x10"                         400 GET "$B/v1/api/ml?project=0x10"
hcase "project empty"                        400 GET "$B/v1/api/ml?project="
hcase "batch_size 99999999999999999999"      400 POST "$B/v1/api/ml/7/predict?batch_size=99999999999999999999"
hcase "id with %0d%0a"                       400 GET "$B/v1/api/ml/7%0d%0aX-Injected:%201"
hcase "id with %00"                          400 GET "$B/v1/api/ml/7%00"
hcase "project with %0d%0a"                  400 GET "$B/v1/api/ml?project=3%0d%0aHost:%20evil"
hcase "project with %00"                     400 GET "$B/v1/api/ml?project=3%00"
hcase "id with invalid UTF-8 %ff"            400 GET "$B/v1/api/ml/%ff"
hcase "..%2f..%2fadmin"                      '400|404' GET "$B/v1/api/ml/..%2f..%2fadmin"
hcase "%2e%2e as id"                         '400|404' GET "$B/v1/api/ml/%2e%2e"
hcase "%2e%2e then admin"                    '400|404' GET "$B/v1/api/ml/%2e%2e/%2e%2e/admin"
hcase "double-encoded slash"                 '400|404' GET "$B/v1/api/ml/7%252f..%252fadmin"
hcase "double-encoded dots"                  '400|404' GET "$B/v1/api/ml/%252e%252e"
hcase "backslash traversal"                  '400|404' GET "$B/v1/api/ml/..%5c..%5cadmin"
hcase "literal .. segments (path-as-is)"     '400|404' GET "$B/v1/api/ml/../../admin" --path-as-is
# an encoded slash stays inside its segment: the id is "7/versions", not an integer
hcase "encoded slash in versions path"       400 GET "$B/v1/api/ml/7%2fversions"
check_contains "... the 400 names id" '"name":"id"' "$HTTP_BODY"
hcase "encoded slash, upper case"            400 GET "$B/v1/api/ml/7%2Fversions"
hcase "wrong method TRACE"                   405 TRACE "$B/v1/api/ml/7"
hcase "wrong method POST on an id"           405 POST "$B/v1/api/ml/7" -H "$J" -d '{}'
hcase "wrong method GET on train"            405 GET "$B/v1/api/ml/7/train"
hcase "content type text/plain"              415 POST "$B/v1/api/ml" -H 'Content-Type: text/plain' -d '{"url":"x","project":1}'
hcase "content type application/jsonx"       415 POST "$B/v1/api/ml" -H 'Content-Type: application/jsonx' -d '{"url":"x","project":1}'
hcase "multipart content type"               415 POST "$B/v1/api/ml" -F 'a=b'
hcase "body over --max-body"                 413 POST "$B/v1/api/ml" -H "$J" --data-binary "@$E2E_TMP/big.json"
HOSTILE_CT=
hcase "60 kB header"                        '4..' GET "$B/v1/api/ml/7" -H "X-Big: $LONGH"
hcase "60 kB URL"                           '4..' GET "$B/v1/api/ml?project=$LONGH"

# raw sockets: bytes curl refuses to send — on both ports (REST and MCP run on the same
# HTTP/1.1 server, so the HTTP layer must refuse the same way on each)
MCP_H='Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n'
# raw_http_cases LABEL PORT GET_TARGET POST_TARGET POST_HEADERS SLOW_STATUS
raw_http_cases() {
  local L=$1 P=$2 G=$3 T=$4 H=$5 slow=$6
  raw_case "$L: raw CR in the request line"        '400' "$P" "GET $G\r HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
  raw_case "$L: raw LF inside a header value"      'close' "$P" "GET $G HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\nb\r\n\r\n"
  raw_case "$L: raw NUL in the path"               'close' "$P" "GET $G\0/../x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
  raw_case "$L: raw NUL in a header"               'close' "$P" "GET $G HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\0b\r\n\r\n"
  raw_case "$L: garbage request line"              '400' "$P" '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n'
  raw_case "$L: HTTP/9.9"                          '505' "$P" "GET $G HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n"
  raw_case "$L: bad Content-Length"                '400' "$P" "POST $T HTTP/1.1\r\nHost: 127.0.0.1\r\n${H}Content-Length: -5\r\n\r\n{}"
  raw_case "$L: smuggling, CL and TE"              '400' "$P" "POST $T HTTP/1.1\r\nHost: 127.0.0.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
  raw_case "$L: truncated body then close"         'close' "$P" "POST $T HTTP/1.1\r\nHost: 127.0.0.1\r\n${H}Content-Length: 100\r\nConnection: close\r\n\r\n{\"url\":"
  HOSTILE_MAX=12 raw_case "$L: slow client, 1 byte per 100 ms" "$slow" "$P" 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' 0.1
}
raw_http_cases REST "$CG" /v1/api/ml/7 /v1/api/ml 'Content-Type: application/json\r\n' 200
raw_http_cases MCP "$MCP_PORT" /mcp /mcp "$MCP_H" 404

# headers, then never the body: the client gives up after 3 s; meanwhile normal calls work
HOSTILE_MAX=2 stalled_body_case "$CG" /v1/api/ml hcase "a normal call while a client stalls on its body" 200 GET "$B/healthz"

# the process survived and still serves
alive "capgate serve" "$CG_PID"
HOSTILE_CT=
hcase "allowed: get 8 after the batch" 200 GET "$B/v1/api/ml/8"

# only the allowed calls reached the upstream
check "upstream saw exactly the allowed calls, in order" \
  "GET /api/ml/7|GET /api/ml/?project=3|POST /api/ml/|GET /api/ml/5|GET /api/ml/?project=4|GET /api/ml/-1|GET /api/ml/8" \
  "$(jq -r '.method + " " + .url' "$REC" | paste -sd'|')"
check_json "every upstream call is well formed" \
  'all(.[]; (.url|test("^/api/ml/(-?[0-9]+)?(\\?project=[0-9]+)?$")) and (.url|contains("..")|not) and (.body=="") and ([.. | strings] | all(explode | all(. >= 32))))' \
  "$(jq -s . "$REC")"
echo "# $HOSTILE_CASES hostile cases"
e2e_done
