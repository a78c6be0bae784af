# bench/lib.sh — what the benchmark scripts share. Source it from the project root:
#   cd "$(dirname "$0")/.." && . bench/lib.sh
#
# It sources tests/e2e/lib.sh, so the benchmarks start capgate as the tests do (cg_start:
# every port the kernel's pick, read back from the log; CAPGATE=BINARY cg_start ... for
# another binary) and every process started with start_bg, cg_start or nginx_start is
# killed when the script exits. TMP is the run's temporary directory (removed on exit).
# nginx cannot announce a port it picked, so its ports come from free_port (below).

. tests/e2e/lib.sh
TMP=$E2E_TMP

# The upstream's answer in the REST benchmarks: 98 bytes of Label Studio ML-backend JSON.
BENCH_JSON='{"id":1,"url":"http://ml:9090","title":"default","state":"CO","project":3,"is_interactive":false}'

# free_port — a TCP port below the kernel's ephemeral range (32768+), not in use and not left
# in TIME_WAIT by an earlier run: wrk's many connections would otherwise take the ports
# picked for the servers. (Replaces tests/e2e/lib.sh's free_port.)
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || ss -Htan "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}

# bench_need TOOL... — exits 2, naming them, when any of the tools is not installed.
bench_need() {
  local t missing=()
  for t in "$@"; do command -v "$t" >/dev/null || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] || { echo "needs ${missing[*]}" >&2; exit 2; }
}

# nginx_start NAME WORKERS HTTP_BLOCK — one nginx (WORKERS processes, access log off,
# unlimited keep-alive requests) whose http {} block holds HTTP_BLOCK, in $TMP/NAME. One
# instance per role, so an upstream never shares a worker with the proxy in front of it.
nginx_start() {
  local d="$TMP/$1"; mkdir -p "$d"; chmod 777 "$TMP" "$d"
  cat >"$d/nginx.conf" <<CONF
worker_processes $2;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $d/body; proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
  $3
}
CONF
  start_bg "$d/stderr" nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;'
}

# json_upstream [HTTP_DIRECTIVES] — the benchmarks' upstream: nginx, one worker, answering
# every path with 200 and $BENCH_JSON, on port $UP (set here). Exits 2 when it does not start.
json_upstream() {
  UP=$(free_port)
  nginx_start upstream 1 "${1:-}
  server { listen 127.0.0.1:$UP reuseport backlog=4096;
    location / { default_type application/json; return 200 '$BENCH_JSON'; } }"
  wait_port "$UP" || { cat "$TMP/upstream/stderr" "$TMP/upstream/error.log" 2>/dev/null; exit 2; }
}

# cpu_ticks PID — user + system clock ticks the process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# mcp_session URL [CLIENT_NAME] — initialize + notifications/initialized; prints the session id.
mcp_session() {
  local sid
  sid=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' "$1" --data-binary \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"${2:-bench}\",\"version\":\"1\"}}}" |
    tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *//p')
  [ -n "$sid" ] || return 1
  curl -s -o /dev/null -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H "Mcp-Session-Id: $sid" "$1" --data-binary '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  echo "$sid"
}

# to_ms VALUE — a wrk latency (850.00us, 1.20ms, 2.01s) in milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v+0 } else { sub(/s$/,"",v); print v*1000 } }'; }
