# tests/e2e/lib.sh — shared helpers for end-to-end scripts. Source it:
#   . "$(dirname "$0")/lib.sh"
# Each check prints "ok - NAME" or "not ok - NAME" (tests/run-e2e.sh counts them).
# Processes started with start_bg are killed when the script exits. Ports are picked
# free at random so scripts never collide with each other or with a running stack.

set -u
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CAPGATE="${CAPGATE_BIN:-$E2E_ROOT/build/capgate}"   # make test-asan/test-valgrind point it elsewhere
# Under valgrind everything runs ~20x slower: scripts stretch their time bounds by this.
E2E_SLOW=1; [[ "$CAPGATE" == */valgrind/* ]] && E2E_SLOW=4
E2E_TMP=$(mktemp -d)
E2E_FAILS=0
E2E_PIDS=()

e2e_cleanup() {
  for p in "${E2E_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for p in "${E2E_PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null; done
  rm -rf "$E2E_TMP"
}
trap e2e_cleanup EXIT

ok()     { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; [ $# -gt 1 ] && printf '#   %s\n' "${@:2}"; E2E_FAILS=$((E2E_FAILS + 1)); }

# check NAME EXPECTED ACTUAL
check() {
  if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "actual:   $3"; fi
}
# check_contains NAME NEEDLE HAYSTACK
check_contains() {
  if [[ "$3" == *"$2"* ]]; then ok "$1"; else not_ok "$1" "expected to contain: $2" "actual: $3"; fi
}
# check_json NAME JQ_FILTER JSON — passes when jq -e FILTER is true for JSON
check_json() {
  if printf '%s' "$3" | jq -e "$2" >/dev/null 2>&1; then ok "$1"; else not_ok "$1" "jq: $2" "json: $3"; fi
}

# free_port — prints a TCP port nobody listens on, random in 10000-31999: below the
# kernel's range for outgoing connections (32768-60999), so no client socket takes it.
free_port() {
  local p
  while :; do
    p=$((10000 + RANDOM % 22000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# wait_port PORT [SECONDS] — waits until something accepts on 127.0.0.1:PORT.
wait_port() {
  local i
  for ((i = 0; i < ${2:-10} * 20; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "# nothing listens on port $1" >&2
  return 1
}

# start_bg LOGFILE CMD... — starts CMD in the background, remembers its pid in $BG_PID.
start_bg() {
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  BG_PID=$!
  E2E_PIDS+=("$BG_PID")
}

# http METHOD URL [curl args...] — prints "STATUS\nBODY"; headers go to $E2E_TMP/headers.
http() {
  local m=$1 u=$2; shift 2
  curl -s -o "$E2E_TMP/body" -D "$E2E_TMP/headers" -w '%{http_code}' -X "$m" "$u" "$@" >"$E2E_TMP/status"
  HTTP_STATUS=$(cat "$E2E_TMP/status")
  HTTP_BODY=$(cat "$E2E_TMP/body")
  HTTP_HEADERS=$(tr -d '\r' <"$E2E_TMP/headers")
}
# header NAME — the value of a response header from the last http call.
header() { printf '%s\n' "$HTTP_HEADERS" | grep -i "^$1:" | head -1 | sed 's/^[^:]*: *//'; }

# e2e_done — exit status for the script.
e2e_done() { [ "$E2E_FAILS" -eq 0 ]; }
