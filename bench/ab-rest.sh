#!/usr/bin/env bash
# bench/ab-rest.sh — A/B of two capgate binaries on the REST passthrough (the shipped spec's
# `$.` outputs), interleaved in one run so machine noise hits both alike: same nginx upstream
# (`return 200`, 98-byte JSON), `capgate serve --threads 1 --no-access-log`, wrk -t1 -c64.
# Besides req/s it reports capgate's CPU time per request (utime+stime from /proc over the
# run / requests served), which a busy machine disturbs far less than throughput.
#
#   bench/ab-rest.sh BINARY_A BINARY_B [SECONDS] [ROUNDS]     (defaults 3 s, 4 rounds)
set -u
cd "$(dirname "$0")/.." || exit 1
A=$1; B=$2; DUR=${3:-3}; ROUNDS=${4:-4}
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; sleep 0.3; rm -rf "$TMP"; }
trap cleanup EXIT
. tests/e2e/lib.sh >/dev/null 2>&1; trap cleanup EXIT
. bench/lib.sh
UP=$(free_port)
BODY='{"id":1,"url":"http://ml:9090","title":"default","state":"CO","project":3,"is_interactive":false}'
d="$TMP/nginx"; mkdir -p "$d"; chmod 777 "$TMP" "$d"
cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  client_body_temp_path $d/body; proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
  server { listen 127.0.0.1:$UP reuseport backlog=1024;
    location / { default_type application/json; return 200 '$BODY'; } } }
CONF
nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;' 2>"$d/stderr" &
PIDS+=($!)
wait_port "$UP" || exit 1
rps() { # BINARY
  local port; port=$(free_port)
  LABEL_STUDIO_URL="http://127.0.0.1:$UP" LABEL_STUDIO_API_KEY=k "$1" serve --listen "127.0.0.1:$port" \
    --threads 1 --no-access-log --no-mcp 2>"$TMP/cg.log" >/dev/null &
  local pid=$!
  wait_port "$port" 5 || { cat "$TMP/cg.log"; exit 1; }
  wrk -t1 -c64 -d1s "http://127.0.0.1:$port/v1/api/ml/1" >/dev/null 2>&1
  local t0 t1 out
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  out=$(wrk -t1 -c64 -d"${DUR}s" "http://127.0.0.1:$port/v1/api/ml/1" 2>&1)
  t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  awk -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" '
    /requests in/ {n = $1} /Requests\/sec/ {r = $2}
    END { printf "%s %.2f\n", r, (t1 - t0) / hz * 1e6 / n }' <<<"$out"
  kill "$pid"; wait "$pid" 2>/dev/null
}
sa=0; sb=0; ca=0; cb=0
for r in $(seq "$ROUNDS"); do
  read -r a ua <<<"$(rps "$A")"; read -r b ub <<<"$(rps "$B")"
  echo "round $r: A $a req/s ($ua us CPU/req)  B $b req/s ($ub us CPU/req)"
  sa=$(awk -v s="$sa" -v x="$a" 'BEGIN{print s+x}'); sb=$(awk -v s="$sb" -v x="$b" 'BEGIN{print s+x}')
  ca=$(awk -v s="$ca" -v x="$ua" 'BEGIN{print s+x}'); cb=$(awk -v s="$cb" -v x="$ub" 'BEGIN{print s+x}')
done
awk -v a="$sa" -v b="$sb" -v ca="$ca" -v cb="$cb" -v n="$ROUNDS" 'BEGIN {
  printf "mean: A %.0f  B %.0f req/s, B/A %.3f; CPU per request A %.2f  B %.2f us, B/A %.3f\n",
    a/n, b/n, b/a, ca/n, cb/n, cb/ca }'
