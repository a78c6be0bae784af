#!/usr/bin/env bash
# shape.sh — output shaping, raw formats and mock mode through real processes: capgate serve
# (REST + MCP) against tests/e2e/fixtures/shape-upstream.js. REST answers are checked field by
# field; MCP tools (Streamable HTTP and stdio) with the official SDK client (tests/e2e/shape_sdk_client.mjs), which
# validates structuredContent against each tool's outputSchema. Hostile: a 50 MB body and a
# 10,000-deep document under mappings answer, bounded in time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"
SPEC="$FIX/shape-capability.yaml"
fixture_start "$E2E_TMP/upstream.log" shape-upstream.js 0 || exit 1
UP=$FIX_PORT
cg_start serve --threads 1 --base-uri "http://127.0.0.1:$UP" "$SPEC" || exit 1
PORT=$CG_REST_PORT MPORT=$CG_MCP_PORT
# the spec reads XML and HTML bodies: libxml2 is loaded at start, not on a worker mid-call
# (common/lazylib.h); no operation reads Avro, so avro-c is not
check "libxml2 loaded at start for a spec with XML outputs" 1 "$(grep -q libxml2 "/proc/$CG_PID/maps" && echo 1 || echo 0)"
check "avro-c not loaded (no Avro outputs)" 0 "$(grep -c libavro "/proc/$CG_PID/maps")"
BASE="http://127.0.0.1:$PORT"

# ---- shaped JSON ------------------------------------------------------------------------
http GET "$BASE/ships"
check "REST list: 200" 200 "$HTTP_STATUS"
check "REST list: application/json" "application/json" "$(header Content-Type | cut -d';' -f1)"
check_json "REST list: every ship shaped to {imo,name,flag,tonnage}, nothing else" \
  'length==2 and all(.[]; keys==["flag","imo","name","tonnage"])' "$HTTP_BODY"
check_json "REST list: fields mapped" \
  '.[0]=={"imo":"IMO-9321483","name":"Northern Star","flag":"NO","tonnage":42000}' "$HTTP_BODY"
check_json "REST list: a numeric string coerced to the declared number" '.[1].tonnage==61000' "$HTTP_BODY"
http GET "$BASE/ships/IMO-9321483"
check_json "REST nested object: imo, name, status cut to maxLength 3" \
  '.imo=="IMO-9321483" and .name=="Northern Star" and .status=="act"' "$HTTP_BODY"
check_json "REST nested object: a mapping that finds nothing gives null" '.owner==null and has("owner")' "$HTTP_BODY"
check_json "REST nested object: specs nested" '.specs=={"yearBuilt":2015,"length":229}' "$HTTP_BODY"
check_json "REST nested object: unmapped upstream fields dropped" 'has("internal_notes")|not' "$HTTP_BODY"
http GET "$BASE/ships/IMO-9321483/raw"
RAW=$(curl -s "http://127.0.0.1:$UP/ships/IMO-9321483")
check "REST \$. passthrough: byte for byte" "$RAW" "$HTTP_BODY"
http GET "$BASE/missing/x"
check "REST unknown route: 404" 404 "$HTTP_STATUS"

# ---- raw formats --------------------------------------------------------------------------
http GET "$BASE/fleet/xml"
check_json "XML: attributes and repeated elements mapped" \
  '.region=="north" and .ships==[{"imo":"IMO-9321483","name":"Northern Star","tonnage":42000},{"imo":"IMO-9456781","name":"Southern Cross","tonnage":61000}]' "$HTTP_BODY"
http GET "$BASE/fleet/csv"
check_json "CSV: rows keyed by the header, tonnage coerced to integer" \
  '.==[{"imo":"IMO-9321483","name":"Northern Star","tonnage":42000},{"imo":"IMO-9456781","name":"Southern Cross","tonnage":61000}]' "$HTTP_BODY"
http GET "$BASE/fleet/tsv"
check_json "TSV: \$[*].name into an array of strings" '.==["Northern Star","Southern Cross"]' "$HTTP_BODY"
http GET "$BASE/fleet/yaml"
check_json "YAML: typed scalars, a filter on a boolean" '.==[{"imo":"IMO-9321483","tonnage":42000}]' "$HTTP_BODY"
http GET "$BASE/fleet/html"
check_json "HTML: the table the outputSchema selector picks, rows keyed by <th>" \
  '.==[{"imo":"IMO-9321483","name":"Northern Star"},{"imo":"IMO-9456781","name":"Southern Cross"}]' "$HTTP_BODY"
http GET "$BASE/fleet/md"
check_json "Markdown: front matter and a GFM table" '.=={"region":"north","imos":["IMO-9321483","IMO-9456781"]}' "$HTTP_BODY"

# ---- mock mode ------------------------------------------------------------------------------
UPLINES=$(wc -l <"$E2E_TMP/upstream.log")
http GET "$BASE/mock/IMO-42"
check "REST mock: 200" 200 "$HTTP_STATUS"
check_json "REST mock: static values, the template filled from the path" \
  '.=={"imo":"IMO-42","name":"Northern Star","tonnage":42000}' "$HTTP_BODY"
check "REST mock: the upstream saw nothing" "$UPLINES" "$(wc -l <"$E2E_TMP/upstream.log")"

# ---- hostile: broken, 10,000 deep, 50 MB ---------------------------------------------------
http GET "$BASE/broken"
check "broken JSON under a mapping: 502" 502 "$HTTP_STATUS"
check_json "broken JSON: problem+json says why" '.status==502 and (.detail|test("not valid JSON"))' "$HTTP_BODY"
T0=$(date +%s%N)
http GET "$BASE/deep"
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
check "10,000-deep document under a mapping: 502, not a crash" 502 "$HTTP_STATUS"
check_json "10,000-deep: the reason is the depth" '.detail|test("depth")' "$HTTP_BODY"
[ "$MS" -lt 5000 ] && ok "10,000-deep answered in ${MS} ms" || not_ok "10,000-deep bounded" "$MS ms"
http GET "$BASE/deep/raw"
check "10,000-deep passed through (no outputs): 200, 20000 bytes" "200 20000" "$HTTP_STATUS ${#HTTP_BODY}"
http GET "$BASE/medium"
check_json "a 2 MB body (shaped on its own thread) answers" '.=={"total":20000,"last":19999}' "$HTTP_BODY"
# the 50 MB body is about time bounds, which valgrind (60x slower parsing) cannot measure:
# under make test-valgrind the smaller bodies above cover the same code for memory errors
if [ "$E2E_SLOW" -eq 1 ]; then
  T0=$(date +%s%N)
  http GET "$BASE/big"
  MS=$(( ($(date +%s%N) - T0) / 1000000 ))
  check_json "50 MB body under mappings: total, last id, maxLength" \
    '.=={"total":500000,"last":499999,"firstName":"xxxx"}' "$HTTP_BODY"
  [ "$MS" -lt 20000 ] && ok "50 MB body shaped in ${MS} ms" || not_ok "50 MB body bounded" "$MS ms"
  # shaping a body this large runs on its own thread: the (single) worker keeps answering
  curl -s -o "$E2E_TMP/big2" -w '%{time_total}' "$BASE/big" >"$E2E_TMP/big2.time" &
  BIG=$!
  WORST=0
  for i in $(seq 25); do
    T0=$(date +%s%N)
    curl -s -o /dev/null "$BASE/mock/IMO-$i"
    MS=$(( ($(date +%s%N) - T0) / 1000000 ))
    [ "$MS" -gt "$WORST" ] && WORST=$MS
    sleep 0.1
  done
  wait "$BIG"
  BIGMS=$(awk '{printf "%d", $1 * 1000}' "$E2E_TMP/big2.time")
  [ "$WORST" -lt 800 ] && ok "while a 50 MB body is shaped (${BIGMS} ms) the worker answers others (worst ${WORST} ms)" \
    || not_ok "the worker answers others while a 50 MB body is shaped" "worst ${WORST} ms, big ${BIGMS} ms"
  http GET "$BASE/big/ids"
  check_json "50 MB body: \$..id finds all 500,000 ids in order" 'length==500000 and .[0]==0 and .[499999]==499999' "$HTTP_BODY"
fi
http GET "$BASE/ships"
check "capgate still serves after the hostile bodies" 200 "$HTTP_STATUS"

# ---- MCP: the official SDK client, structuredContent validated against outputSchema ---------
if ! mcp_need_node_modules; then not_ok "npm ci (the pinned MCP SDK client)"; fi
timeout 120 node "$E2E_ROOT/tests/e2e/shape_sdk_client.mjs" "http://127.0.0.1:$MPORT/mcp" "http://127.0.0.1:$UP"
[ $? -eq 0 ] || E2E_FAILS=$((E2E_FAILS + 1))
timeout 120 node "$E2E_ROOT/tests/e2e/shape_sdk_client.mjs" stdio "http://127.0.0.1:$UP" "$CAPGATE" "$SPEC"
[ $? -eq 0 ] || E2E_FAILS=$((E2E_FAILS + 1))
kill -TERM "$CG_PID"; wait "$CG_PID" 2>/dev/null
e2e_done
