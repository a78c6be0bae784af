#!/usr/bin/env bash
# serve-rest.sh — capgate serve's REST adapter in front of a recording upstream: each of
# the 9 operations forwards exactly (method, path, query, headers, body, credentials) and
# passes the answer back byte for byte; every input check refuses before anything is sent;
# the OpenAPI document passes Spectral's spectral:oas ruleset with zero errors.
. "$(dirname "$0")/lib.sh"
ROUTES="$E2E_TMP/routes.json"; echo '[]' >"$ROUTES"
recording_start recording-upstream.js "$ROUTES" || exit 1
UP=$FIX_PORT
CG_NAME=capgate cg_start LABEL_STUDIO_URL="http://127.0.0.1:$UP" LABEL_STUDIO_API_KEY=legacy0123456789 \
  serve --threads 2 || exit 1
BASE=$CG_URL
# a spec with JSON bodies only never maps the XML/Avro libraries (common/lazylib.h: idle RSS)
check "libxml2 and avro-c not loaded (JSON-only spec)" 0 "$(grep -c 'libxml2\|libavro' "/proc/$CG_PID/maps")"

# route METHOD PATH STATUS BODY [CONTENT_TYPE|null] — the upstream's next answer
route() {
  local ct=${5:-application/json}
  if [ "$ct" = null ]; then ct_json=null; else ct_json="\"$ct\""; fi
  jq -n --arg m "$1" --arg p "$2" --argjson s "$3" --arg b "$4" --argjson ct "$ct_json" \
    '[{method:$m, path:$p, status:$s, body:$b, contentType:$ct}]' >"$ROUTES"
}
last() { tail -1 "$REC"; }

# op NAME CHECK... : compares the last recorded upstream request with jq filters
expect_upstream() {
  local name=$1; shift
  for f in "$@"; do check_json "$name: upstream $f" "$f" "$(last)"; done
}

# ---- the 9 operations ------------------------------------------------------------------
route GET /api/ml/ 200 '[{"id":1,"project":3}]'
http GET "$BASE/v1/api/ml?project=3"
check "list: status" 200 "$HTTP_STATUS"
check "list: body byte for byte" '[{"id":1,"project":3}]' "$HTTP_BODY"
check "list: content type" "application/json" "$(header Content-Type)"
expect_upstream list '.method=="GET"' '.url=="/api/ml/?project=3"' \
  '.headers.authorization=="Token legacy0123456789"' '.body==""' '.headers["content-type"]==null'

BODY=$'{ "url" : "http://ml:9090",\n  "project": 3, "title": "caf\u00e9 \\"x\\"" }'
route POST /api/ml/ 201 '{"id":9,"url":"http://ml:9090"}'
http POST "$BASE/v1/api/ml" -H 'Content-Type: application/json' --data-binary "$BODY"
check "create: status 201 passed through" 201 "$HTTP_STATUS"
check "create: body" '{"id":9,"url":"http://ml:9090"}' "$HTTP_BODY"
expect_upstream create '.method=="POST"' '.url=="/api/ml/"' '.headers["content-type"]=="application/json"' \
  '.headers.authorization=="Token legacy0123456789"'
check "create: upstream body byte for byte" "$BODY" "$(last | jq -r .body)"

route GET /api/ml/7 200 '{"id":7}'
http GET "$BASE/v1/api/ml/7"
check "get: status" 200 "$HTTP_STATUS"
check "get: body" '{"id":7}' "$HTTP_BODY"
expect_upstream get '.method=="GET"' '.url=="/api/ml/7"'

route PATCH /api/ml/7 200 '{"id":7,"title":"t"}'
http PATCH "$BASE/v1/api/ml/7" -H 'Content-Type: application/json' -d '{"title":"t","url":"u","project":3}'
check "update: status" 200 "$HTTP_STATUS"
check "update: body" '{"id":7,"title":"t"}' "$HTTP_BODY"
expect_upstream update '.method=="PATCH"' '.url=="/api/ml/7"' '.body=="{\"title\":\"t\",\"url\":\"u\",\"project\":3}"'

route DELETE /api/ml/7 204 '' null
http DELETE "$BASE/v1/api/ml/7"
check "delete: 204 passed through" 204 "$HTTP_STATUS"
check "delete: empty body" "" "$HTTP_BODY"
check "delete: no content type" "" "$(header Content-Type)"
expect_upstream delete '.method=="DELETE"' '.url=="/api/ml/7"' '.body==""'

route POST /api/ml/7/interactive-annotating 200 '{"data":{"result":[],"score":0.5}}'
http POST "$BASE/v1/api/ml/7/interactive-annotating" -H 'Content-Type: application/json' -d '{"task":4,"context":null}'
check "interactive: status" 200 "$HTTP_STATUS"
check "interactive: body" '{"data":{"result":[],"score":0.5}}' "$HTTP_BODY"
expect_upstream interactive '.method=="POST"' '.url=="/api/ml/7/interactive-annotating"' '.body=="{\"task\":4,\"context\":null}"'

route POST /api/ml/7/predict 200 'Predictions have successfully started.' 'text/plain; charset=utf-8'
http POST "$BASE/v1/api/ml/7/predict?batch_size=10"
check "predict: status" 200 "$HTTP_STATUS"
check "predict: body" 'Predictions have successfully started.' "$HTTP_BODY"
check "predict: content type passed through" 'text/plain; charset=utf-8' "$(header Content-Type)"
expect_upstream predict '.method=="POST"' '.url=="/api/ml/7/predict?batch_size=10"' '.body==""'

route POST /api/ml/7/train 200 '' null
http POST "$BASE/v1/api/ml/7/train" -H 'Content-Type: application/json' -d '{"use_ground_truth":true}'
check "train: status" 200 "$HTTP_STATUS"
check "train: empty body" "" "$HTTP_BODY"
check "train: no content type" "" "$(header Content-Type)"
expect_upstream train '.method=="POST"' '.url=="/api/ml/7/train"' '.body=="{\"use_ground_truth\":true}"'

route GET /api/ml/7/versions 200 '{"versions":["v1","v2"]}'
http GET "$BASE/v1/api/ml/7/versions"
check "versions: status" 200 "$HTTP_STATUS"
check "versions: body" '{"versions":["v1","v2"]}' "$HTTP_BODY"
expect_upstream versions '.method=="GET"' '.url=="/api/ml/7/versions"'

# upstream errors pass through; the caller's own Authorization wins
route GET /api/ml/8 404 '{"id":"x","status_code":404,"detail":"No MLBackend matches the given query."}'
http GET "$BASE/v1/api/ml/8" -H 'Authorization: Bearer caller-token'
check "upstream 404 passed through" 404 "$HTTP_STATUS"
check "upstream error body passed through" '{"id":"x","status_code":404,"detail":"No MLBackend matches the given query."}' "$HTTP_BODY"
expect_upstream "caller credential" '.headers.authorization=="Bearer caller-token"'
http GET "$BASE/v1/api/ml/?project=3"
check "trailing slash on the exposed path is accepted" 200 "$HTTP_STATUS"

# ---- input checks: refused before anything is sent ------------------------------------
refused() { # NAME STATUS PARAM(or -) CURL_ARGS...
  local name=$1 status=$2 param=$3; shift 3
  local before; before=$(records)
  http "$@"
  check "$name: status $status" "$status" "$HTTP_STATUS"
  check "$name: problem+json" "application/problem+json" "$(header Content-Type)"
  check_json "$name: problem fields" ".status==$status and (.title|length>0) and (.detail|length>0) and (.type|length>0)" "$HTTP_BODY"
  [ "$param" != - ] && check_json "$name: names the parameter" ".\"invalid-params\"[0].name==\"$param\"" "$HTTP_BODY"
  check "$name: nothing sent upstream" "$before" "$(records)"
}
refused "non-integer id" 400 id GET "$BASE/v1/api/ml/abc"
refused "fractional id" 400 id GET "$BASE/v1/api/ml/1.5"
refused "id with a leading space" 400 id GET "$BASE/v1/api/ml/%201"
refused "id past int64" 400 id GET "$BASE/v1/api/ml/99999999999999999999"
refused "id with trailing garbage" 400 id DELETE "$BASE/v1/api/ml/7x"
refused "non-integer project" 400 project GET "$BASE/v1/api/ml?project=3x"
refused "query injection in project" 400 project GET "$BASE/v1/api/ml?project=3%26admin%3D1"
refused "non-integer batch_size" 400 batch_size POST "$BASE/v1/api/ml/7/predict?batch_size=1e3"
refused "unknown path" 404 - GET "$BASE/v1/api/projects"
refused "path traversal in id (encoded slashes stay in the id)" 400 id GET "$BASE/v1/api/ml/7%2F..%2F..%2Fadmin"
refused "encoded slash in id: one segment, id \"7/8\"" 400 id GET "$BASE/v1/api/ml/7%2F8"
refused "wrong method" 405 - PUT "$BASE/v1/api/ml/7"
check "405 lists the allowed methods" "GET, DELETE, PATCH" "$(header Allow)"
refused "malformed JSON body" 400 body POST "$BASE/v1/api/ml" -H 'Content-Type: application/json' -d '{"url": '
refused "JSON body that is not an object" 400 body POST "$BASE/v1/api/ml" -H 'Content-Type: application/json' -d '[1,2]'
refused "non-JSON content type" 415 - POST "$BASE/v1/api/ml" -H 'Content-Type: text/plain' -d '{"a":1}'
refused "form content type" 415 - PATCH "$BASE/v1/api/ml/7" -d 'url=x'
head -c $((10 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$E2E_TMP/big.json"
refused "body over 10 MiB" 413 - POST "$BASE/v1/api/ml" -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/big.json"
refused "chunked body over 10 MiB" 413 - POST "$BASE/v1/api/ml" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "@$E2E_TMP/big.json"
check_contains "problem names the instance" '"instance":"/v1/api/ml"' "$HTTP_BODY"

# ---- operating endpoints ----------------------------------------------------------------
http GET "$BASE/healthz"
check "healthz" 200 "$HTTP_STATUS"
http GET "$BASE/readyz"
check "readyz with the upstream up" 200 "$HTTP_STATUS"
http GET "$BASE/metrics"
check "metrics: status" 200 "$HTTP_STATUS"
check_contains "metrics: requests by route and status" 'capgate_requests_total{route="/v1/api/ml/{id}",method="GET",status="200"}' "$HTTP_BODY"
check_contains "metrics: 400s counted" 'status="400"}' "$HTTP_BODY"
check_contains "metrics: upstream histogram" 'capgate_upstream_duration_seconds_bucket{le="+Inf"}' "$HTTP_BODY"
check_contains "metrics: in-flight gauge" 'capgate_requests_in_flight 1' "$HTTP_BODY"

# ---- OpenAPI + Spectral ------------------------------------------------------------------
http GET "$BASE/v1/openapi.json"
check "openapi: status" 200 "$HTTP_STATUS"
printf '%s' "$HTTP_BODY" >"$E2E_TMP/openapi.json"
check_json "openapi: 3.1 with the 9 operations" '.openapi=="3.1.0" and ([.paths[]|keys[]]|length)==9' "$HTTP_BODY"
check_json "openapi: id is an integer path parameter" '.paths["/v1/api/ml/{id}"].get.parameters[0]|.name=="id" and .in=="path" and .schema.type=="integer"' "$HTTP_BODY"
printf 'extends: ["spectral:oas"]\n' >"$E2E_TMP/ruleset.yaml"
# a fresh clone has the lock file but no node_modules yet
[ -x "$E2E_ROOT/node_modules/.bin/spectral" ] ||
  (cd "$E2E_ROOT" && npm ci --no-audit --no-fund >"$E2E_TMP/npm.log" 2>&1) || cat "$E2E_TMP/npm.log"
(cd "$E2E_ROOT" && npx --no-install spectral lint --format json --fail-severity error \
   --ruleset "$E2E_TMP/ruleset.yaml" "$E2E_TMP/openapi.json") >"$E2E_TMP/spectral.json" 2>"$E2E_TMP/spectral.err"
check_json "spectral:oas reports zero errors" 'map(select(.severity==0))|length==0' "$(cat "$E2E_TMP/spectral.json")"
check_json "spectral recognised the document as OpenAPI" 'map(select(.code=="unrecognized-format"))|length==0' "$(cat "$E2E_TMP/spectral.json")"

# ---- access log ------------------------------------------------------------------------
LOG=$(cat "$E2E_TMP/capgate.log")
check_json "access log: one JSON line per request with the documented keys" \
  'select(.path=="/v1/api/ml/7/versions")|has("ts") and .method=="GET" and .route=="/v1/api/ml/{id}/versions" and .status==200 and .upstream_status==200 and has("duration_ms") and .bytes==24' \
  "$(grep '"path":"/v1/api/ml/7/versions"' "$E2E_TMP/capgate.log" | head -1)"
if grep -q 'legacy0123456789\|caller-token' "$E2E_TMP/capgate.log"; then not_ok "access log never holds a credential"; else ok "access log never holds a credential"; fi

# ---- the same forwarding through libcurl (--upstream-client curl) ------------------------
CG_NAME=capgate-curl cg_start LABEL_STUDIO_URL="http://127.0.0.1:$UP" LABEL_STUDIO_API_KEY=legacy0123456789 \
  serve --threads 1 --upstream-client curl
CG2=$CG_PORT CURL_PID=$CG_PID
route POST /api/ml/ 201 '{"id":10}'
http POST "http://127.0.0.1:$CG2/v1/api/ml" -H 'Content-Type: application/json' --data-binary "$BODY"
check "curl client: create status" 201 "$HTTP_STATUS"
check "curl client: create body" '{"id":10}' "$HTTP_BODY"
expect_upstream "curl client" '.method=="POST"' '.url=="/api/ml/"' '.headers.authorization=="Token legacy0123456789"' \
  '.headers["content-type"]=="application/json"' '.headers.expect==null'
check "curl client: upstream body byte for byte" "$BODY" "$(last | jq -r .body)"
route DELETE /api/ml/7 204 '' null
http DELETE "http://127.0.0.1:$CG2/v1/api/ml/7"
check "curl client: 204 passed through" 204 "$HTTP_STATUS"
http GET "http://127.0.0.1:$CG2/v1/api/ml?project=4"
expect_upstream "curl client list" '.url=="/api/ml/?project=4"'
kill -TERM "$CURL_PID"; wait "$CURL_PID"

# ---- SIGTERM exits 0 --------------------------------------------------------------------
kill -TERM "$CG_PID"; wait "$CG_PID"; rc=$?
check "SIGTERM: exit status 0" 0 "$rc"
e2e_done
