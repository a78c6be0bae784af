#!/usr/bin/env bash
# bench/console.sh — does an open console slow the gateway? Not a test; prints a table.
#
#   bench/console.sh [SECONDS] [ROUNDS]
#
# nginx (`return 200`, 98-byte JSON, 1 worker) is the upstream; `capgate serve --threads 2
# --no-access-log` in front of it; wrk -t2 -c64 loads GET /v1/api/ml/1 as hard as it can.
# Each round measures the same load three ways, one after the other (the order rotates from
# round to round):
#   none     no console open;
#   stream   what an open console does on the network: the SSE feed
#            (/console/api/stream, read by curl) plus /console/api/stats every 2 s;
#   chromium the real page in headless Chromium (tests/e2e/fixtures/browser.mjs), which
#            also takes CPU from the 2-core machine for rendering the feed.
# First bench/feed_cost.c (built here against build/libcapgate.a) prints what recording one
# call into the feed costs a worker and what one stream tick costs, free of the machine's
# noise. Then it reports requests/s per round and capgate's CPU time per request (user + system, from
# /proc: steadier than throughput on a shared machine), and the median ratios to "none".
set -u
cd "$(dirname "$0")/.." || exit 1
DUR=${1:-10}; ROUNDS=${2:-3}
. bench/lib.sh
bench_need wrk nginx

cc -O2 -std=c11 -D_GNU_SOURCE -pthread -Isrc -o "$TMP/feed_cost" bench/feed_cost.c build/libcapgate.a \
  $(pkg-config --libs libmicrohttpd libcurl yaml-0.1 jansson sqlite3 libcrypto libxml-2.0 2>/dev/null) -lm 2>"$TMP/cc.err" &&
  "$TMP/feed_cost" || { echo "# feed_cost did not build:"; head -5 "$TMP/cc.err"; }

json_upstream
cg_start LABEL_STUDIO_API_KEY=bench serve --threads 2 --no-access-log --no-mcp --base-uri "http://127.0.0.1:$UP" ||
  exit 1
CG=$CG_PORT
URL="http://127.0.0.1:$CG/v1/api/ml/1"
CONSOLE="http://127.0.0.1:$CG/console"

load() {  # -> "requests/s cpu_us_per_request"
  local c0 c1 n
  c0=$(cpu_ticks "$CG_PID")
  wrk -t2 -c64 -d"${DUR}s" "$URL" >"$TMP/wrk" 2>&1
  c1=$(cpu_ticks "$CG_PID")
  if grep -q 'Non-2xx\|Socket errors' "$TMP/wrk"; then echo "# errors: $(grep -E 'Non-2xx|Socket' "$TMP/wrk")" >&2; fi
  n=$(awk '/requests in/ {print $1}' "$TMP/wrk")
  echo "$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk") $(awk -v c=$((c1 - c0)) -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", c * 1e6 / hz / n}')"
}

with_stream() {
  curl -sN "$CONSOLE/api/stream" >"$TMP/sse" 2>/dev/null & local sp=$!
  ( while :; do curl -s "$CONSOLE/api/stats" >/dev/null; sleep 2; done ) & local pp=$!
  sleep 0.5
  load
  kill "$sp" "$pp" 2>/dev/null; wait "$sp" "$pp" 2>/dev/null
  echo "# stream: $(grep -c '^data: ' "$TMP/sse") events, $(grep -c '^event: skipped' "$TMP/sse") skipped notices" >&2
}

with_chromium() {
  node --input-type=module -e "
    import { openBrowser, sleep } from './tests/e2e/fixtures/browser.mjs';
    const b = await openBrowser();
    await b.page.goto('$CONSOLE/');
    await b.page.waitForFunction(() => document.getElementById('feed-state').textContent === 'live');
    console.log('open');
    await sleep(($DUR + 2) * 1000);
    const rows = await b.page.\$\$eval('#feed tbody tr', (r) => r.length);
    console.error('# chromium: ' + rows + ' rows in the feed, errors: ' + b.errors.length);
    await b.close();
  " >"$TMP/chromium.out" &
  local bp=$!
  for _ in $(seq 100); do grep -q open "$TMP/chromium.out" && break; sleep 0.1; done
  load
  wait "$bp"
}

wrk -t2 -c64 -d2s "$URL" >/dev/null 2>&1   # warm-up
printf '%-6s %22s %22s %22s %8s %8s %8s %8s\n' round "none req/s (cpu us/req)" "stream" "chromium" \
  "s/n rps" "c/n rps" "s/n cpu" "c/n cpu"
rs=(); rc=(); cs=(); cc=()
ratio() { awk -v x="$1" -v y="$2" 'BEGIN{printf "%.3f", x/y}'; }
for r in $(seq "$ROUNDS"); do
  case $((r % 3)) in
    1) a=$(load); s=$(with_stream); c=$(with_chromium) ;;
    2) s=$(with_stream); c=$(with_chromium); a=$(load) ;;
    0) c=$(with_chromium); a=$(load); s=$(with_stream) ;;
  esac
  set -- $a $s $c
  rs+=("$(ratio "$3" "$1")"); rc+=("$(ratio "$5" "$1")"); cs+=("$(ratio "$4" "$2")"); cc+=("$(ratio "$6" "$2")")
  printf '%-6s %22s %22s %22s %8s %8s %8s %8s\n' "$r" "$1 ($2)" "$3 ($4)" "$5 ($6)" "${rs[-1]}" "${rc[-1]}" "${cs[-1]}" "${cc[-1]}"
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "median throughput ratio: stream/none $(med "${rs[@]}"), chromium/none $(med "${rc[@]}")"
echo "median CPU-per-request ratio: stream/none $(med "${cs[@]}"), chromium/none $(med "${cc[@]}")"
