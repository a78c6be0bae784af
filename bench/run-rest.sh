#!/usr/bin/env bash
# bench/run-rest.sh — capgate REST passthrough vs nginx proxy_pass vs direct, same upstream,
# same run. Not a test: prints a table (and writes it to $OUT, default bench/results-rest.txt).
#
#   bench/run-rest.sh [SECONDS] [CONNECTIONS]
#
# Upstream: nginx (`return 200` with a 98-byte JSON body, 1 worker). Proxies: nginx with an
# upstream keepalive pool of 64, 1 and 2 workers (xNginx compares threads with workers).
# capgate runs with its own HTTP/1.1 client (the default) and with libcurl (-curl). capgate: `capgate serve --threads 1` (and 2),
# access log on and off. Load: wrk -t1 -cN, on loopback, sharing the machine's cores.
# Reports requests/s, ratios to nginx and direct, p50/p99 latency (and what the proxy hop
# adds over direct), and capgate's RSS idle and at the peak under load.
set -u
cd "$(dirname "$0")/.." || exit 1
DUR=${1:-5}; CONNS=${2:-64}
OUT=${OUT:-bench/results-rest.txt}
. bench/lib.sh
bench_need wrk nginx

UP=$(free_port); PX=$(free_port)
PROXY_BLOCK() { # PORT
  echo "upstream ls { server 127.0.0.1:$UP; keepalive 64; }
  server { listen 127.0.0.1:$1 reuseport backlog=1024;
    location /v1/ { proxy_pass http://ls/; proxy_http_version 1.1;
      proxy_set_header Connection \"\"; proxy_set_header Authorization \"Token k\"; } }"
}
PX2=$(free_port)
nginx_start upstream 1 "server { listen 127.0.0.1:$UP reuseport backlog=1024;
    location / { default_type application/json; return 200 '$BENCH_JSON'; } }"
UP_PID=$BG_PID
nginx_start proxy1 1 "$(PROXY_BLOCK "$PX")"
PX_PID=$BG_PID
nginx_start proxy2 2 "$(PROXY_BLOCK "$PX2")"
PX2_PID=$BG_PID
wait_port "$UP" && wait_port "$PX" && wait_port "$PX2" || { cat "$TMP"/*/stderr "$TMP"/*/error.log; exit 1; }

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# CPU time (utime + stime, clock ticks) used so far by the given processes
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
# run NAME URL PID... -> "rps p50_ms p99_ms errors cpu_us": cpu_us is the CPU time the PIDs
# (the server measured) spent per request, which machine load disturbs far less than req/s
run() {
  local name=$1 url=$2 t0 t1; shift 2
  wrk -t1 -c"$CONNS" -d1s "$url" >/dev/null 2>&1   # warm-up
  t0=$(ticks "$@")
  wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$url" >"$TMP/$name.wrk" 2>&1
  t1=$(ticks "$@")
  local rps p50 p99 errs n
  rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/$name.wrk")
  p50=$(awk '$1=="50%" {print $2}' "$TMP/$name.wrk")
  p99=$(awk '$1=="99%" {print $2}' "$TMP/$name.wrk")
  errs=$(awk '/Non-2xx/ {print $5}' "$TMP/$name.wrk")
  n=$(awk '/ requests in / {print $1}' "$TMP/$name.wrk")
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${errs:-0} $(awk -v dt=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN {printf "%.2f", dt * 1e6 / hz / n}')"
}
workers() { pgrep -P "$1" | tr '\n' ' '; }   # an nginx master's worker processes

start_capgate() { # THREADS EXTRA_ARGS...
  cg_start LABEL_STUDIO_URL="http://127.0.0.1:$UP" LABEL_STUDIO_API_KEY=k serve --threads "$1" "${@:2}" || exit 1
  CGPID=$CG_PID CGURL="$CG_URL/v1/api/ml/1"
}

declare -A R
# each run's CPU is that of the nginx master's workers
R[direct]=$(run direct "http://127.0.0.1:$UP/api/ml/1" $(workers "$UP_PID"))
R[nginx-w1]=$(run nginx-w1 "http://127.0.0.1:$PX/v1/api/ml/1" $(workers "$PX_PID"))
R[nginx-w2]=$(run nginx-w2 "http://127.0.0.1:$PX2/v1/api/ml/1" $(workers "$PX2_PID"))
for cfg in "1 --no-access-log" "2 --no-access-log" "1" "2" \
           "1 --no-access-log --upstream-client curl" "2 --no-access-log --upstream-client curl"; do
  set -- $cfg
  start_capgate "$@"
  sleep 0.3
  idle=$(rss_kb "$CGPID")
  name="capgate-t$1$([ $# -gt 1 ] && echo -nolog)$([ $# -gt 2 ] && echo -curl)"
  R[$name]=$(run "$name" "$CGURL" "$CGPID")
  R[$name]="${R[$name]} $idle $(hwm_kb "$CGPID")"
  kill "$CGPID"; wait "$CGPID" 2>/dev/null
done

{
  echo "# $(date -u +%FT%TZ) $(nproc) cores, wrk -t1 -c$CONNS -d${DUR}s, upstream nginx return 200 (1 worker)"
  read -r d_rps d_p50 d_p99 _ <<<"${R[direct]}"
  read -r n1_rps _ _ _ n1_cpu <<<"${R[nginx-w1]}"
  read -r n2_rps _ _ _ n2_cpu <<<"${R[nginx-w2]}"
  # cpuUs: the measured server's CPU µs per request (direct: the upstream's own);
  # cpuXNginx: nginx's CPU per request over this one's (> 1: cheaper than nginx)
  printf '%-22s %10s %8s %8s %9s %9s %9s %9s %8s %8s %6s %9s\n' setup req/s xNginx xDirect p50ms p99ms +p50ms +p99ms rssIdleKB rssPeakKB cpuUs cpuXNginx
  for k in direct nginx-w1 nginx-w2 capgate-t1-nolog capgate-t2-nolog capgate-t1 capgate-t2 \
           capgate-t1-nolog-curl capgate-t2-nolog-curl; do
    read -r rps p50 p99 errs cpu idle peak <<<"${R[$k]}"
    # compare like with like: one capgate thread with one nginx worker, two with two
    case $k in *t1*|*w1) n_rps=$n1_rps; n_cpu=$n1_cpu ;; *) n_rps=$n2_rps; n_cpu=$n2_cpu ;; esac
    awk -v k="$k" -v r="$rps" -v n="$n_rps" -v d="$d_rps" -v p50="$p50" -v p99="$p99" \
        -v dp50="$d_p50" -v dp99="$d_p99" -v idle="${idle:--}" -v peak="${peak:--}" -v e="$errs" \
        -v cpu="$cpu" -v ncpu="$n_cpu" \
      'BEGIN { printf "%-22s %10.0f %8.2f %8.2f %9.3f %9.3f %9.3f %9.3f %8s %8s %6.2f %9s%s\n", k, r, r/n, r/d, p50, p99, p50-dp50, p99-dp99, idle, peak, cpu, (k == "direct" ? "-" : sprintf("%.2f", ncpu/cpu)), (e>0 ? "  non-2xx:" e : "") }'
  done
} | tee "$OUT"
