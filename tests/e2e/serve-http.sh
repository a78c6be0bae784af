#!/usr/bin/env bash
# serve-http.sh — the HTTP/1.1 layer under capgate serve's REST and MCP adapters
# (src/net/h1_server.c), over raw sockets. On both ports: pipelining, the request
# smuggling refusals, size limits and bad versions answered with problem+json, request lines
# that cannot be HTTP/1.x refused at once, idle and slow-header timeouts. On the REST port
# also: keep-alive with curl, chunked bodies,
# Expect: 100-continue, HTTP/1.0, HEAD, 204 framing, the request smuggling refusals, size
# limits answered with problem+json, request lines that cannot be HTTP/1.x refused at once,
# idle and slow-header timeouts, and what reached the
# recording upstream.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"
ROUTES="$E2E_TMP/routes.json"
echo '[{"method":"DELETE","path":"/api/ml/*","status":204,"body":""},
       {"path":"/api/ml/*","body":"{\"id\":1}"}]' >"$ROUTES"
recording_start recording-upstream.js "$ROUTES" || exit 1
UP=$FIX_PORT
cg_start LABEL_STUDIO_URL="http://127.0.0.1:$UP" LABEL_STUDIO_API_KEY=k \
  serve --threads 1 --max-body 1k --idle-timeout 2 || exit 1
CG=$CG_REST_PORT MCP=$CG_MCP_PORT

# raw TIMEOUT_MS PRINTF_FORMAT [DELAY_MS] — to port $PORT (default REST): the whole answer
# (CRs dropped) in $RAW, "closed" or "timeout" in $RAW_END
raw() {
  printf "$2" | node "$FIX/raw-http.js" "${PORT:-$CG}" "$1" "${3:-0}" >"$E2E_TMP/raw.out" 2>"$E2E_TMP/raw.err"
  RAW=$(tr -d '\r' <"$E2E_TMP/raw.out"); RAW_END=$(tail -1 "$E2E_TMP/raw.err")
}
count() { printf '%s\n' "$RAW" | grep -o -- "$1" | wc -l | tr -d ' '; }
recorded() { wc -l <"$REC" | tr -d ' '; }

# ---- keep-alive, pipelining ---------------------------------------------------------------
raw 1500 'GET /v1/api/ml/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/api/ml/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
check "pipelined: three answers on one connection" 3 "$(count "HTTP/1.1 200 OK")"
check "pipelined: the connection stays open" timeout "$RAW_END"
check "pipelined: upstream got 1 then 2" '/api/ml/1 /api/ml/2' "$(jq -rs 'map(.url) | join(" ")' "$REC")"
check "responses carry a Date" 3 "$(count '^Date: ')"

n=$(curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' "http://127.0.0.1:$CG/v1/api/ml/1" \
      "http://127.0.0.1:$CG/v1/api/ml/2" "http://127.0.0.1:$CG/v1/api/ml/3" | paste -sd' ')
check "curl reuses one keep-alive connection for three calls" '1 0 0' "$n"

# ---- bodies -----------------------------------------------------------------------------
: >"$REC"
raw 1500 'POST /v1/api/ml HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n{"url\r\n14\r\n":"http://m:9090","p\r\na\r\nroject":3}\r\n0\r\nX-Trailer: t\r\n\r\n'
check "chunked body: 200" 1 "$(count 'HTTP/1.1 200')"
check "chunked body: forwarded whole, with a Content-Length" \
  '{"url":"http://m:9090","project":3} 35' "$(jq -r '.body + " " + .headers["content-length"]' "$REC")"
check "chunked body: no Transfer-Encoding upstream" null "$(jq -r '.headers["transfer-encoding"]' "$REC")"

raw 1500 'POST /v1/api/ml HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 13\r\nExpect: 100-continue\r\n\r\n' 
check "Expect: 100-continue gets 100 Continue" 1 "$(count 'HTTP/1.1 100 Continue')"

raw 1500 'POST /v1/api/ml HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n'
check "chunked body over --max-body: 413" 1 "$(count 'HTTP/1.1 413')"
check_contains "chunked body over --max-body: the adapter's problem" '"instance":"/v1/api/ml"' "$RAW"
check "chunked body over --max-body: connection closed" closed "$RAW_END"


# ---- HTTP/1.0, HEAD, 204, Connection: close -----------------------------------------------
raw 1500 'GET /healthz HTTP/1.0\r\n\r\n'
check "HTTP/1.0: answered" 1 "$(count 'HTTP/1.1 200')"
check "HTTP/1.0: closed after" closed "$RAW_END"
raw 1500 'GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
check "HTTP/1.0 keep-alive: two answers" 2 "$(count 'HTTP/1.1 200')"
check "HTTP/1.0 keep-alive: says so" 2 "$(count '^Connection: keep-alive')"
raw 1500 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
check "Connection: close is honoured" "closed 1" "$RAW_END $(count '^Connection: close')"
raw 1500 'HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
check "HEAD: Content-Length of the body, no body" "Content-Length: 15|" \
  "$(printf '%s\n' "$RAW" | grep '^Content-Length' )|$(printf '%s' "$RAW" | sed '1,/^$/d')"
raw 1500 'DELETE /v1/api/ml/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
check "204: no Content-Length, no body" "HTTP/1.1 204 No Content|0|" \
  "$(printf '%s\n' "$RAW" | head -1)|$(count '^Content-Length')|$(printf '%s' "$RAW" | sed '1,/^$/d')"

# ---- the HTTP layer, on both ports -------------------------------------------------------
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}'
MCP_H='Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n'
LONG=$(head -c 17000 /dev/zero | tr '\0' 'a')
HDRS=$(for i in $(seq 70); do printf 'X-H%d: v\\r\\n' "$i"; done)

# http_layer LABEL PORT POST_TARGET EXTRA_HEADERS PIPELINED_REQUEST OK_STATUS
http_layer() {
  local L=$1 T=$3 H=$4 one=$5 okst=$6
  PORT=$2
  local hp="Host: 127.0.0.1\r\n"
  raw 1500 "$one$one$one"
  check "$L: pipelined: three answers on one connection" 3 "$(count "HTTP/1.1 $okst")"
  check "$L: pipelined: the connection stays open" timeout "$RAW_END"
  check "$L: responses carry a Date" 3 "$(count '^Date: ')"

  # a request smuggled in the body of one with both framings must never be answered
  raw 1500 "POST $T HTTP/1.1\r\n$hp${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${hp}\r\n"
  check "$L: Content-Length and Transfer-Encoding: one 400, closed" "1 1 closed" \
    "$(count '^HTTP/1.1 ') $(count 'HTTP/1.1 400') $RAW_END"
  check_contains "$L: ... as problem+json" 'Content-Type: application/problem+json' "$RAW"
  raw 1500 "POST $T HTTP/1.1\r\n$hp${H}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}"
  check "$L: conflicting Content-Lengths: 400" 1 "$(count 'HTTP/1.1 400')"
  raw 1500 "POST $T HTTP/1.1\r\n$hp${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
  check "$L: two Transfer-Encoding headers: 400" 1 "$(count 'HTTP/1.1 400')"
  raw 1500 "POST $T HTTP/1.1\r\n$hp${H}Transfer-Encoding: gzip, chunked\r\n\r\n"
  check "$L: a transfer coding other than chunked: 501 problem+json" "1 1" \
    "$(count 'HTTP/1.1 501') $(count 'Content-Type: application/problem+json')"
  raw 1500 "POST $T HTTP/1.1\r\n$hp${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
  check "$L: bad chunk size: 400, closed" "1 closed" "$(count 'HTTP/1.1 400') $RAW_END"
  raw 1500 "GET $T HTTP/1.1\r\n\r\n"
  check "$L: HTTP/1.1 without Host: 400" 1 "$(count 'HTTP/1.1 400')"
  raw 1500 "GET $T HTTP/1.1\r\n${hp} Folded: y\r\n\r\n"
  check "$L: obs-fold header line: 400 problem+json" "1 1" \
    "$(count 'HTTP/1.1 400') $(count 'Content-Type: application/problem+json')"

  raw 3000 "GET /$LONG HTTP/1.1\r\n${hp}\r\n"
  check "$L: request line over 16 KiB: 414 problem+json" "1 1" \
    "$(count 'HTTP/1.1 414') $(count 'Content-Type: application/problem+json')"
  raw 3000 "GET $T HTTP/1.1\r\n${hp}X-Big: $LONG\r\n\r\n"
  check "$L: headers over 16 KiB: 431 problem+json" "1 1" \
    "$(count 'HTTP/1.1 431') $(count 'Content-Type: application/problem+json')"
  raw 1500 "GET $T HTTP/1.1\r\n${hp}${HDRS}\r\n"
  check "$L: more than 64 headers: 431" 1 "$(count 'HTTP/1.1 431')"
  raw 1500 "GET $T HTTP/2.0\r\n${hp}\r\n"
  check "$L: HTTP/2.0 in a request line: 505 problem+json" "1 1" \
    "$(count 'HTTP/1.1 505') $(count 'Content-Type: application/problem+json')"
  raw 1500 "GET /nowhere HTTP/1.0\r\n\r\n"
  check "$L: HTTP/1.0: answered, closed after" "1 closed" "$(count 'HTTP/1.1 404') $RAW_END"

  # bytes that cannot be HTTP/1.x are answered at once (well inside the 2 s idle timeout:
  # raw gives up after 1.5 s)
  local name fmt
  while IFS='|' read -r name fmt; do
    raw 1500 "$fmt"
    check "$L: $name: 400 at once, then closed" "1 closed" "$(count 'HTTP/1.1 400') $RAW_END"
    check_contains "$L: $name: problem+json" 'Content-Type: application/problem+json' "$RAW"
  done <<'CASES'
request line without a version|GET /\r\n
TLS ClientHello on the plain port|\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03
binary bytes|\x00\x01\x02\x03
a control byte in the target|GET /a\x01b HTTP/1.1
CASES

  local t0 t1 ms
  t0=$(date +%s%N)
  raw 6000 "GET /nowhere HTTP/1.1\r\n${hp}\r\n"
  t1=$(date +%s%N); ms=$(( (t1 - t0) / 1000000 ))
  if [ "$RAW_END" = closed ] && [ "$ms" -ge 1500 ] && [ "$ms" -lt 5000 ]; then
    ok "$L: an idle keep-alive connection is closed after --idle-timeout ($ms ms)"
  else not_ok "$L: idle keep-alive connection closed after --idle-timeout" "$RAW_END after $ms ms"; fi
  raw 8000 "GET /nowhere HTTP/1.1\r\n${hp}X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n" 100
  if [ "$RAW_END" = closed ] && [ "$(count '^HTTP/1.1 ')" = 0 ]; then
    ok "$L: headers trickling past --idle-timeout: closed unanswered"
  else not_ok "$L: slow headers closed" "$RAW_END: ${RAW:0:100}"; fi
  PORT=
}

before=$(recorded)
http_layer REST "$CG" /v1/api/ml 'Content-Type: application/json\r\n' \
  'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' 200
http_layer MCP "$MCP" /mcp "$MCP_H" \
  "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n${MCP_H}Content-Length: ${#INIT}\r\n\r\n$INIT" 200
check "nothing malformed reached the upstream" "$before" "$(recorded)"

# the MCP port takes a chunked body and streams SSE as chunks
PORT=$MCP
hex=$(printf '%x' "${#INIT}")
raw 1500 "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n${MCP_H}Transfer-Encoding: chunked\r\n\r\n$hex\r\n$INIT\r\n0\r\n\r\n"
check "MCP: a chunked initialize: 200 with a session" "1 1" "$(count 'HTTP/1.1 200') $(count '^Mcp-Session-Id: ')"
SID=$(printf '%s\n' "$RAW" | sed -n 's/^Mcp-Session-Id: //p')
raw 1500 "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: $SID\r\n\r\n"
check "MCP: the GET stream is chunked text/event-stream and stays open" "1 1 1 timeout" \
  "$(count 'HTTP/1.1 200') $(count '^Transfer-Encoding: chunked') $(count '^Content-Type: text/event-stream') $RAW_END"
PORT=

# ---- bookkeeping --------------------------------------------------------------------------
metrics=$(curl -s "http://127.0.0.1:$CG/metrics")
check_contains "HTTP-layer refusals are counted" 'capgate_requests_total{route="unmatched",method="OTHER",status="431"}' "$metrics"
check_contains "in flight back to 1 (this scrape)" 'capgate_requests_in_flight 1' "$metrics"
fds=$(ls "/proc/$CG_PID/fd" | wc -l)
if [ "$fds" -lt 30 ]; then ok "no descriptors left behind ($fds open)"; else not_ok "descriptors left behind" "$fds open"; fi
kill -0 "$CG_PID" && ok "capgate still running" || not_ok "capgate died"
e2e_done
