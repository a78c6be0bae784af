#!/usr/bin/env bash
# reload_adapters.sh — SIGHUP hot reload of a spec with skill and control adapters, through
# real processes: capgate serve (REST, two skill adapters, control) in front of a small node
# upstream, under wrk load (64 connections) on the skill catalog, a skill file and the
# control port, and a curl loop on /status, for 8 SIGHUPs (3 applied, 5 refused). A reload
# that changes skills (descriptions, a new skill, the location and so the files served) and
# control settings (metrics off, validate on, a scripting block, the label /status shows)
# is visible on the next request with 0 failed requests; a broken spec, a skill adapter's
# port change, a skill adapter more, the control adapter gone and changed trace settings are
# refused (log, /readyz, /health/ready) and the running spec keeps serving; scripting set by
# PUT /scripting survives a reload whose scripting block is unchanged; POST /config/reload
# reloads as SIGHUP does.
. "$(dirname "$0")/lib.sh"

command -v wrk >/dev/null || { echo "not ok - reload_adapters: needs wrk"; exit 1; }
UP_PORT=$(free_port)    # the spec names it (the port rule in lib.sh)
MORE_PORT=$(free_port)  # the second skill adapter's: only the first takes --skill-port
MOVED_PORT=$(free_port) # where a reload tries to move it
cat >"$E2E_TMP/up.js" <<'EOF'
const http = require('http');
http.createServer((req, res) => {
  res.writeHead(200, {'Content-Type': 'application/json'});
  res.end(JSON.stringify({path: req.url, ok: true}));
}).listen(Number(process.argv[2]), '127.0.0.1');
EOF
start_bg "$E2E_TMP/up.log" node "$E2E_TMP/up.js" "$UP_PORT"
wait_port "$UP_PORT" || { not_ok "upstream started"; exit 1; }
mkdir -p "$E2E_TMP/loc1/docs" "$E2E_TMP/loc2"
echo "alpha, first edition" >"$E2E_TMP/loc1/SKILL.md"
echo "how to ping" >"$E2E_TMP/loc1/docs/ping.md"
echo "alpha, second edition" >"$E2E_TMP/loc2/SKILL.md"

# spec VERSION [VARIANT] — VERSION 1 or 2 (its skills and control settings); VARIANT moves
# the second skill adapter (moved), adds a skill adapter (more), drops the control adapter
# (nocontrol) or changes the trace buffer (traces)
spec() {
  local v=$1 var=${2:-} desc=First loc=loc1 more_port=$MORE_PORT metrics=true
  local validate=false buffer=7 scripting=
  [ "$v" = 2 ] && { desc=Second loc=loc2 metrics=false validate=true scripting=1; }
  [ "$var" = moved ] && more_port=$MOVED_PORT
  [ "$var" = traces ] && buffer=9
  cat <<EOF
naftiko: 1.0.0-alpha2
info:
  label: Adapters $v
  description: hot reload of skill and control adapters
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: http://127.0.0.1:$UP_PORT
    resources:
    - name: ping
      path: /ping
      operations:
      - {name: ping, method: GET}
  exposes:
  - type: rest
    namespace: rest
    port: 18080
    resources:
    - path: /ping
      name: ping
      operations:
      - {method: GET, name: ping, call: api.ping}
  - type: skill
    namespace: skills
    port: 18093
    skills:
    - name: alpha
      description: $desc alpha
      location: file://$E2E_TMP/$loc
      tools:
      - name: ping
        description: Ping over REST
        from: {sourceNamespace: rest, action: ping}
EOF
  [ "$v" = 2 ] && cat <<EOF
    - name: beta
      description: A new skill
EOF
  cat <<EOF
  - type: skill
    namespace: more
    port: $more_port
    skills:
    - {name: gamma, description: Always here}
EOF
  [ "$var" = more ] && cat <<EOF
  - type: skill
    namespace: yet-more
    port: $MOVED_PORT
    skills:
    - {name: delta, description: One adapter too many}
EOF
  [ "$var" = nocontrol ] && return 0
  cat <<EOF
  - type: control
    port: 18094
    management:
      health: true
      info: true
      reload: true
      validate: $validate
EOF
  [ -n "$scripting" ] && cat <<EOF
      scripting:
        enabled: true
        timeout: 4000
EOF
  cat <<EOF
    observability:
      metrics: {local: {enabled: $metrics}}
      traces: {local: {buffer-size: $buffer}}
EOF
}

SPEC="$E2E_TMP/cap.yaml"
spec 1 >"$SPEC"
cg_start serve --threads 2 --no-access-log "$SPEC" || { not_ok "serve started"; exit 1; }
CG=$CG_PID LOG=$CG_LOG
R="http://127.0.0.1:$CG_REST_PORT" S="http://127.0.0.1:$CG_SKILL_PORT" C="http://127.0.0.1:$CG_CONTROL_PORT"
MORE="http://127.0.0.1:$MORE_PORT"
ok "serve started (REST $CG_REST_PORT, skill $CG_SKILL_PORT and $MORE_PORT, control $CG_CONTROL_PORT)"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
get() { curl -s "$@"; }

# ---- generation 1 -----------------------------------------------------------------------
check_json "gen 1: the catalog has alpha" '[.skills[].name]==["alpha"] and .skills[0].description=="First alpha"' "$(get "$S/skills")"
check_json "gen 1: alpha's files are the first location's" '[.files[].path]==["SKILL.md","docs/ping.md"]' "$(get "$S/skills/alpha/contents")"
check "gen 1: alpha's SKILL.md" "alpha, first edition" "$(get "$S/skills/alpha/contents/SKILL.md")"
check "gen 1: beta does not exist" 404 "$(code "$S/skills/beta")"
check "gen 1: control /metrics 200, /config/validate 404" "200 404" "$(code "$C/metrics") $(code -X POST "$C/config/validate" --data-binary 'x')"
check_json "gen 1: /status names the label" '.capability.label=="Adapters 1"' "$(get "$C/status")"
check "gen 1: no scripting block, no /scripting" 404 "$(code "$C/scripting")"
check_json "gen 1: /health/ready UP, no reload yet" '.status=="UP" and (has("reload")|not)' "$(get "$C/health/ready")"

WRK_TIMEOUT=$((2 * E2E_SLOW))s # wrk's default, stretched under valgrind (lib.sh)
# ---- under load from here to POST /config/reload: a reload that changes skills and control --
wrk -t1 --timeout "$WRK_TIMEOUT" -c32 -d12s "$S/skills/alpha" >"$E2E_TMP/wrk_skill" 2>&1 &
W1=$!
wrk -t1 --timeout "$WRK_TIMEOUT" -c16 -d12s "$S/skills/alpha/contents/SKILL.md" >"$E2E_TMP/wrk_file" 2>&1 &
W2=$!
wrk -t1 --timeout "$WRK_TIMEOUT" -c16 -d12s "$C/health/ready" >"$E2E_TMP/wrk_control" 2>&1 &
W3=$!
# a curl loop on /status: every answer must be 200 with a label of one generation or the other
cat >"$E2E_TMP/status_loop.sh" <<EOF
ok=0; bad=0
while [ ! -e "$E2E_TMP/stop" ]; do
  out=\$(curl -s -w '\n%{http_code}' "$C/status")
  if [ "\${out##*$'\n'}" = 200 ] && printf '%s' "\${out%$'\n'*}" | jq -e '.capability.label|test("^Adapters [12]$")' >/dev/null 2>&1; then
    ok=\$((ok + 1)); else bad=\$((bad + 1)); echo "\$out" >>"$E2E_TMP/status_bad"; fi
done
echo "\$ok \$bad" >"$E2E_TMP/status_counts"
EOF
bash "$E2E_TMP/status_loop.sh" &
SLOOP=$!
sleep 1.5
spec 2 >"$SPEC"; cg_hup "$CG" "$LOG"
check_json "gen 2: the catalog has alpha, changed, and beta" '[.skills[].name]==["alpha","beta"] and .skills[0].description=="Second alpha" and .count==2' "$(get "$S/skills")"
check_json "gen 2: alpha's detail is the new one" '.description=="Second alpha" and .tools[0].invocationRef.mode=="rest"' "$(get "$S/skills/alpha")"
check_json "gen 2: alpha's files are the second location's" '[.files[].path]==["SKILL.md"]' "$(get "$S/skills/alpha/contents")"
check "gen 2: alpha's SKILL.md is the new file" "alpha, second edition" "$(get "$S/skills/alpha/contents/SKILL.md")"
check "gen 2: a file only the old location had is 404" 404 "$(code "$S/skills/alpha/contents/docs/ping.md")"
check "gen 2: beta exists" 200 "$(code "$S/skills/beta")"
check_json "gen 2: the second skill adapter still serves gamma" '[.skills[].name]==["gamma"]' "$(get "$MORE/skills")"
check "gen 2: control /metrics 404 (turned off), /config/validate answers (turned on)" "404 200" \
  "$(code "$C/metrics") $(code -X POST "$C/config/validate" --data-binary @"$SPEC")"
check_json "gen 2: /status names the new label" '.capability.label=="Adapters 2"' "$(get "$C/status")"
check_json "gen 2: /scripting appears with the spec's settings" '.timeout==4000 and .enabled==true' "$(get "$C/scripting")"
check_json "gen 2: /health/ready says generation 2, ok" '.status=="UP" and .reload.status=="ok" and .reload.generation==2' "$(get "$C/health/ready")"
check_json "gen 2: /config lists the adapters with the bound ports" \
  "[.exposes[]|.type+\":\"+(.namespace//\"\")+\":\"+(.port|tostring)]==[\"rest:rest:$CG_REST_PORT\",\"skill:skills:$CG_SKILL_PORT\",\"skill:more:$MORE_PORT\",\"control::$CG_CONTROL_PORT\"]" "$(get "$C/config")"
check_contains "gen 2: the log counts the skills" "as generation 2: 1 REST operations, 0 MCP tools, 3 skills" "$(cat "$LOG")"

printf 'naftiko: 1.0.0-alpha2\ncapability:\n  exposes:\n  - type: skill\n    port: [\n' >"$SPEC"; cg_hup "$CG" "$LOG"
check_json "broken spec: /health/ready stays UP and says why (file:line:col)" \
  '.status=="UP" and .reload.status=="failed" and .reload.generation==2 and (.reload.error|test("cap.yaml:[0-9]+:[0-9]+"))' "$(get "$C/health/ready")"
check_json "broken spec: /readyz says the same" '.reload.status=="failed" and .reload.generation==2' "$(get "$R/readyz")"
check_json "broken spec: the catalog is generation 2's" '[.skills[].name]==["alpha","beta"]' "$(get "$S/skills")"
check_json "broken spec: /status still generation 2's" '.capability.label=="Adapters 2"' "$(get "$C/status")"
check_contains "broken spec: the log says why" "still serving generation 2" "$(cat "$LOG")"

# ---- scripting set at run time survives a reload that leaves the spec's scripting alone ----
check_json "PUT /scripting timeout 1234" '.timeout==1234' "$(get -X PUT "$C/scripting" --data-binary '{"timeout":1234}')"
spec 2 | sed 's/label: Adapters 2/label: Adapters 2/; s/description: A new skill/description: A renamed skill/' >"$SPEC"
cg_hup "$CG" "$LOG"
check_json "same scripting block: generation 3, PUT's timeout kept" '.timeout==1234' "$(get "$C/scripting")"
check_json "generation 3: beta's new description" '.description=="A renamed skill"' "$(get "$S/skills/beta")"

# ---- refused: what would need another socket, or another tracer ---------------------------
refused() { # NAME VARIANT MESSAGE
  spec 2 "$2" >"$SPEC"; cg_hup "$CG" "$LOG"
  check_json "$1: refused, still generation 3" \
    ".reload.status==\"failed\" and .reload.generation==3 and (.reload.error|contains(\"$3\"))" "$(get "$C/health/ready")"
  check_json "$1: the catalog is unchanged" '[.skills[].name]==["alpha","beta"]' "$(get "$S/skills")"
}
refused "a skill adapter's port changes" moved "the skill adapter more moves to 127.0.0.1:$MOVED_PORT; ports and addresses change only with a restart"
check "the moved port: nothing listens on it" 000 "$(code "http://127.0.0.1:$MOVED_PORT/skills")"
check_json "the moved port: gamma still where it was" '[.skills[].name]==["gamma"]' "$(get "$MORE/skills")"
refused "a skill adapter more" more "it has 3 skill adapters, not 2; adapters come and go only with a restart"
refused "the control adapter gone" nocontrol "the control adapter is gone; adapters come and go only with a restart"
refused "the trace buffer changed" traces "the control adapter's traces (on/off, sampling, buffer size, OTLP exporter) change only with a restart"
check_contains "refusals: the log says why" "the skill adapter more moves to" "$(cat "$LOG")"

# ---- POST /config/reload: as SIGHUP --------------------------------------------------------
spec 1 >"$SPEC"
http POST "$C/config/reload"
check "POST /config/reload: 202" 202 "$HTTP_STATUS"
for _ in $(seq 50); do json_holds '.reload.generation==4' "$(get "$C/health/ready")" && break; sleep 0.1; done
check_json "POST /config/reload: generation 4, ok" '.reload.status=="ok" and .reload.generation==4' "$(get "$C/health/ready")"
check_json "generation 4: the catalog is generation 1's again" '[.skills[].name]==["alpha"] and .skills[0].description=="First alpha"' "$(get "$S/skills")"
check "generation 4: /metrics back, /scripting gone" "200 404" "$(code "$C/metrics") $(code "$C/scripting")"

# ---- the load's outcome -------------------------------------------------------------------
kill -0 "$W1" 2>/dev/null && echo "# every SIGHUP above landed under load" || echo "# the load ended before the last SIGHUP"
wait "$W1" "$W2" "$W3"
touch "$E2E_TMP/stop"; wait "$SLOOP"
for w in skill file control; do
  reqs=$(awk '/requests in/ {print $1}' "$E2E_TMP/wrk_$w")
  echo "# wrk $w: $reqs requests over 12s; $(grep 'Requests/sec' "$E2E_TMP/wrk_$w")"
  [ "${reqs:-0}" -gt $((500 / E2E_SLOW)) ] && ok "wrk on the $w ran ($reqs requests)" || not_ok "wrk on the $w ran" "$(cat "$E2E_TMP/wrk_$w")"
  check "wrk on the $w: 0 failed requests, 0 socket errors under 8 SIGHUPs (3 applied, 5 refused)" "" "$(grep -E 'Non-2xx|Socket errors' "$E2E_TMP/wrk_$w" || true)"
done
read -r SOK SBAD <"$E2E_TMP/status_counts"
echo "# GET /status during the reloads: $SOK ok, $SBAD failed"
[ "${SOK:-0}" -gt 5 ] && ok "the /status loop ran ($SOK)" || not_ok "the /status loop ran" "$SOK"
check "the /status loop: 0 failed" 0 "$SBAD"
[ "$SBAD" != 0 ] && head -3 "$E2E_TMP/status_bad"

kill -TERM "$CG"; wait "$CG"
check "SIGTERM after reloads: exit 0" 0 "$?"
check_contains "the log has the stop" '"msg":"stopped"' "$(cat "$LOG")"
e2e_done
