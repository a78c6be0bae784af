#!/usr/bin/env bash
# control.sh — the control adapter through real processes: capgate serve with REST, MCP,
# skill and control adapters (tests/e2e/fixtures/surfaces_env.bash) over a recording stub
# registry and a local OTLP collector. Health, status, config, validate, reload (as SIGHUP), logs,
# metrics, traces (with W3C traceparent arriving upstream, an incoming one honoured, and
# spans exported over OTLP/HTTP), and /scripting: a PUT changes the timeout the next script
# step runs under, and switching scripting off refuses script steps.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/surfaces_env.bash"

# ---- health and info --------------------------------------------------------------------
http GET "$CONTROL/health/live"
check "health/live: 200 UP" '200 {"status":"UP"}' "$HTTP_STATUS $HTTP_BODY"
http GET "$CONTROL/health/ready"
check "health/ready: 200 once the workers serve" 200 "$HTTP_STATUS"
check_json "health/ready: UP, every adapter listed started with its real port" \
  ".status==\"UP\" and ([.adapters[].type]==[\"rest\",\"mcp\",\"skill\",\"control\"]) and
   all(.adapters[]; .state==\"started\" and .port>0) and
   (.adapters[2].port==${SKILL##*:})" "$HTTP_BODY"
http GET "$CONTROL/status"
check_json "status: capability, engine, uptime, otel active" \
  '.capability.label=="Shipyard surfaces" and .capability.specVersion=="1.0.0-alpha2" and
   (.uptime|startswith("PT")) and .otel.status=="active" and (.adapters|length)==4' "$HTTP_BODY"
http GET "$CONTROL/config"
check_json "config: the spec's outline, the consumed API without secrets" \
  '.label=="Shipyard surfaces" and .consumes[0].namespace=="registry" and (.exposes|length)==4' "$HTTP_BODY"
http POST "$CONTROL/config/validate" --data-binary @"$SPEC"
check_json "config/validate: the running spec is valid" '.valid==true and .errors==[]' "$HTTP_BODY"
http POST "$CONTROL/config/validate" --data-binary $'naftiko: 1.0.0-alpha2\ninfo: {label: x}\ncapability:\n  exposes: [{type: rest, port: 99999, namespace: a, resources: []}]\n'
check "config/validate: a broken spec is 422" 422 "$HTTP_STATUS"
check_json "config/validate: file:line:col messages" '.valid==false and (.errors|length)>0 and (.errors[0]|test("^body:[0-9]+:[0-9]+: "))' "$HTTP_BODY"
http POST "$CONTROL/config/reload"
check "config/reload: 202, the spec is read again as on SIGHUP" 202 "$HTTP_STATUS"
for _ in $(seq 50); do json_holds '.reload.generation==2' "$(curl -s "$CONTROL/health/ready")" && break; sleep 0.1; done
http GET "$CONTROL/health/ready"
check_json "config/reload: /health/ready shows generation 2, ok" '.status=="UP" and .reload.status=="ok" and .reload.generation==2' "$HTTP_BODY"
http GET "$CONTROL/config/reload"
check "config/reload: GET is 405" 405 "$HTTP_STATUS"
http GET "$CONTROL/health/live" -X POST
check "a wrong method is 405" 405 "$HTTP_STATUS"
http GET "$CONTROL/nope"
check "an unknown route is 404 problem+json" "404 application/problem+json" "$HTTP_STATUS $(header Content-Type)"

# ---- logs -------------------------------------------------------------------------------
http GET "$CONTROL/logs"
check "logs: the level is info" '{"level":"info"}' "$HTTP_BODY"
http PUT "$CONTROL/logs" --data-binary '{"level":"debug"}'
check "logs: PUT sets debug" '200 {"level":"debug"}' "$HTTP_STATUS $HTTP_BODY"
http PUT "$CONTROL/logs" --data-binary '{"level":"loud"}'
check "logs: an unknown level is 400" 400 "$HTTP_STATUS"
http PUT "$CONTROL/logs" --data-binary '{"level":"info"}'

# ---- traces: a REST call, traceparent upstream ------------------------------------------
TID=4bf92f3577b34da6a3ce929d0e0e4736
http GET "$REST/ships/IMO-9321483" -H "traceparent: 00-$TID-00f067aa0ba902b7-01"
check "REST call through: 200" 200 "$HTTP_STATUS"
TP=$(tail -1 "$REC" | jq -r '.headers.traceparent')
check_contains "upstream got a traceparent in the caller's trace" "00-$TID-" "$TP"
SPAN=$(cut -d- -f3 <<<"$TP")
[ "$SPAN" != 00f067aa0ba902b7 ] && [ ${#SPAN} -eq 16 ] && ok "upstream's parent is capgate's own client span" ||
  not_ok "upstream's parent is capgate's own client span" "$TP"
http GET "$REST/ships/IMO-1"
TP2=$(tail -1 "$REC" | jq -r '.headers.traceparent')
[[ "$TP2" =~ ^00-[0-9a-f]{32}-[0-9a-f]{16}-01$ ]] && [[ "$TP2" != *"$TID"* ]] &&
  ok "a call without traceparent starts a new sampled trace" || not_ok "a call without traceparent starts a new sampled trace" "$TP2"
http GET "$CONTROL/traces"
check_json "traces: newest first, buffer 5" \
  ".bufferSize==5 and .bufferUsed==2 and .traces[1].traceId==\"$TID\" and .traces[1].operation==\"get-ship\" and .traces[1].spanCount==2 and .traces[1].status==\"OK\"" "$HTTP_BODY"
http GET "$CONTROL/traces/$TID"
check_json "traces/{id}: a SERVER span under the caller's and a CLIENT span under it" \
  "(.spans|length)==2 and ([.spans[].kind]|sort)==[\"CLIENT\",\"SERVER\"] and
   (.spans[]|select(.kind==\"SERVER\")|.parentSpanId)==\"00f067aa0ba902b7\" and
   (.spans[]|select(.kind==\"CLIENT\")|.spanId)==\"$SPAN\"" "$HTTP_BODY"
http GET "$CONTROL/traces/0123456789abcdef0123456789abcdef"
check "traces/{unknown}: 404" 404 "$HTTP_STATUS"
for i in 1 2 3 4 5 6; do curl -s -o /dev/null "$REST/ships/IMO-$i"; done
http GET "$CONTROL/traces?status=ok"
check_json "traces: the ring keeps the last 5" '.bufferUsed==5 and (.traces|length)==5' "$HTTP_BODY"
http GET "$CONTROL/traces?status=error"
check_json "traces: filtered by status" '(.traces|length)==0' "$HTTP_BODY"

# OTLP: the exporter posts batches about once a second
for i in $(seq 1 60); do
  grep -q "$TID" "$OTLP_REC" 2>/dev/null && break; sleep 0.1
done
check_json "OTLP: the collector got capgate's spans in the caller's trace" \
  "[.resourceSpans[].scopeSpans[].spans[] | select(.traceId==\"$TID\")] as \$s |
   (\$s|length)==2 and ([\$s[].kind]|sort)==[2,3] and (\$s[0].startTimeUnixNano|test(\"^[0-9]+\$\"))" \
  "$(jq -s '{resourceSpans: [.[].resourceSpans[]]}' "$OTLP_REC")"
check_json "OTLP: resource service.name is the capability's label" \
  '.resourceSpans[0].resource.attributes[0].value.stringValue=="Shipyard surfaces"' "$(head -1 "$OTLP_REC")"

# ---- metrics ----------------------------------------------------------------------------
http GET "$CONTROL/metrics"
check "metrics: 200 Prometheus text" "200 text/plain" "$HTTP_STATUS $(header Content-Type | cut -d';' -f1)"
check_contains "metrics: the REST calls are counted" 'capgate_upstream' "$HTTP_BODY"
check_contains "metrics: exported spans are counted" 'capgate_trace_spans_exported_total' "$HTTP_BODY"

# ---- scripting: GET, PUT, and the next script step -------------------------------------
http GET "$CONTROL/scripting"
check_json "scripting: the spec's settings and stats" \
  ".enabled==true and .timeout==5000 and .defaultLanguage==\"javascript\" and .allowedLanguages==[\"javascript\"] and .stats.totalExecutions==0" "$HTTP_BODY"
http GET "$REST/spin"
check "script step (400 ms busy, timeout 5000): 200" 200 "$HTTP_STATUS"
check_json "script step: its result mapped" '.spun==true and .name=="Northern Star"' "$HTTP_BODY"
http PUT "$CONTROL/scripting" --data-binary '{"timeout":150}'
check_json "PUT /scripting: timeout 150" '.timeout==150 and .enabled==true' "$HTTP_BODY"
ok_any=0
for i in 1 2 3 4; do   # every worker sees the change: several calls land on both
  http GET "$REST/spin"
  [ "$HTTP_STATUS" = 502 ] || [ "$HTTP_STATUS" = 500 ] || ok_any=1
  grep -q "timeout limit (150 ms)" <<<"$HTTP_BODY" || ok_any=1
done
check "script step after PUT timeout=150: every call stopped at 150 ms" 0 "$ok_any"
check_contains "script step: the problem names the step and the new limit" "Script step 'spin' exceeded the timeout limit (150 ms)" "$HTTP_BODY"
http PUT "$CONTROL/scripting" --data-binary '{"timeout":0}'
check "PUT /scripting: timeout 0 is 400" 400 "$HTTP_STATUS"
http PUT "$CONTROL/scripting" --data-binary '{"timeout":5000,"defaultLanguage":"cobol"}'
check "PUT /scripting: an unknown language is 400 ..." 400 "$HTTP_STATUS"
http GET "$CONTROL/scripting"
check_json "... and nothing of that PUT applied" '.timeout==150 and .defaultLanguage=="javascript"' "$HTTP_BODY"
http PUT "$CONTROL/scripting" --data-binary 'not json'
check "PUT /scripting: a body that is not JSON is 400" 400 "$HTTP_STATUS"
http PUT "$CONTROL/scripting" --data-binary '{"enabled":false,"timeout":5000}'
http GET "$REST/spin"
check_contains "scripting disabled: the script step is refused" "Scripting is disabled" "$HTTP_BODY"
http PUT "$CONTROL/scripting" --data-binary '{"enabled":true}'
http GET "$REST/spin"
check "scripting enabled again: 200" 200 "$HTTP_STATUS"
http GET "$CONTROL/scripting"
check_json "scripting stats count the runs and errors" '.stats.totalExecutions>=6 and .stats.totalErrors>=4 and (.stats.lastExecutionAt|test("Z$"))' "$HTTP_BODY"

# ---- drain: readiness goes DEGRADED, the OTLP queue is flushed ----------------------------
kill -TERM "$CG_PID"
wait "$CG_PID" 2>/dev/null
check "serve exits 0 on SIGTERM" 0 "$?"
e2e_done
