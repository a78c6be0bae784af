#!/usr/bin/env bash
# console.sh — capgate's console at /console/ on the REST adapter's listener: its HTTP surface
# through curl (headers, CSP, auth, errors, the feed's JSON and SSE), then the page itself in
# headless Chromium (console_browser.mjs): routes and tools as the adapters publish them, a
# REST and an MCP call in the feed within a second, the form, a hostile title, charts, phone
# width, no console errors, nothing fetched off 127.0.0.1. Run once without and once with
# inbound auth; docs/console.png comes from the first run when CONSOLE_SCREENSHOTS=1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"

if ! mcp_need_node_modules || [ ! -d "$E2E_ROOT/node_modules/puppeteer-core" ]; then
  (cd "$E2E_ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2) || { not_ok "npm ci"; e2e_done; exit; }
fi
[ -x /usr/bin/chromium ] || { not_ok "chromium is installed (scripts/install-deps.sh)"; e2e_done; exit; }

mcp_start_studio
HOSTILE='<img src=x onerror=window.__pwned=1>'

# serve NAME [ENV=V...] — capgate serve in front of the fake studio; sets REST, MCP_URL, CG_PID
serve() {
  local name=$1; shift
  CG_NAME=$name cg_start -u LABEL_STUDIO_URL -u CAPGATE_API_TOKENS -u CAPGATE_API_TOKENS_FILE \
    LABEL_STUDIO_API_KEY=console-e2e-key "$@" serve --threads 2 --base-uri "$STUDIO"
  REST="http://127.0.0.1:$CG_REST_PORT" MCP_URL="http://127.0.0.1:$CG_MCP_PORT/mcp"
}
stop() { kill -TERM "$CG_PID" 2>/dev/null; wait "$CG_PID" 2>/dev/null; }

# expected NAME — what the page must show, from the adapters themselves
expected() {
  local routes tools shot=null phone=null
  routes=$(curl -s "${AUTH[@]}" "$REST/v1/openapi.json" |
           jq -c '[.paths | to_entries[] | .key as $p | .value | keys[] | select(. != "parameters") | "\(ascii_upcase) \($p)"]')
  SID=
  mcp_post '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}' "${AUTH[@]}"
  SID=$(header Mcp-Session-Id)
  mcp_post '{"jsonrpc":"2.0","method":"notifications/initialized"}' "${AUTH[@]}"
  mcp_post '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' "${AUTH[@]}"
  tools=$(printf '%s' "$HTTP_BODY" | jq -c '[.result.tools[].name]')
  if [ "${CONSOLE_SCREENSHOTS:-0}" = 1 ] && [ "$1" = open ]; then
    shot="\"$E2E_ROOT/docs/console.png\""; phone="\"$E2E_ROOT/docs/console-phone.png\""
  fi
  printf '{"routes":%s,"tools":%s,"hostile_id":%s,"hostile_title":%s,"screenshot":%s,"phone_screenshot":%s}' \
    "$routes" "$tools" "$HOSTILE_ID" "$(jq -Rn --arg t "$HOSTILE" '$t')" "$shot" "$phone"
}

# ---- auth off ----------------------------------------------------------------------------
AUTH=()
serve open
check_contains "serve logs the console URL" "console on $REST/console/" "$(cat "$CG_LOG")"
http GET "$REST/console/"
check "page: 200" 200 "$HTTP_STATUS"
check "page: text/html" "text/html; charset=utf-8" "$(header Content-Type)"
check_contains "page: Content-Security-Policy allows this origin only" "default-src 'none'; script-src 'self'" "$(header Content-Security-Policy)"
check "page: nosniff" nosniff "$(header X-Content-Type-Options)"
check_contains "page: no CDN, its script comes from here" '<script src="console.js"' "$HTTP_BODY"
check "page: no absolute URL to anywhere (except the SVG namespace)" 0 \
  "$( (curl -s "$REST/console/"; curl -s "$REST/console/console.js"; curl -s "$REST/console/console.css"; curl -s "$REST/console/page.js"; curl -s "$REST/console/page.css") | grep -Eo 'https?://[^"'"'"' )]+' | grep -vc '^http://www.w3.org/2000/svg$')"
http GET "$REST/console/page.js"
check "page: the shared page.js is served with the page" "200 text/javascript; charset=utf-8" "$HTTP_STATUS $(header Content-Type)"
check_contains "page: page.js holds the text-only el()" 'function el(tag, attrs, ...children)' "$HTTP_BODY"
http GET "$REST/console"
check "/console redirects to /console/" "308 /console/" "$HTTP_STATUS $(header Location)"
http GET "$REST/console/nothing-here"
check "unknown console path: 404 problem" "404 application/problem+json" "$HTTP_STATUS $(header Content-Type)"
http DELETE "$REST/console/api/stats"
check "wrong method: 405 with Allow" "405 GET, HEAD" "$HTTP_STATUS $(header Allow)"
http GET "$REST/console/api/capability"
check_json "capability: label, consumed API with its base URI, routes, tools" \
  '(.label | length > 0) and .consumes[0].baseUri == "'"$STUDIO"'" and (.routes | length) > 0 and (.tools | length) > 0 and .auth == false' "$HTTP_BODY"
http POST "$REST/console/api/tools/no-such-tool" -H 'Content-Type: application/json' --data '{}'
check_json "calling an unknown tool: a JSON-RPC error naming it" '.error.code == -32602 and (.error.message | test("no-such-tool"))' "$HTTP_BODY"
http POST "$REST/console/api/tools/get-ml-backend" --data '[1]'
check "tool arguments that are not an object: 400" 400 "$HTTP_STATUS"

# the hostile backend, created through capgate itself
http POST "$REST/v1/api/ml" -H 'Content-Type: application/json' --data "$(jq -nc --arg t "$HOSTILE" '{url: "http://127.0.0.1:9", project: 1, title: $t}')"
HOSTILE_ID=$(printf '%s' "$HTTP_BODY" | jq .id)
check "hostile backend created" 201 "$HTTP_STATUS"

http GET "$REST/console/api/events?after=0"
check_json "events: the calls so far, console requests left out" \
  '(.events | length) > 0 and all(.events[]; (.target | startswith("/console")) | not) and (.events[-1] | .adapter == "rest" and .method == "POST" and .target == "/v1/api/ml" and .status == 201 and .upstream_status == 201 and (.duration_ms >= 0))' "$HTTP_BODY"
LAST=$(printf '%s' "$HTTP_BODY" | jq .last)
http GET "$REST/console/api/events?after=$LAST"
check_json "events after the last one: none" '.events == [] and .skipped == 0' "$HTTP_BODY"

# SSE: a call made while the stream is open arrives on it
curl -sN --max-time 2 "$REST/console/api/stream" >"$E2E_TMP/sse" 2>/dev/null &
SSE_PID=$!
sleep 0.5
curl -s "$REST/v1/api/ml/424242" >/dev/null
wait "$SSE_PID" 2>/dev/null
if grep -q '^data: ' "$E2E_TMP/sse"; then
  check_json "stream: the call arrives as an SSE event with its id" '.target == "/v1/api/ml/424242" and .status == 404' \
    "$(grep '^data: ' "$E2E_TMP/sse" | grep 424242 | head -1 | sed 's/^data: //')"
  check_contains "stream: events carry ids (Last-Event-ID resumes)" "id: " "$(cat "$E2E_TMP/sse")"
else
  not_ok "stream: the call arrives as an SSE event" "$(head -c 400 "$E2E_TMP/sse")"
fi

E2E_SLOW=$E2E_SLOW timeout 120 node "$E2E_ROOT/tests/e2e/console_browser.mjs" "$REST" "$MCP_URL" "$(expected open)" \
  || not_ok "console in Chromium (exit status)"

http HEAD "$REST/console/api/stream"
check "HEAD of the stream: 200, the head only" "200 text/event-stream" "$HTTP_STATUS $(header Content-Type)"
# an open console does not hold a shutdown up: SIGTERM ends its stream and the process exits
curl -sN --max-time 20 "$REST/console/api/stream" >/dev/null 2>&1 &
SSE_PID=$!
sleep 0.3
T0=$(date +%s%N); stop; T1=$(date +%s%N)
check "SIGTERM with a console open: exits at once (< 2 s)" 1 "$(( (T1 - T0) < 2000000000 * E2E_SLOW ))"
wait "$SSE_PID"; check "the page's stream was ended cleanly (curl exit 0)" 0 "$?"

# ---- auth on -----------------------------------------------------------------------------
TOKEN="console-e2e-token-5d1c9a"
AUTH=(-H "Authorization: Bearer $TOKEN")
serve authed CAPGATE_API_TOKENS="$TOKEN"
http GET "$REST/console/"
check "auth on: the page itself loads without a token" 200 "$HTTP_STATUS"
for p in capability events stats upstreams stream; do
  http GET "$REST/console/api/$p"
  check "auth on: /console/api/$p without the token: 401" 401 "$HTTP_STATUS"
done
http POST "$REST/console/api/tools/list-ml-backends" --data '{}'
check "auth on: a tool call without the token: 401" 401 "$HTTP_STATUS"
http GET "$REST/console/api/capability" "${AUTH[@]}"
check_json "auth on: with the token, the capability (auth shown on)" '.auth == true' "$HTTP_BODY"
E2E_SLOW=$E2E_SLOW timeout 120 node "$E2E_ROOT/tests/e2e/console_browser.mjs" "$REST" "$MCP_URL" "$(expected authed)" "$TOKEN" \
  | sed 's/^\(not \)\{0,1\}ok - /&auth on: /'; [ "${PIPESTATUS[0]}" -eq 0 ] || not_ok "auth on: console in Chromium (exit status)"
check "auth on: the token never appears in the log" 0 "$(grep -c "$TOKEN" "$CG_LOG")"
stop
e2e_done
