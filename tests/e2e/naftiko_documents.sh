#!/usr/bin/env bash
# naftiko_documents.sh — the Naftiko document features through real processes: capgate serve
# on tests/e2e/fixtures/naftiko/documents.yaml (an imported consumes document, namespace-level
# inputs, {{x}} placeholders and body templates fed by with:, every body kind, cookie and list
# inputs, a forward resource, an orchestrated call + lookup) in front of a recording upstream;
# each upstream request is checked as it arrived. Then validate's messages for broken imports.
. "$(dirname "$0")/lib.sh"
DOCS="$FIX/naftiko"
cat >"$E2E_TMP/routes.json" <<'JSON'
[{"method":"GET","path":"/api/ships/IMO-1","body":"{\"imo\":\"IMO-1\",\"crew\":[\"c2\",\"c9\",\"c1\"]}"},
 {"method":"GET","path":"/api/crew","body":"[{\"id\":\"c1\",\"name\":\"Ada\",\"rank\":\"captain\"},{\"id\":\"c2\",\"name\":\"Bo\",\"rank\":\"mate\"}]"},
 {"method":"GET","path":"/api/ships/IMO-404","status":404,"body":"{\"detail\":\"no such ship\"}"}]
JSON
fixture_start "$E2E_TMP/upstream.log" recording-upstream.js 0 "$E2E_TMP/rec.jsonl" "$E2E_TMP/routes.json" || exit 1
UP=$FIX_PORT
CG_DIR=$DOCS cg_start E2E_FLEET_VERSION=2026-12 serve --threads 1 --no-mcp \
  --upstream "fleet=http://127.0.0.1:$UP/api" --upstream "relay=http://127.0.0.1:$UP/api" documents.yaml || exit 1
BASE=$CG_URL
last() { tail -1 "$E2E_TMP/rec.jsonl"; }

# ---- imported consumes, {{x}} path, cookie, list query, namespace-level header ------------
http GET "$BASE/ships/IMO-1?ids=7&ids=8" -H 'session: s3cr3t'
check "imported operation answers" 200 "$HTTP_STATUS"
R=$(last)
check_json "path placeholder {{imo_number}} filled from with: {{imo}}" '.url|startswith("/api/ships/IMO-1?")' "$R"
check_json "a list query input goes out repeated (ids=7&ids=8)" '.url|endswith("?ids=7&ids=8")' "$R"
check_json "in: cookie goes out as a Cookie header" '.headers.cookie=="session=s3cr3t"' "$R"
check_json "the namespace-level input header applies, from a bind" '.headers["fleet-version"]=="2026-12"' "$R"
http GET "$BASE/ships/IMO-1" -H 'session: a;b=c'
check "a cookie value with ';' is refused" 400 "$HTTP_STATUS"
check_json "... naming the input" '.detail|test("cookie .session.")' "$HTTP_BODY"

# ---- body templates ----------------------------------------------------------------------
N=$(wc -l <"$E2E_TMP/rec.jsonl")
http POST "$BASE/voyages" -H 'Content-Type: application/json' -d '{"shipImo":"IMO-1","crew":{"ids":["c1","c2"]}}'
check "JSON body template: 200" 200 "$HTTP_STATUS"
R=$(last)
check_json "JSON body template: values by name and by JSONPath, a list as JSON" \
  '(.body|fromjson)=={"shipImo":"IMO-1","crewIds":["c1","c2"]} and .headers["content-type"]=="application/json"' "$R"
http POST "$BASE/voyages" -H 'Content-Type: application/json' -d '{"shipImo":"IMO-\"x","crew":{"ids":[]}}'
check "a body template that comes out as broken JSON is refused, not sent" 400 "$HTTP_STATUS"
check_json "... saying why" '.detail|test("not valid JSON")' "$HTTP_BODY"
check "... and nothing reached the upstream" "$((N + 1))" "$(wc -l <"$E2E_TMP/rec.jsonl")"
http POST "$BASE/notes/form?title=hello%20world"
R=$(last)
check_json "form body: fields percent-encoded, with its content type" \
  '.body=="title=hello%20world&tag=a%26b" and .headers["content-type"]=="application/x-www-form-urlencoded"' "$R"
http PUT "$BASE/notes/text?title=hi"
R=$(last)
check_json "text body" '.body=="note: hi" and (.headers["content-type"]|startswith("text/plain"))' "$R"
http PATCH "$BASE/notes/multipart?title=hi"
R=$(last)
check_json "multipart body: a boundary in the content type" '.headers["content-type"]|test("^multipart/form-data; boundary=capgate-")' "$R"
check_json "multipart body: both parts, the file with its name and type" \
  '.body|test("name=\"title\"\r\n\r\nhi\r\n") and test("filename=\"hello.txt\"\r\nContent-Type: text/plain\r\n\r\nhello")' "$R"

# ---- forward --------------------------------------------------------------------------------
http GET "$BASE/relay/crew/x%20y?z=1" -H 'X-Trace: t-1' -H 'X-Secret: no'
R=$(last)
check_json "forward: rest of the path and the query relayed" '.url=="/api/crew/x%20y?z=1" and .method=="GET"' "$R"
check_json "forward: trusted header passed, others not" '.headers["x-trace"]=="t-1" and (.headers|has("x-secret")|not)' "$R"
check_json "forward: the namespace's own input header added" '.headers["fleet-version"]=="2026-12"' "$R"
N=$(wc -l <"$E2E_TMP/rec.jsonl")
http GET "$BASE/relay/a/%2E%2E/%2E%2E/admin"
check "forward: dot segments refused" 400 "$HTTP_STATUS"
check "... nothing relayed" "$N" "$(wc -l <"$E2E_TMP/rec.jsonl")"

# ---- orchestrated: call, call, lookup, mappings ----------------------------------------------
http GET "$BASE/ships/IMO-1/crew"
check "steps: 200" 200 "$HTTP_STATUS"
check_json "steps: mapped and shaped, crew looked up in order, only the listed fields" \
  '.=={"imo":"IMO-1","crew":[{"name":"Bo"},{"name":"Ada"}]}' "$HTTP_BODY"
http GET "$BASE/ships/IMO-404/crew"
check "steps: a failing step is a 502" 502 "$HTTP_STATUS"
check_json "steps: ... naming the step and the upstream status" '.detail|test("step .ship. failed.*HTTP 404")' "$HTTP_BODY"

# ---- validate: imports ------------------------------------------------------------------------
OUT=$(cd "$DOCS" && "$CAPGATE" validate cycle-a.yaml 2>&1)
check_contains "an import cycle is one message" "import cycle" "$OUT"
check "... and only one" 1 "$(printf '%s\n' "$OUT" | grep -c .)"
OUT=$(cd "$DOCS" && "$CAPGATE" validate import-problems.yaml 2>&1)
check "missing file and namespace clash: one message each, no follow-on for the call" 2 "$(printf '%s\n' "$OUT" | grep -c .)"
check_contains "... the missing file" "import-problems.yaml:5:17: cannot read 'no-such-file.yaml'" "$OUT"
check_contains "... the clash" "duplicate consumes namespace 'fleet'" "$OUT"
OUT=$("$CAPGATE" validate "$DOCS/shared/fleet-consumes.yaml" 2>&1)
check_contains "a shared consumes document validates on its own" "fleet-consumes.yaml: ok (6 consumed operations" "$OUT"
OUT=$("$CAPGATE" validate "$DOCS" 2>&1)
check_contains "validate DIR: every spec under it, then a count" "2 of 5 specs valid" "$OUT"

e2e_done
