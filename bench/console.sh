#!/usr/bin/env bash
# bench/console.sh — does an open console slow the gateway? Not a test; prints a table.
#
#   bench/console.sh [SECONDS] [ROUNDS]
#
# nginx (`return 200`, 98-byte JSON, 1 worker) is the upstream; `capgate serve --threads 2
# --no-access-log` in front of it; wrk -t2 -c64 loads GET /v1/api/ml/1 as hard as it can.
# Each round measures the same load three ways, one after the other:
#   none     no console open;
#   stream   what an open console does on the network: the SSE feed
#            (/console/api/stream, read by curl) plus /console/api/stats every 2 s;
#   chromium the real page in headless Chromium (tests/e2e/fixtures/browser.mjs), which
#            also takes CPU from the 2-core machine for rendering the feed.
# Reports requests/s per round and the median ratio to "none".
set -u
cd "$(dirname "$0")/.." || exit 1
DUR=${1:-10}; ROUNDS=${2:-3}
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; sleep 0.3; rm -rf "$TMP"; }
trap cleanup EXIT
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || ss -Htan "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "needs wrk and nginx" >&2; exit 1; }

UP=$(free_port); CG=$(free_port)
BODY='{"id":1,"url":"http://ml:9090","title":"default","state":"CO","project":3,"is_interactive":false}'
mkdir -p "$TMP/ngx"; chmod 777 "$TMP" "$TMP/ngx"
cat >"$TMP/ngx/nginx.conf" <<CONF
worker_processes 1;
pid $TMP/ngx/nginx.pid;
error_log $TMP/ngx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 1000000;
  client_body_temp_path $TMP/ngx/body; proxy_temp_path $TMP/ngx/proxy;
  fastcgi_temp_path $TMP/ngx/fcgi; uwsgi_temp_path $TMP/ngx/uwsgi; scgi_temp_path $TMP/ngx/scgi;
  server { listen 127.0.0.1:$UP reuseport backlog=1024;
    location / { default_type application/json; return 200 '$BODY'; } }
}
CONF
nginx -p "$TMP/ngx" -c "$TMP/ngx/nginx.conf" -g 'daemon off;' 2>"$TMP/ngx/stderr" &
PIDS+=($!)
LABEL_STUDIO_API_KEY=bench build/capgate serve --listen "127.0.0.1:$CG" --threads 2 --no-access-log \
  --no-mcp --base-uri "http://127.0.0.1:$UP" 2>"$TMP/serve.log" &
PIDS+=($!)
wait_port "$UP" && wait_port "$CG" || { cat "$TMP/serve.log" "$TMP/ngx/stderr"; exit 1; }
URL="http://127.0.0.1:$CG/v1/api/ml/1"
CONSOLE="http://127.0.0.1:$CG/console"

load() {  # -> requests/s
  wrk -t2 -c64 -d"${DUR}s" "$URL" >"$TMP/wrk" 2>&1
  if grep -q 'Non-2xx\|Socket errors' "$TMP/wrk"; then echo "# errors: $(grep -E 'Non-2xx|Socket' "$TMP/wrk")" >&2; fi
  awk '/Requests\/sec/ {print $2}' "$TMP/wrk"
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
printf '%-6s %12s %12s %12s %8s %8s\n' round none stream chromium stream/none chromium/none
ratios_s=(); ratios_c=()
for r in $(seq "$ROUNDS"); do
  a=$(load); s=$(with_stream); c=$(with_chromium)
  rs=$(awk -v x="$s" -v y="$a" 'BEGIN{printf "%.3f", x/y}'); rc=$(awk -v x="$c" -v y="$a" 'BEGIN{printf "%.3f", x/y}')
  ratios_s+=("$rs"); ratios_c+=("$rc")
  printf '%-6s %12s %12s %12s %8s %8s\n' "$r" "$a" "$s" "$c" "$rs" "$rc"
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "median stream/none: $(med "${ratios_s[@]}")   median chromium/none: $(med "${ratios_c[@]}")"
