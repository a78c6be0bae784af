#!/usr/bin/env bash
# studio_page.sh — studio's web page at /: served from the binary with a CSP, public (it asks
# for the key; studio's API keeps its own auth), then driven in headless Chromium
# (studio_page_browser.mjs): projects with counts, a backend with state and versions, a
# 2,000-task prediction run started from the page whose progress bar moves and completes
# without reload, train, hostile titles that run nothing, no console errors, nothing off
# 127.0.0.1. docs/studio.png comes from this run when CONSOLE_SCREENSHOTS=1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/studio_lib.sh"

if [ ! -d "$E2E_ROOT/node_modules/puppeteer-core" ]; then
  (cd "$E2E_ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2) || { not_ok "npm ci"; e2e_done; exit; }
fi
[ -x /usr/bin/chromium ] || { not_ok "chromium is installed (scripts/install-deps.sh)"; e2e_done; exit; }

KEY=studiopage0123456789abcdef0123456789abcd
export LABEL_STUDIO_API_KEY=$KEY
HOSTILE='<img src=x onerror=window.__pwned=1>'
start_fake_ml --model-version v7 --versions v6,v7 --delay-ms 120
start_studio "$E2E_TMP/studio.db"

http GET "$ST/"
check "page: 200 without a key" 200 "$HTTP_STATUS"
check "page: text/html" "text/html; charset=utf-8" "$(header Content-Type)"
check_contains "page: Content-Security-Policy" "default-src 'none'; script-src 'self'" "$(header Content-Security-Policy)"
check "page: no absolute URL to anywhere" 0 \
  "$( (curl -s "$ST/"; curl -s "$ST/static/capgate/studio.js"; curl -s "$ST/static/capgate/studio.css"; curl -s "$ST/static/capgate/page.js"; curl -s "$ST/static/capgate/page.css") | grep -Eo 'https?://[^"'"'"' )]+' | grep -vc '^http://www.w3.org/2000/svg$')"
http GET "$ST/static/capgate/studio.js"
check "script: 200 text/javascript" "200 text/javascript; charset=utf-8" "$HTTP_STATUS $(header Content-Type)"
http GET "$ST/static/capgate/page.css"
check "the shared sheet: 200 text/css" "200 text/css; charset=utf-8" "$HTTP_STATUS $(header Content-Type)"
http GET "$ST/api/projects"
check "the API still needs the key" 401 "$HTTP_STATUS"
http POST "$ST/"
check "the page is GET only (POST / is Django's 404)" 404 "$HTTP_STATUS"

api POST /api/projects "$(jq -nc --arg t "$HOSTILE" '{title: $t, label_config: "<View><Text name=\"text\" value=\"$text\"/><Choices name=\"label\" toName=\"text\"><Choice value=\"a\"/><Choice value=\"b\"/></Choices></View>"}')"
P=$(printf '%s' "$HTTP_BODY" | jq .id)
api POST "/api/projects/$P/import" "$(seq 2000 | jq -R '{text: ("task " + .)}' | jq -sc .)"
check "2000 tasks imported" 2000 "$(printf '%s' "$HTTP_BODY" | jq .task_count)"
T1=$(sqlite3 "$E2E_TMP/studio.db" "SELECT min(id) FROM tasks WHERE project=$P")
api POST "/api/tasks/$T1/annotations" '{"result":[{"from_name":"label","to_name":"text","type":"choices","value":{"choices":["a"]}}]}'
api POST /api/ml "$(jq -nc --arg t "$HOSTILE" --arg u "$ML_URL" --argjson p "$P" '{url: $u, project: $p, title: $t}')"
ML=$(printf '%s' "$HTTP_BODY" | jq .id)
check "backend connected" 201 "$HTTP_STATUS"
api GET "/api/projects/$P"
ANNS=$(printf '%s' "$HTTP_BODY" | jq .total_annotations_number)
TASKS=$(printf '%s' "$HTTP_BODY" | jq .task_number)
SHOT=null
[ "${CONSOLE_SCREENSHOTS:-0}" = 1 ] && SHOT="\"$E2E_ROOT/docs/studio.png\""
EXP=$(jq -nc --argjson p "$P" --argjson t "$TASKS" --argjson a "$ANNS" --argjson b "$ML" --arg h "$HOSTILE" \
  --argjson s "$SHOT" '{project: $p, tasks: $t, annotations: $a, backend: $b, hostile: $h, model_version: "v7", versions: ["v6", "v7"], screenshot: $s}')
timeout 150 node "$E2E_ROOT/tests/e2e/studio_page_browser.mjs" "$ST" "$KEY" "$EXP" || not_ok "studio page in Chromium (exit status)"

api GET "/api/ml/$ML/predict"
check_json "the run the page started is the API's latest, completed" '.status == "completed" and .predicted == 2000 and .total == 2000' "$HTTP_BODY"
check "the ML backend got a train request from the page" 1 \
  "$(curl -s "$ML_URL/__requests" | jq '[.requests[] | select(.path == "/webhook" and .body.action == "START_TRAINING")] | length')"
e2e_done
