#!/usr/bin/env bash
# bench/soak.sh — capgate serve under hours-style load, squeezed into minutes: does anything
# leak? Not a test (not in `make test`): prints a summary and exits non-zero on a failure.
#
#   DURATION=300 REST_CONNS=384 MCP_CONNS=128 bench/soak.sh
#
# Upstream: nginx (1 worker) answering every path with a 98-byte JSON (`return 200`), with a
# 2 s keep-alive timeout so capgate's idle upstream pool drains once the load stops. capgate:
# `serve --threads $THREADS --no-access-log`, REST and MCP. Load, at the same time for
# DURATION seconds (or 5m): wrk on REST (GET one, GET list, GET one, POST train, in turn)
# with REST_CONNS connections and wrk on MCP (tools/call get-ml-backend in one session) with
# MCP_CONNS; both check every answer's status and body (bench/soak.lua). Every SAMPLE
# seconds capgate's RSS, open fds, threads and established connections (clients, upstream)
# go to $CSV (default bench/soak.csv).
#
# At the end: requests, errors (non-2xx + socket errors + wrong bodies: must be 0), RSS at
# start, peak and end and its slope after the first minute and over the second half, fds and established connections
# at the baseline (after a warm-up, with the pool drained) and after the load (the same
# drain). Exit 1 when there were errors or the fds or connections did not come back.
set -u
cd "$(dirname "$0")/.." || exit 1
DURATION=${DURATION:-300}
case $DURATION in *m) DURATION=$((${DURATION%m} * 60)) ;; *s) DURATION=${DURATION%s} ;; esac
REST_CONNS=${REST_CONNS:-384}; MCP_CONNS=${MCP_CONNS:-128}; SAMPLE=${SAMPLE:-5}
THREADS=${THREADS:-2}; CSV=${CSV:-bench/soak.csv}
. bench/lib.sh
bench_need wrk nginx jq
[ -x build/capgate ] || { echo "build capgate first (make)" >&2; exit 2; }

json_upstream "keepalive_timeout 2s;"
BODY=$BENCH_JSON
cg_start LABEL_STUDIO_URL="http://127.0.0.1:$UP" LABEL_STUDIO_API_KEY=k \
  serve --threads "$THREADS" --no-access-log || exit 2
CG=$CG_PID RP=$CG_REST_PORT MP=$CG_MCP_PORT
REST="http://127.0.0.1:$RP"; MCP="http://127.0.0.1:$MP/mcp"
SID=$(mcp_session "$MCP" soak) || { echo "no MCP session" >&2; exit 2; }

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$CG/status"; }
fds() { ls "/proc/$CG/fd" | wc -l; }
threads() { awk '/^Threads/ {print $2}' "/proc/$CG/status"; }
est_clients() { ss -Htn state established "( sport = :$RP or sport = :$MP )" | wc -l; }
est_upstream() { ss -Htn state established "( dport = :$UP )" | grep -c . ; }
export SOAK_BODY="$BODY" MCP_SESSION="$SID"

# wait_drained LABEL : until no client connection is left and the upstream pool has drained
# (nginx closes idle keep-alive connections after 2 s), at most 20 s
wait_drained() {
  for _ in $(seq 80); do
    [ "$(est_clients)" = 0 ] && [ "$(est_upstream)" = 0 ] && return 0
    sleep 0.25
  done
  return 1
}

# warm-up: every code path once, at low concurrency, then the baseline
wrk -t1 -c8 -d3s -s bench/soak.lua "$REST" -- rest >/dev/null 2>&1
wrk -t1 -c8 -d2s -s bench/soak.lua "$MCP" -- mcp >/dev/null 2>&1
wait_drained; sleep 0.5
B_RSS=$(rss_kb); B_FDS=$(fds); B_CL=$(est_clients); B_UP=$(est_upstream); B_THR=$(threads)

echo "t_s,rss_kb,fds,threads,est_clients,est_upstream" >"$CSV"
START=$(date +%s)
sampler() {
  while kill -0 "$CG" 2>/dev/null; do
    echo "$(( $(date +%s) - START )),$(rss_kb),$(fds),$(threads),$(est_clients),$(est_upstream)" >>"$CSV"
    sleep "$SAMPLE"
  done
}
sampler & SP=$!; E2E_PIDS+=($SP)
echo "# soak: ${DURATION}s, REST $REST_CONNS + MCP $MCP_CONNS connections, capgate --threads $THREADS, $(nproc) cores (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
wrk -t1 -c"$REST_CONNS" -d"${DURATION}s" --timeout 10s -s bench/soak.lua "$REST" -- rest >"$TMP/rest.wrk" 2>&1 &
W1=$!
wrk -t1 -c"$MCP_CONNS" -d"${DURATION}s" --timeout 10s -s bench/soak.lua "$MCP" -- mcp >"$TMP/mcp.wrk" 2>&1 &
W2=$!
wait "$W1" "$W2"
LOAD_END=$(date +%s)
sleep "$SAMPLE"; kill "$SP" 2>/dev/null; wait "$SP" 2>/dev/null
DRAINED=yes; wait_drained || DRAINED=no
sleep 0.5
A_RSS=$(rss_kb); A_FDS=$(fds); A_CL=$(est_clients); A_UP=$(est_upstream); A_THR=$(threads)
METRICS=$(curl -s "$REST/metrics")

# ---- summary --------------------------------------------------------------------------------
wrk_reqs()   { awk '/requests in/ {print $1}' "$1"; }
wrk_non2xx() { awk '/Non-2xx/ {print $NF}' "$1"; }
wrk_sock()   { awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$1"; }
wrk_bad()    { awk '/^soak-bad/ {print $2}' "$1"; }
wrk_rps()    { awk '/Requests\/sec/ {print $2}' "$1"; }
wrk_lat()    { awk '/^    Latency/ {print $2 " avg, max " $4}' "$1"; }
R_REQ=$(wrk_reqs "$TMP/rest.wrk"); M_REQ=$(wrk_reqs "$TMP/mcp.wrk")
ERR=0
for f in rest mcp; do
  for v in "$(wrk_non2xx "$TMP/$f.wrk")" "$(wrk_sock "$TMP/$f.wrk")" "$(wrk_bad "$TMP/$f.wrk")"; do
    ERR=$((ERR + ${v:-0}))
  done
done
[ -n "$R_REQ" ] && [ -n "$M_REQ" ] || { echo "wrk failed:"; cat "$TMP"/*.wrk; exit 1; }
# RSS: peak over the samples, slope (least squares) over the samples after the first minute
# and over the second half (a leak keeps its slope; allocator warm-up flattens out)
slope() { # FROM_S TO_S : KiB per minute
  awk -F, -v a="$1" -v b="$2" 'NR > 1 && $1 >= a && $1 <= b { n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
    END { printf "%.1f\n", (n > 1 && n * sxx - sx * sx) ? (n * sxy - sx * sy) / (n * sxx - sx * sx) * 60 : 0 }' "$CSV"
}
PEAK=$(awk -F, 'NR > 1 && $2 > p { p = $2 } END { print p }' "$CSV")
SLOPE=$(slope 60 "$DURATION"); SLOPE2=$(slope $((DURATION / 2)) "$DURATION")
PEAK_FDS=$(awk -F, 'NR > 1 && $3 > p { p = $3 } END { print p }' "$CSV")
echo "requests:    $((R_REQ + M_REQ)) in ${DURATION}s (REST $R_REQ at $(wrk_rps "$TMP/rest.wrk")/s, MCP $M_REQ at $(wrk_rps "$TMP/mcp.wrk")/s)"
echo "latency:     REST $(wrk_lat "$TMP/rest.wrk"); MCP $(wrk_lat "$TMP/mcp.wrk")"
for f in rest mcp; do
  n2=$(wrk_non2xx "$TMP/$f.wrk"); se=$(wrk_sock "$TMP/$f.wrk"); wb=$(wrk_bad "$TMP/$f.wrk")
  printf 'errors %-5s non-2xx %s, socket %s, wrong body %s\n' "$f:" "${n2:-0}" "${se:-0}" "${wb:-0}"
done
echo "errors:      $ERR"
echo "RSS (KiB):   start $B_RSS, peak $PEAK, end $A_RSS; slope ${SLOPE} KiB/min after the first minute, ${SLOPE2} KiB/min over the second half"
echo "fds:         baseline $B_FDS, peak $PEAK_FDS, after $A_FDS"
echo "established: clients $B_CL -> $A_CL, upstream $B_UP -> $A_UP (drained: $DRAINED); threads $B_THR -> $A_THR"
echo "upstream:    $(grep '^capgate_upstream_calls_total' <<<"$METRICS" | sed 's/capgate_upstream_calls_total//' | tr '\n' ' ')"
echo "in flight:   $(awk '$1=="capgate_requests_in_flight" {print $2}' <<<"$METRICS") (the /metrics request itself)"
echo "samples:     $CSV"
FAIL=0
[ "$ERR" -eq 0 ] || { echo "FAIL: $ERR errors"; FAIL=1; }
[ "$A_FDS" -le $((B_FDS + 2)) ] || { echo "FAIL: fds did not return to the baseline ($B_FDS -> $A_FDS)"; FAIL=1; }
[ "$A_CL" -le "$B_CL" ] && [ "$A_UP" -le "$B_UP" ] || { echo "FAIL: connections left open"; FAIL=1; }
kill -0 "$CG" 2>/dev/null || { echo "FAIL: capgate died"; FAIL=1; }
[ $FAIL -eq 0 ] && echo "PASS"
exit $FAIL
