#!/usr/bin/env bash
# bench/shape.sh — the cost of output shaping per call: one `capgate serve --threads 1`, one
# upstream (nginx `return 200` with a 430-byte ship JSON), and in the same run the same
# upstream answer through three routes of bench/shape-capability.yaml:
#   /raw     `$.` passthrough (the body byte for byte, never parsed)
#   /shaped  an object of 7 mapped fields, 2 of them in a nested object (parse, 7 JSONPath
#            evaluations, build, serialize)
#   /list    an array of 10 such ships, each element shaped (4 fields)
#   /mock    mock mode, no upstream at all
# Not a test: prints req/s, p50/p99 and the extra microseconds per call against /raw (one
# worker thread, saturated: 1e6/rps is the thread's time per request), and capgate's CPU time
# per request (utime+stime over the run / requests), which a busy machine disturbs less.
#
#   bench/shape.sh [SECONDS] [CONNECTIONS]     (defaults 5 s, 32)
set -u
cd "$(dirname "$0")/.." || exit 1
DUR=${1:-5}; CONNS=${2:-32}
. bench/lib.sh
bench_need wrk nginx
SHIP='{"imo_number":"IMO-9321483","vessel_name":"Northern Star","vessel_type":"cargo","flag_code":"NO","operational_status":"active","year_built":2015,"gross_tonnage":42000,"dimensions":{"length_overall":229,"beam":32},"owner":{"name":"Nordic Shipping","country":"NO"},"internal_notes":"inspection due 2027-01","crew":[{"id":"CREW-001"},{"id":"CREW-003"}]}'
LIST="[$(for i in 1 2 3 4 5 6 7 8 9 10; do printf '%s%s' "$([ $i -gt 1 ] && echo ,)" "$SHIP"; done)]"
UP=$(free_port)
nginx_start upstream 1 "server { listen 127.0.0.1:$UP reuseport backlog=1024; default_type application/json;
    location /ship { return 200 '$SHIP'; }
    location /ships { return 200 '$LIST'; } }"
wait_port "$UP" || { cat "$TMP/upstream/stderr"; exit 1; }
cg_start serve --threads 1 --no-access-log --no-mcp --base-uri "http://127.0.0.1:$UP" bench/shape-capability.yaml ||
  exit 1
PORT=$CG_PORT CGPID=$CG_PID
run() { # NAME PATH -> "rps p50 p99 cpu_us_per_request non2xx"
  wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$PORT$2" >/dev/null 2>&1
  local t0 t1
  t0=$(cpu_ticks "$CGPID")
  wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "http://127.0.0.1:$PORT$2" >"$TMP/$1.wrk" 2>&1
  t1=$(cpu_ticks "$CGPID")
  echo "$(awk '/Requests\/sec/ {print $2}' "$TMP/$1.wrk") $(to_ms "$(awk '$1=="50%" {print $2}' "$TMP/$1.wrk")") \
$(to_ms "$(awk '$1=="99%" {print $2}' "$TMP/$1.wrk")") \
$(awk -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" '/requests in/ {printf "%.2f", (t1 - t0) / hz * 1e6 / $1}' "$TMP/$1.wrk") \
$(awk '/Non-2xx/ {print $5}' "$TMP/$1.wrk")"
}
curl -sf "http://127.0.0.1:$PORT/shaped" >/dev/null || { echo "shaped route failed" >&2; cat "$CG_LOG"; exit 1; }
declare -A R
for round in 1 2; do   # interleaved twice: a busy neighbour hits every route alike
  for k in raw shaped list mock; do R[$k.$round]=$(run "$k$round" "/$k"); done
done
echo "# $(date -u +%FT%TZ) $(nproc) cores, wrk -t1 -c$CONNS -d${DUR}s x2 rounds, capgate serve --threads 1, upstream nginx"
printf '%-8s %10s %8s %8s %12s %10s %12s\n' route req/s p50ms p99ms us/call+raw cpuUs/req cpuUs+raw
for k in raw shaped list mock; do
  read -r a1 p50 p99 c1 e1 <<<"${R[$k.1]}"; read -r a2 _ _ c2 e2 <<<"${R[$k.2]}"
  read -r r1 _ _ rc1 _ <<<"${R[raw.1]}"; read -r r2 _ _ rc2 _ <<<"${R[raw.2]}"
  awk -v k="$k" -v a="$(awk -v x="$a1" -v y="$a2" 'BEGIN{print (x+y)/2}')" \
      -v r="$(awk -v x="$r1" -v y="$r2" 'BEGIN{print (x+y)/2}')" -v p50="$p50" -v p99="$p99" \
      -v c="$(awk -v x="$c1" -v y="$c2" 'BEGIN{print (x+y)/2}')" \
      -v rc="$(awk -v x="$rc1" -v y="$rc2" 'BEGIN{print (x+y)/2}')" -v e="${e1:-0}${e2:-}" \
    'BEGIN { printf "%-8s %10.0f %8.3f %8.3f %12.1f %10.2f %12.2f%s\n", k, a, p50, p99, 1e6/a - 1e6/r, c, c - rc, (e != "0" ? "  non-2xx:" e : "") }'
done
