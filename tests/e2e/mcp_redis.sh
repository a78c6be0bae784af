#!/usr/bin/env bash
# mcp_redis.sh — MCP across instances with Redis (CAPGATE_REDIS_URL): a real redis-server
# on a free port (with a password), three `capgate serve` instances sharing it behind nginx
# with no affinity (the shipped deploy/nginx/capgate-lb.conf, ports rewritten), plus a
# fourth instance without Redis as the control. Checks: a DELETE on one instance is 404 on
# the others (and on the control instance it is not: that is what sharing adds); an
# instance started later learns the ends it missed; a stream cut on one instance resumes
# (GET + Last-Event-ID) on another, raw and with the SDK client through nginx; Redis hung
# or killed mid-run costs no call and logs one line per instance; an end made while Redis
# is down is published once it is back; a Redis that is never up, a wrong password, a bad
# URL; the password never reaches a log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"
command -v nginx >/dev/null || { not_ok "nginx is installed (scripts/install-deps.sh)"; e2e_done; exit; }
command -v redis-server >/dev/null || { not_ok "redis-server is installed (scripts/install-deps.sh)"; e2e_done; exit; }
mcp_start_studio
export CAPGATE_SESSION_SECRET=e2e-redis-secret-0123456789
RPASS='e2e-redis-pw-7f3a9c@x'          # written %40 in the URL
RPASS_URL=e2e-redis-pw-7f3a9c%40x
RPORT=$(free_port)
RURL="redis://:$RPASS_URL@127.0.0.1:$RPORT/0"
V='MCP-Protocol-Version: 2025-11-25'

start_redis() {
  start_bg "$E2E_TMP/redis.log" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$E2E_TMP" --requirepass "$RPASS"
  REDIS_PID=$BG_PID
  wait_port "$RPORT"
}
# start_cg I [ENV...] — one `capgate serve` instance (lib.sh cg_start; its log is
# $E2E_TMP/cgI.log); sets REST[I], MCPP[I], PIDS[I]
REST=(); MCPP=(); PIDS=()
start_cg() {
  local i=$1; shift
  CG_NAME=cg$i cg_start LABEL_STUDIO_API_KEY=k "$@" serve --threads 2 --base-uri "$STUDIO" \
    --mcp-allow-host "127.0.0.1:$LB_MCP" || return 1
  PIDS[$i]=$CG_PID REST[$i]=$CG_REST_PORT MCPP[$i]=$CG_MCP_PORT
}
# on I JSON — POST JSON to instance I directly, in session $SID
on() { MCP_URL="http://127.0.0.1:${MCPP[$1]}/mcp" mcp_post "$2" -H "$V"; }
LIST='{"jsonrpc":"2.0","id":7,"method":"tools/list"}'
CALL='{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":1}}}'

# ---- a bad URL is refused at start; a Redis that is never up is one log line -----------------
LB_REST=$(free_port); LB_MCP=$(free_port)
out=$(CAPGATE_REDIS_URL="rediss://:$RPASS_URL@127.0.0.1:$RPORT" LABEL_STUDIO_API_KEY=k timeout 10 \
  "$CAPGATE" serve --listen 127.0.0.1:0 --mcp-port 0 --base-uri "$STUDIO" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && [[ "$out" == *"rediss:// (TLS) is not supported"* ]]; then ok "rediss:// is refused at start with a clear message"
else not_ok "rediss:// is refused at start with a clear message" "exit $rc: $out"; fi
[[ "$out" != *"$RPASS"* && "$out" != *"$RPASS_URL"* ]] && ok "the refusal does not show the password" || not_ok "the refusal does not show the password" "$out"

start_cg 9 CAPGATE_REDIS_URL="$RURL" || { not_ok "an instance starts while Redis is not up"; e2e_done; exit; }
ok "an instance starts while Redis is not up"
MCP_URL="http://127.0.0.1:${MCPP[9]}/mcp" mcp_init
good=0
for n in 1 2 3; do on 9 "$CALL"; call_ok && good=$((good + 1)); done
check "Redis never up: tools/call still succeed" 3 "$good"
t0=$(date +%s%N)
MCP_URL="http://127.0.0.1:${MCPP[9]}/mcp" http DELETE "http://127.0.0.1:${MCPP[9]}/mcp" -H "Mcp-Session-Id: $SID"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "Redis never up: DELETE answered 200" 200 "$HTTP_STATUS"
[ "$ms" -lt 900 ] && ok "Redis never up: DELETE not held up ($ms ms)" || not_ok "Redis never up: DELETE held up" "$ms ms"
sleep 1.5  # a few reconnect attempts (0.1, 0.2, 0.4, 0.8 s)
n=$(grep -c '"module":"redis"' "$E2E_TMP/cg9.log")
check "Redis never up: one log line, however many retries" 1 "$n"
check_contains "  ... naming the address, not the password" "cannot reach redis://127.0.0.1:$RPORT/0" "$(grep '"module":"redis"' "$E2E_TMP/cg9.log")"

# ---- Redis up; three instances behind nginx, one control instance without Redis ------------
start_redis || { not_ok "redis-server runs" "$(cat "$E2E_TMP/redis.log")"; e2e_done; exit; }
ok "redis-server runs on a free port"
if wait_log "$E2E_TMP/cg9.log" "back on redis://127.0.0.1:$RPORT/0" >/dev/null; then ok "the instance started before Redis connects once it is up"
else not_ok "the instance started before Redis connects once it is up" "$(cat "$E2E_TMP/cg9.log")"; fi
kill "${PIDS[9]}"

# a wrong password: one line saying Redis refused it (never the password), calls go on
start_cg 8 CAPGATE_REDIS_URL="redis://:not-the-pw-3141@127.0.0.1:$RPORT/0" || not_ok "instance 8 starts"
if wait_log "$E2E_TMP/cg8.log" "cannot reach redis://127.0.0.1:$RPORT/0 \\((WRONGPASS|ERR)" >/dev/null; then ok "a wrong Redis password: one clear line"
else not_ok "a wrong Redis password: one clear line" "$(cat "$E2E_TMP/cg8.log")"; fi
SID= ; MCP_URL="http://127.0.0.1:${MCPP[8]}/mcp" mcp_init; on 8 "$CALL"
call_ok && ok "  ... and calls still succeed" || not_ok "  ... and calls still succeed" "$HTTP_STATUS $HTTP_BODY"
grep -q "not-the-pw-3141" "$E2E_TMP/cg8.log" && not_ok "  ... the wrong password is not logged" || ok "  ... the wrong password is not logged"
kill "${PIDS[8]}"

for i in 0 1 2; do start_cg "$i" CAPGATE_REDIS_URL="$RURL" || { not_ok "instance $i starts"; e2e_done; exit; }; done
start_cg 3 || { not_ok "control instance starts"; e2e_done; exit; }
up=0
for i in 0 1 2; do wait_log "$E2E_TMP/cg$i.log" "connected to redis://127.0.0.1:$RPORT/0" >/dev/null && up=$((up + 1)); done
check "the three instances connect to Redis (with its password)" 3 "$up"

mcp_lb_start || { e2e_done; exit; }
LB_URL="http://127.0.0.1:$LB_MCP/mcp"

# ---- DELETE on one instance: 404 on every other one ------------------------------------------
MCP_URL=$LB_URL mcp_init
check "initialize through nginx: a session id" 64 "${#SID}"
seen=0
for i in 0 1 2 3; do on "$i" "$LIST"; [ "$HTTP_STATUS" = 200 ] && seen=$((seen + 1)); done
check "the session is live on all four instances" 4 "$seen"
http DELETE "http://127.0.0.1:${MCPP[0]}/mcp" -H "Mcp-Session-Id: $SID" -H "$V"
check "DELETE on instance 0: 200" 200 "$HTTP_STATUS"
# refused_on I — polls instance I (up to 1 s) until it answers 404; sets WAITED (ms)
refused_on() {
  local t0 k
  t0=$(date +%s%N)
  for ((k = 0; k < 50; k++)); do
    on "$1" "$LIST"
    [ "$HTTP_STATUS" = 404 ] && break
    sleep 0.02
  done
  WAITED=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$HTTP_STATUS" = 404 ]
}
for i in 1 2; do
  # the DELETE was answered once Redis had the end; applying it there takes a moment
  if refused_on "$i"; then ok "  ... instance $i refuses the session: 404 (after $WAITED ms)"
  else not_ok "  ... instance $i refuses the session: 404" "still $HTTP_STATUS after $WAITED ms"; fi
done
on 3 "$LIST"
check "  ... the control instance without Redis still serves it (ends are per instance there)" 200 "$HTTP_STATUS"
n404=0
for n in 1 2 3 4 5 6; do MCP_URL=$LB_URL mcp_post "$LIST" -H "$V"; [ "$HTTP_STATUS" = 404 ] && n404=$((n404 + 1)); done
check "  ... 6 requests through nginx: all 404" 6 "$n404"

# a session issued by instance 2 and only used there, deleted on instance 1: instance 2 ends it
MCP_URL="http://127.0.0.1:${MCPP[2]}/mcp" mcp_init
on 2 "$LIST"; s2=$HTTP_STATUS
http DELETE "http://127.0.0.1:${MCPP[1]}/mcp" -H "Mcp-Session-Id: $SID" -H "$V"
check "DELETE on instance 1 of a session instance 2 issued: 200" "200 200" "$s2 $HTTP_STATUS"
refused_on 2
check "  ... the issuing instance refuses it: 404" 404 "$HTTP_STATUS"
on 0 "$LIST"
check "  ... and an instance that never saw it does not adopt it: 404" 404 "$HTTP_STATUS"
ENDED_EARLIER=$SID

# an instance started after the DELETE learns it from Redis
start_cg 4 CAPGATE_REDIS_URL="$RURL" && wait_log "$E2E_TMP/cg4.log" "connected to redis" >/dev/null || not_ok "instance 4 starts"
on 4 "$LIST"
check "an instance started after a DELETE refuses that session: 404" 404 "$HTTP_STATUS"
kill "${PIDS[4]}"

# ---- a stream cut on instance 0, resumed on instance 1 ----------------------------------------
# The fake studio answers get-ml-backend id 3000 after 3 s; capgate answers a call still
# running after 2 s as SSE whose priming event names a replay stream (tests/e2e/mcp_resume.sh).
SLOW='{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":3000}}}'
SSE_FILE="$E2E_TMP/post.sse"
# cut_slow_call I — POSTs SLOW to instance I, cuts the stream after its priming event; sets PRIMER
cut_slow_call() {
  : >"$SSE_FILE"
  curl -sN -X POST "http://127.0.0.1:${MCPP[$1]}/mcp" -H "$MCP_JSON" -H "$MCP_ACCEPT" -H "Mcp-Session-Id: $SID" \
    -H "$V" --data-binary "$SLOW" -o "$SSE_FILE" &
  local pid=$! k
  for ((k = 0; k < 100; k++)); do grep -q '^id: ' "$SSE_FILE" && break; sleep 0.05; done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  PRIMER=$(sed -n 's/^id: //p' "$SSE_FILE" | head -1 | tr -d '\r')
}
# last_data — the last SSE data line of the last answer, or null (jq -e passes on no input)
last_data() { local d; d=$(sse_data "$HTTP_BODY" | tail -1); printf '%s' "${d:-null}"; }
# resume_on I ID — GET + Last-Event-ID ID on instance I
resume_on() {
  http GET "http://127.0.0.1:${MCPP[$1]}/mcp" -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $SID" \
    -H "$V" -H "Last-Event-ID: $2" --max-time 10
}
MCP_URL="http://127.0.0.1:${MCPP[0]}/mcp" mcp_init
cut_slow_call 0
[[ "$PRIMER" =~ ^[0-9a-f]{16}-0$ ]] && ok "a slow call on instance 0 answers as SSE; cut after its priming event" \
  || not_ok "a slow call on instance 0 answers as SSE; cut after its priming event" "$(cat "$SSE_FILE")"
resume_on 1 "$PRIMER"
check "GET + Last-Event-ID on instance 1 while the call runs on instance 0: 200" 200 "$HTTP_STATUS"
check_json "  ... it gets the call's result when instance 0 has it" \
  '.id=="slow" and .result.structuredContent.id==3000 and (.result.isError|not)' "$(last_data)"
check "  ... exactly once" 1 "$(sse_data "$HTTP_BODY" | grep -c '"id":"slow"')"
resume_on 2 "$PRIMER"
check_json "the finished stream replays on instance 2 too" '.id=="slow"' "$(last_data)"
resume_on 3 "$PRIMER"
check "  ... but not on the control instance without Redis: 400 (unknown stream)" 400 "$HTTP_STATUS"
t0=$(date +%s%N); resume_on 1 "0123456789abcdef-0"; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a stream no instance knows: 400 on instance 1 too" 400 "$HTTP_STATUS"
[ "$ms" -lt 3000 ] && ok "  ... after looking again for about 1 s (it might have been in flight): $ms ms" \
  || not_ok "  ... after looking again for about 1 s" "$ms ms"

# the SDK client (reconnection on) through nginx: its POST and its GET land on different instances
out=$(timeout 60 node "$E2E_ROOT/tests/e2e/mcp_resume_client.mjs" "$LB_URL" "$STUDIO" 2>&1)
printf '%s\n' "$out" | grep -E '^((not )?ok - |#   )' | sed 's/^\(not \)\{0,1\}ok - /&through nginx: /'
printf '%s\n' "$out" | grep -q '^not ok' && E2E_FAILS=$((E2E_FAILS + 1))
printf '%s\n' "$out" | grep -q '^ok - ' || not_ok "SDK client through nginx ran" "$out"
posts=""; for i in 0 1 2; do posts="$posts $(grep -c 'GET /mcp 200' "$E2E_TMP/cg$i.log")"; done
echo "# GET /mcp 200 per instance (access log):$posts"

# what Redis costs, measured (printed, not checked): DELETE waits for Redis to take the
# end; a tools/call never touches Redis. Instance 0 has Redis, instance 3 does not.
# mean_ms I WHAT N — mean curl time_total of N requests of WHAT (delete|call) to instance I
mean_ms() {
  local i=$1 what=$2 n=$3 k t sum=0
  for ((k = 0; k < n; k++)); do
    MCP_URL="http://127.0.0.1:${MCPP[$i]}/mcp" mcp_init
    if [ "$what" = delete ]; then
      t=$(curl -s -o /dev/null -w '%{time_total}' -X DELETE "http://127.0.0.1:${MCPP[$i]}/mcp" -H "Mcp-Session-Id: $SID" -H "$V")
    else
      t=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:${MCPP[$i]}/mcp" -H "$MCP_JSON" -H "$MCP_ACCEPT" \
        -H "Mcp-Session-Id: $SID" -H "$V" --data-binary "$CALL")
    fi
    sum=$(awk -v a="$sum" -v b="$t" 'BEGIN { print a + b }')
  done
  awk -v s="$sum" -v n="$n" 'BEGIN { printf "%.2f", s * 1000 / n }'
}
echo "# DELETE mean over 30: with Redis $(mean_ms 0 delete 30) ms, without $(mean_ms 3 delete 30) ms"
echo "# tools/call mean over 30: with Redis $(mean_ms 0 call 30) ms, without $(mean_ms 3 call 30) ms"

# ---- Redis hung (SIGSTOP): calls are not held up, a DELETE waits at most 1 s ---------------
MCP_URL=$LB_URL mcp_init
kill -STOP "$REDIS_PID"
slow=0; good=0
for n in 1 2 3 4 5 6; do
  t=$(curl -s -o "$E2E_TMP/body" -w '%{time_total}' "$LB_URL" -H "$MCP_JSON" -H "$MCP_ACCEPT" \
    -H "Mcp-Session-Id: $SID" -H "$V" --data-binary "$CALL")
  HTTP_STATUS=200; HTTP_BODY=$(cat "$E2E_TMP/body"); call_ok && good=$((good + 1))
  awk -v t="$t" 'BEGIN { exit !(t > 2) }' && slow=$((slow + 1))
done
check "Redis hung: 6 tools/call through nginx succeed" 6 "$good"
check "  ... none took over 2 s" 0 "$slow"
t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -X DELETE "http://127.0.0.1:${MCPP[2]}/mcp" -H "Mcp-Session-Id: $SID" -H "$V")
kill -CONT "$REDIS_PID"
code=${t% *}; secs=${t#* }
check "Redis hung: DELETE answered 200" 200 "$code"
if awk -v t="$secs" 'BEGIN { exit !(t >= 0.9 && t < 3) }'; then ok "  ... after the 1 s wait for Redis, no longer ($secs s)"
else not_ok "  ... after the 1 s wait for Redis, no longer" "$secs s"; fi
refused_on 1
check "  ... once Redis runs again, the end reaches the other instances: 404" 404 "$HTTP_STATUS"

# ---- Redis killed mid-run: calls go on, one line per instance, ends held and published -----
MCP_URL=$LB_URL mcp_init
for i in 0 1 2; do on "$i" "$LIST"; done   # adopted everywhere
: >"$E2E_TMP/codes"
( for n in $(seq 1 30); do
    MCP_URL=$LB_URL SID=$SID mcp_post "$CALL" -H "$V"
    call_ok && echo ok >>"$E2E_TMP/codes" || echo "bad $HTTP_STATUS" >>"$E2E_TMP/codes"
  done ) &
LOADER=$!
sleep 0.3
{ kill -9 "$REDIS_PID"; wait "$REDIS_PID"; } 2>/dev/null
wait "$LOADER"
check "30 tools/call through nginx while Redis is killed: all succeed" 30 "$(grep -c '^ok$' "$E2E_TMP/codes")"
lost=0
for i in 0 1 2; do wait_log "$E2E_TMP/cg$i.log" "lost redis://127.0.0.1:$RPORT/0" >/dev/null && lost=$((lost + 1)); done
check "each instance logs that Redis is lost" 3 "$lost"
t0=$(date +%s%N)
http DELETE "http://127.0.0.1:${MCPP[1]}/mcp" -H "Mcp-Session-Id: $SID" -H "$V"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "DELETE while Redis is down: 200" 200 "$HTTP_STATUS"
[ "$ms" -lt 900 ] && ok "  ... not held up ($ms ms)" || not_ok "  ... held up" "$ms ms"
on 0 "$LIST"
check "  ... instance 0 still serves the session (per instance while Redis is down)" 200 "$HTTP_STATUS"
sleep 2  # reconnect attempts meanwhile
lines=""
for i in 0 1 2; do lines="$lines $(grep -c '"module":"redis".*redis://' "$E2E_TMP/cg$i.log")"; done
check "one line per instance for the outage, however many retries (connected + lost)" " 2 2 2" "$lines"

start_redis || not_ok "redis-server restarts"
back=0
for i in 0 1 2; do wait_log "$E2E_TMP/cg$i.log" "back on redis://127.0.0.1:$RPORT/0" >/dev/null && back=$((back + 1)); done
check "each instance is back on Redis" 3 "$back"
refused_on 0
check "the DELETE made while Redis was down reaches instance 0 once it is back: 404" 404 "$HTTP_STATUS"
good=0
for n in 1 2 3 4 5 6; do
  MCP_URL=$LB_URL mcp_init
  MCP_URL=$LB_URL mcp_post "$CALL" -H "$V"; call_ok && good=$((good + 1))
done
check "new sessions work through nginx after Redis came back" 6 "$good"

# ---- no secret in any log -------------------------------------------------------------------
leak=$(grep -l -e "$RPASS" -e "$RPASS_URL" -e "${RPASS%@x}" "$E2E_TMP"/cg*.log 2>/dev/null)
check "no capgate log holds the Redis password" "" "$leak"
for i in 0 1 2 3; do kill -0 "${PIDS[$i]}" 2>/dev/null && ok "instance $i still running" || not_ok "instance $i died"; done
e2e_done
