#!/usr/bin/env bash
# upstream_faults.sh — capgate serve (REST and MCP) in front of an upstream that fails in every
# way we know (tests/e2e/fixtures/fault-upstream.js): down, hanging past the timeout, a body
# trickling past it, reset before or during the answer, closed mid-body, garbage, an invalid
# status line, a 200 KB head, broken or truncated chunked encoding, 500/502/503, and storms of
# 5xx and resets under a burst of 200 concurrent requests. For each: the exact status and
# problem type (REST) or isError result (MCP tools/call, never a JSON-RPC failure), no
# upstream garbage in what the caller sees, a bounded answer time, how many times each call
# reached the upstream (GET retried only as documented, POST train never twice), and after
# every fault the same calls answered byte for byte as before it. After the bursts: nothing
# stuck, the in-flight gauge back to idle, and the file descriptors back to their baseline.
# At the end, capgate mcp (standalone) shows serve's upstream defaults: retries, the own client.
# Runs once with capgate's own HTTP/1.1 client and once with --upstream-client curl.
. "$(dirname "$0")/lib.sh"
R="$E2E_TMP/r"; mkdir -p "$R"

start_bg "$E2E_TMP/fault.log" node "$FIX/fault-upstream.js"
for _ in $(seq 100); do grep -q '^fault-upstream data' "$E2E_TMP/fault.log" && break; sleep 0.05; done
read -r _ _ DATA _ CTL <"$E2E_TMP/fault.log"
[ -n "${CTL:-}" ] || { echo "# fault upstream did not start"; cat "$E2E_TMP/fault.log"; exit 1; }

ctl() { curl -sf -m 5 -o /dev/null "http://127.0.0.1:$CTL/$1" || not_ok "fault upstream control $1"; }
stats() { curl -s -m 5 "http://127.0.0.1:$CTL/stats"; }
# arrivals KEY... : how often each "METHOD /path" reached the upstream, space-separated
arrivals() {
  local s k out=()
  s=$(stats)
  for k in "$@"; do out+=("$(jq -r --arg k "$k" '.arrivals[$k] // 0' <<<"$s")"); done
  echo "${out[*]}"
}

TIMEOUT_MS=1000
# serve_capgate CLIENT : starts capgate serve, sets CG_PID, REST, MCP and the MCP session SID
serve_capgate() {
  CG_NAME=cg-$1 cg_start LABEL_STUDIO_URL="http://127.0.0.1:$DATA" LABEL_STUDIO_API_KEY=k \
    serve --threads 2 --upstream-client "$1" \
    --timeout $TIMEOUT_MS --long-timeout $TIMEOUT_MS --connect-timeout 500 --retries 5 \
    --max-upstream 32 --no-access-log || { echo "# capgate did not start"; exit 1; }
  REST="http://127.0.0.1:$CG_REST_PORT" MCP="http://127.0.0.1:$CG_MCP_PORT/mcp"
  curl -s -m 5 -D "$R/init.hdr" -o "$R/init.body" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' "$MCP" --data-binary \
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"faults","version":"1"}}}'
  SID=$(tr -d '\r' <"$R/init.hdr" | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *//p')
  curl -s -m 5 -o /dev/null -H 'Content-Type: application/json' -H "Mcp-Session-Id: $SID" \
    -H 'Accept: application/json, text/event-stream' "$MCP" \
    --data-binary '{"jsonrpc":"2.0","method":"notifications/initialized"}'
}

# ---- requests: each writes $R/NAME.body, .hdr and .out ("STATUS SECONDS") ----------------
req() {
  local n=$1; shift
  curl -s -m 10 -o "$R/$n.body" -D "$R/$n.hdr" -w '%{http_code} %{time_total}' "$@" >"$R/$n.out" 2>/dev/null
}
rest_get()   { req "$1" "$REST/v1/api/ml/$2"; }
rest_train() { req "$1" -X POST -H 'Content-Type: application/json' --data-binary '{"epochs":1}' "$REST/v1/api/ml/$2/train"; }
mcp_body()   { echo "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"$1\",\"arguments\":$2}}"; }
mcp_tool()   {
  req "$1" -X POST -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H "Mcp-Session-Id: $SID" --data-binary "$(mcp_body "$2" "$3")" "$MCP"
}
status_of() { cut -d' ' -f1 <"$R/$1.out"; }
secs_of()   { cut -d' ' -f2 <"$R/$1.out"; }
body_of()   { cat "$R/$1.body"; }
ctype_of()  { tr -d '\r' <"$R/$1.hdr" | sed -n 's/^[Cc]ontent-[Tt]ype: *//p' | tail -1; }

# the four calls, at once: REST GET id 1, REST POST train id 3, MCP get id 2, MCP train id 4
KEYS=("GET /api/ml/1" "POST /api/ml/3/train" "GET /api/ml/2" "POST /api/ml/4/train")
four() {
  local p=()
  rest_get "$1.rg" 1 & p+=($!)
  rest_train "$1.rt" 3 & p+=($!)
  mcp_tool "$1.mg" get-ml-backend '{"id":2}' & p+=($!)
  mcp_tool "$1.mt" train '{"id":4,"body":{"epochs":1}}' & p+=($!)
  wait "${p[@]}"
}

# ---- assertions ----------------------------------------------------------------------------
# within LABEL NAME MIN MAX : the answer came in [MIN, MAX) seconds
within() {
  local t; t=$(secs_of "$2")
  if awk -v t="$t" -v lo="$3" -v hi="$4" 'BEGIN { exit !(t >= lo && t < hi) }'; then
    ok "$1: answered in ${t} s"
  else
    not_ok "$1: answered in [$3, $4) s" "took ${t} s"
  fi
}
clean() { # LABEL NAME : nothing of the upstream's garbage reaches the caller
  if grep -q 'GARBAGE-MARKER' "$R/$2.body"; then not_ok "$1: no upstream garbage in the answer"; else ok "$1: no upstream garbage in the answer"; fi
}
rest_problem() { # LABEL NAME STATUS SLUG MIN MAX
  check "$1: status $3" "$3" "$(status_of "$2")"
  check "$1: problem+json" "application/problem+json" "$(ctype_of "$2")"
  check_json "$1: problem $4" ".status==$3 and .type==\"urn:capgate:problem:$4\" and (.detail|length>5)" "$(body_of "$2")"
  clean "$1" "$2"
  within "$1" "$2" "$5" "$6"
}
mcp_problem() { # LABEL NAME SLUG MIN MAX
  check "$1: HTTP 200" 200 "$(status_of "$2")"
  check_json "$1: isError result $3 with a message (not a JSON-RPC error)" \
    "(has(\"error\")|not) and .id==7 and .result.isError==true and .result.structuredContent.error==\"$3\" and (.result.content[0].text|length>5) and (.result as \$r | \$r.content[0].text|endswith(\$r.structuredContent.message))" \
    "$(body_of "$2")"
  clean "$1" "$2"
  within "$1" "$2" "$4" "$5"
}
# the four answers equal the baseline's, byte for byte
same_as_baseline() { # LABEL PREFIX
  local k bad=""
  for k in rg rt mg mt; do
    [ "$(status_of "$2.$k")" = "$(status_of "base.$k")" ] && cmp -s "$R/$2.$k.body" "$R/base.$k.body" || bad+=" $k"
  done
  if [ -z "$bad" ]; then ok "$1: REST and MCP answers byte for byte as before the faults"
  else not_ok "$1: answers byte for byte as before the faults" "differ:$bad" "$(cat "$R/$2.rg.out") $(body_of "$2.rg")"; fi
}
in_flight() { curl -s -m 5 "$REST/metrics" | awk '$1=="capgate_requests_in_flight" {print $2}'; }
fds() { ls "/proc/$CG_PID/fd" | wc -l; }

# burst PREFIX N : N/4 each of REST GET, REST POST train, MCP get, MCP train, all at once
# (curl --parallel, --max-time 10 each); one line per request in $R/PREFIX.lines:
# KIND STATUS SECONDS FILE. Paths are distinct: REST GET 1000+i, train 2000+i, MCP 3000+i, 4000+i.
burst() {
  local cfg="$R/$1.cfg" i q=$(($2 / 4))
  : >"$cfg"
  mkdir -p "$R/$1"
  for ((i = 1; i <= q; i++)); do
    printf 'next\nurl = "%s"\noutput = "%s"\nwrite-out = "rg %%{http_code} %%{time_total} %s\\n"\nmax-time = 10\n' \
      "$REST/v1/api/ml/$((1000 + i))" "$R/$1/rg$i" "rg$i" >>"$cfg"
    printf 'next\nurl = "%s"\noutput = "%s"\nwrite-out = "rt %%{http_code} %%{time_total} %s\\n"\nmax-time = 10\nheader = "Content-Type: application/json"\ndata-binary = "{}"\n' \
      "$REST/v1/api/ml/$((2000 + i))/train" "$R/$1/rt$i" "rt$i" >>"$cfg"
    local m
    for m in "mg get-ml-backend 3000" "mt train 4000"; do
      set -- "$1" "$2" $m
      printf 'next\nurl = "%s"\noutput = "%s"\nwrite-out = "%s %%{http_code} %%{time_total} %s\\n"\nmax-time = 10\nheader = "Content-Type: application/json"\nheader = "Accept: application/json, text/event-stream"\nheader = "Mcp-Session-Id: %s"\ndata-binary = "%s"\n' \
        "$MCP" "$R/$1/$3$i" "$3" "$3$i" "$SID" "$(mcp_body "$4" "{\"id\":$(($5 + i))}" | sed 's/"/\\"/g')" >>"$cfg"
    done
  done
  sed -i '1d' "$cfg"   # no "next" before the first request
  curl -s --parallel --parallel-immediate --parallel-max "$2" -K "$cfg" >"$R/$1.lines" 2>/dev/null
}
# burst_checks LABEL PREFIX N REST_STATUS_REGEX MCP_JQ
burst_checks() {
  local lines="$R/$2.lines"
  check "$1: all $3 requests answered (none stuck past --max-time)" "$3" "$(awk '$2 != "000"' "$lines" | wc -l | tr -d ' ')"
  check "$1: REST statuses all match ^($4)\$" 0 "$(awk '$1 ~ /^r/ && $2 !~ /^('"$4"')$/' "$lines" | wc -l | tr -d ' ')"
  check "$1: MCP answers all HTTP 200" 0 "$(awk '$1 ~ /^m/ && $2 != "200"' "$lines" | wc -l | tr -d ' ')"
  local bad=0 f
  for f in "$R/$2"/m*; do json_holds "$5" "$(cat "$f")" || bad=$((bad + 1)); done
  check "$1: MCP results all isError as documented" 0 "$bad"
  check "$1: no answer slower than 5 s" 0 "$(awk '$3 >= 5' "$lines" | wc -l | tr -d ' ')"
}
# wait_idle : the in-flight gauge falls back to 1 (the /metrics request itself) within 3 s
wait_idle() {
  local v
  for _ in $(seq 60); do v=$(in_flight); [ "$v" = 1 ] && break; sleep 0.05; done
  check "$1: capgate_requests_in_flight back to idle (1: the /metrics request itself)" 1 "$v"
}

run_client() { # CLIENT
  local C=$1 mode
  serve_capgate "$C"
  [ -n "$SID" ] && ok "$C: MCP session" || not_ok "$C: MCP session" "$(cat "$R/init.body")"
  ctl "mode?m=normal"
  four base
  check_json "$C baseline: REST GET" '.id==1 and .method=="GET"' "$(body_of base.rg)"
  check_json "$C baseline: REST POST train" '.id==3 and .method=="POST"' "$(body_of base.rt)"
  check_json "$C baseline: MCP get-ml-backend" '.result.isError!=true and .result.structuredContent.id==2' "$(body_of base.mg)"
  check_json "$C baseline: MCP train" '.result.isError!=true and .result.structuredContent.url=="/api/ml/4/train"' "$(body_of base.mt)"
  # fd baseline: with the upstream gone, capgate's pooled upstream connections close too
  ctl "mode?m=down"; sleep 0.5
  local fd0; fd0=$(fds)
  ctl "mode?m=normal"

  # mode  slug  status  min_s  max_s  GET arrivals (regex)
  local t=$((TIMEOUT_MS / 1000)).$((TIMEOUT_MS % 1000 / 100))
  while read -r mode slug status lo hi gets; do
    [ -z "$mode" ] && continue
    ctl "mode?m=normal"
    four "w.$mode"
    same_as_baseline "$C before $mode" "w.$mode"
    ctl reset; ctl "mode?m=$mode"
    four "f.$mode"
    rest_problem "$C $mode: REST GET" "f.$mode.rg" "$status" "$slug" "$lo" "$hi"
    rest_problem "$C $mode: REST POST train" "f.$mode.rt" "$status" "$slug" "$lo" "$hi"
    mcp_problem "$C $mode: MCP get-ml-backend" "f.$mode.mg" "$slug" "$lo" "$hi"
    mcp_problem "$C $mode: MCP train" "f.$mode.mt" "$slug" "$lo" "$hi"
    read -r a1 a3 a2 a4 <<<"$(arrivals "${KEYS[@]}")"
    check "$C $mode: POST train reached the upstream exactly once (REST, MCP)" "1 1" "$a3 $a4"
    # libcurl resends a GET whose reused connection died on each other pooled connection
    # it tries, up to 5 times; capgate's own client once, on a new connection
    [ "$C" = curl ] && [ "$gets" = "[12]" ] && gets="[1-6]"
    [[ "$a1 $a2" =~ ^$gets\ $gets$ ]] && ok "$C $mode: GET arrivals ($a1, $a2) as documented" \
      || not_ok "$C $mode: GET arrivals as documented" "expected $gets each, got $a1 $a2"
  done <<EOF
hang          upstream-timeout      504 0.9 2.5 1
trickle       upstream-timeout      504 0.9 2.5 1
rst           upstream-unreachable  502 0   1      [12]
rst_mid       bad-upstream-response 502 0   1      1
close_mid     bad-upstream-response 502 0   1      1
garbage       bad-upstream-response 502 0   1      1
bad_status    bad-upstream-response 502 0   1      1
huge_headers  bad-upstream-response 502 0   1      1
chunked_bad   bad-upstream-response 502 0   1      1
chunked_trunc bad-upstream-response 502 0   1      1
EOF

  # the upstream's own errors pass through: REST unchanged, MCP isError upstream-status
  local s
  for s in 500 502 503; do
    ctl "mode?m=normal"; four "w.s$s"
    same_as_baseline "$C before $s" "w.s$s"
    ctl reset; ctl "mode?m=s$s"
    four "f.s$s"
    check "$C upstream $s: REST status passed through" "$s" "$(status_of "f.s$s.rt")"
    check "$C upstream $s: REST body passed through byte for byte" "{\"detail\":\"upstream says $s\"}" "$(body_of "f.s$s.rg")"
    check "$C upstream $s: REST Content-Type passed through" "application/json" "$(ctype_of "f.s$s.rg")"
    check_json "$C upstream $s: MCP isError upstream-status" \
      "(has(\"error\")|not) and .result.isError==true and .result.structuredContent.error==\"upstream-status\" and .result.structuredContent.status==$s and (.result.content[0].text|startswith(\"upstream returned HTTP $s\"))" \
      "$(body_of "f.s$s.mt")"
    check "$C upstream $s: no call retried" "1 1 1 1" "$(arrivals "${KEYS[@]}")"
  done

  # down: connection refused. GET is retried with back-off (50+100+200+400 ms within the
  # 1 s timeout), POST fails at once; both 502 upstream-unreachable
  ctl "mode?m=normal"; four w.down; same_as_baseline "$C before down" w.down
  ctl reset; ctl "mode?m=down"
  four f.down
  rest_problem "$C down: REST GET (retried)" f.down.rg 502 upstream-unreachable 0.7 2
  rest_problem "$C down: REST POST train (not retried)" f.down.rt 502 upstream-unreachable 0 0.5
  mcp_problem "$C down: MCP get-ml-backend (retried)" f.down.mg upstream-unreachable 0.7 2
  mcp_problem "$C down: MCP train (not retried)" f.down.mt upstream-unreachable 0 0.5
  # coming back while a GET is between attempts: the GET succeeds, the POST did not wait
  local p=()
  rest_get up.rg 1 & p+=($!)
  mcp_tool up.mg get-ml-backend '{"id":2}' & p+=($!)
  rest_train up.rt 3 & p+=($!)
  mcp_tool up.mt train '{"id":4,"body":{"epochs":1}}' & p+=($!)
  sleep 0.25
  ctl "mode?m=normal"
  wait "${p[@]}"
  check "$C down then up: REST GET retried into success" 200 "$(status_of up.rg)"
  cmp -s "$R/up.rg.body" "$R/base.rg.body" && ok "$C down then up: REST GET body as before" || not_ok "$C down then up: REST GET body as before"
  cmp -s "$R/up.mg.body" "$R/base.mg.body" && ok "$C down then up: MCP get-ml-backend answer as before" || not_ok "$C down then up: MCP answer as before" "$(body_of up.mg)"
  check "$C down then up: REST POST train failed at once (502)" 502 "$(status_of up.rt)"
  check_json "$C down then up: MCP train failed at once" '.result.isError==true' "$(body_of up.mt)"
  check "$C down then up: the GETs arrived once each, the POSTs never" "1 0 1 0" "$(arrivals "${KEYS[@]}")"

  # bursts of 200 concurrent requests into a 5xx storm and a reset storm
  ctl reset; ctl "mode?m=storm"
  burst storm 200
  burst_checks "$C 5xx storm" storm 200 "500|502|503" \
    '(has("error")|not) and .result.isError==true and .result.structuredContent.error=="upstream-status"'
  check "$C 5xx storm: each of the 200 calls reached the upstream exactly once" "200 1" \
    "$(stats | jq -r '[.total, ([.arrivals[]]|max)] | join(" ")')"
  wait_idle "$C 5xx storm"
  ctl reset; ctl "mode?m=reset_storm"
  burst resets 200
  burst_checks "$C reset storm" resets 200 "502" \
    '(has("error")|not) and .result.isError==true and (.result.structuredContent.error|test("^(upstream-unreachable|bad-upstream-response)$"))'
  check "$C reset storm: every POST train reached the upstream exactly once" "100 1" \
    "$(stats | jq -r '[.arrivals|to_entries[]|select(.key|startswith("POST"))|.value] | [length, max] | join(" ")')"
  local most=2; [ "$C" = curl ] && most=6
  check "$C reset storm: no GET reached it more than $most times" 1 \
    "$(stats | jq -r --argjson m $most '[.arrivals|to_entries[]|select(.key|startswith("GET"))|.value] | if max <= $m then 1 else max end')"
  wait_idle "$C reset storm"

  # file descriptors: back to the baseline once the upstream's connections are gone (libcurl
  # keeps dead connections in its cache until its next transfer: bounded by the pool size)
  ctl "mode?m=down"
  local fd1 slack=2
  [ "$C" = curl ] && slack=34
  for _ in $(seq 40); do fd1=$(fds); [ "$fd1" -le $((fd0 + slack)) ] && break; sleep 0.05; done
  [ "$fd1" -le $((fd0 + slack)) ] && ok "$C: fds back to baseline after the storms ($fd1, baseline $fd0)" \
    || not_ok "$C: fds back to baseline after the storms" "baseline $fd0, now $fd1 (slack $slack)"

  # recovery: the same calls, the same answers
  ctl "mode?m=normal"
  four after
  same_as_baseline "$C after recovery" after
  kill -0 "$CG_PID" 2>/dev/null && ok "$C: capgate still running" || not_ok "$C: capgate still running"
  grep -q 'GARBAGE-MARKER' "$E2E_TMP/cg-$C.log" && not_ok "$C: log holds no upstream garbage" || ok "$C: log holds no upstream garbage"
  kill -TERM "$CG_PID"; wait "$CG_PID"
  check "$C: clean exit on SIGTERM" 0 "$?"
}

run_client native
run_client curl

# ---- capgate mcp: the same upstream side as serve ------------------------------------------
# connection refused: a GET is retried after 50 and 100 ms by default (>= 0.15 s before it
# fails), after 50+100+200+400 ms with --retries 4 — as capgate serve, which before issue 13
# capgate mcp was not (no retries, the other client)
ctl "mode?m=down"
mcp_standalone() { # LABEL ARGS...
  local L=$1; shift
  CG_NAME=mcp-$L cg_start LABEL_STUDIO_API_KEY=k mcp --upstream "http://127.0.0.1:$DATA" "$@" ||
    { not_ok "capgate mcp $L started"; return; }
  local pid=$CG_PID
  MCP=$CG_URL
  curl -s -m 5 -D "$R/init.hdr" -o /dev/null -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' "$MCP" --data-binary \
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"faults","version":"1"}}}'
  SID=$(tr -d '\r' <"$R/init.hdr" | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *//p')
  mcp_tool "mcp.$L" get-ml-backend '{"id":2}'
  kill -TERM "$pid"; wait "$pid"
}
mcp_standalone default
mcp_problem "capgate mcp, defaults: down, GET retried twice" mcp.default upstream-unreachable 0.14 5
mcp_standalone r4 --retries 4 --upstream-client native
mcp_problem "capgate mcp --retries 4: down, GET retried four times" mcp.r4 upstream-unreachable 0.7 5
e2e_done
