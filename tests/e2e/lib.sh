# tests/e2e/lib.sh — shared helpers for end-to-end scripts. Source it:
#   . "$(dirname "$0")/lib.sh"
# Each check prints "ok - NAME" or "not ok - NAME" (tests/run-e2e.sh counts them).
# Processes started with start_bg (and cg_start, fixture_start) are killed when the script exits.
#
# The port rule: every server a script starts binds port 0 and announces the port it got in
# its log ("listening on http://127.0.0.1:PORT", "... on PORT"); the script reads it from
# there (cg_start, fixture_start, log_port). A port chosen at random and bound later can be
# taken in between by another test, so free_port is only for a port that must stay dead
# (nothing listens) or for a config file that cannot say 0 (nginx).

set -u
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FIX="$E2E_ROOT/tests/e2e/fixtures"                 # the test servers, specs and files
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
  if json_holds "$2" "$3"; then ok "$1"; else not_ok "$1" "jq: $2" "json: $3"; fi
}

# json_holds FILTER JSON [JQ ARGS...] — true when JSON is not empty and jq -e FILTER holds
# for it (an empty input must fail: jq 1.6's -e exits 0 when it reads nothing).
json_holds() {
  [ -n "${2//[[:space:]]/}" ] && printf '%s' "$2" | jq -e "${@:3}" "$1" >/dev/null 2>&1
}

# free_port — prints a TCP port nobody listens on, random in 10000-31999: below the
# kernel's range for outgoing connections (32768-60999), so no client socket takes it.
# Only for a port that must stay dead, or one a config file names (see the port rule above).
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

# wait_log FILE REGEX [PID] — waits (10 s, longer under valgrind; not past PID's exit) for a
# line of FILE matching the extended REGEX and prints it; returns 1, printing FILE, when none
# came.
wait_log() {
  local i line dead=
  for ((i = 0; i < 200 * E2E_SLOW; i++)); do
    line=$(grep -m1 -E "$2" "$1" 2>/dev/null)
    [ -n "$line" ] && { printf '%s\n' "$line"; return 0; }
    [ -n "$dead" ] && break
    [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null && dead=1   # one more look, then give up
    sleep 0.05
  done
  echo "# nothing matching '$2' in $1:" >&2; cat "$1" >&2
  return 1
}

# log_port FILE REGEX — waits for a line of FILE matching REGEX, whose first parenthesised
# group is a port, and prints the port.
log_port() {
  local line
  line=$(wait_log "$1" "$2") || return 1
  sed -n -E "s|.*$2.*|\1|p" <<<"$line"
}

# cg_start [ENV...] KIND [ARGS...] — the one way to start a capgate server process (serve,
# mcp, studio, mlbackend): every port it opens is the kernel's pick (mcp, studio, mlbackend:
# --port 0; serve: --listen 127.0.0.1:0 --mcp-port 0 --skill-port 0 --control-port 0, which
# only matter for the adapters the spec has), ARGS come after (a later flag wins), and the
# ports are read from the line announcing them. ENV are env(1) words for its environment:
# NAME=VALUE, or -u NAME to remove one. Sets
#   CG_PID           the process (killed when the script exits)
#   CG_LOG, CG_OUT   its stderr (the JSON log) and its stdout
#   CG_PORT, CG_URL  its first port and http://127.0.0.1:CG_PORT
#   serve only:      CG_REST_PORT CG_MCP_PORT CG_SKILL_PORT (the first skill adapter's)
#                    CG_CONTROL_PORT (empty when off)
#   mcp only:        CG_MCP_PORT, and CG_URL ends in /mcp
# Before the call, CG_DIR=DIR runs it in DIR and CG_NAME=NAME names its log
# $E2E_TMP/NAME.log (default: KIND-N.log). Returns 1, after printing the log, when the
# process announces no port (it announces at the info log level: not with CAPGATE_LOG_LEVEL=warn).
CG_STARTS=0
cg_start() {
  local envs=() ports=() kind
  while [ $# -gt 0 ]; do
    case $1 in
      -u) envs+=(-u "$2"); shift 2 ;;
      *=*) envs+=("$1"); shift ;;
      *) break ;;
    esac
  done
  kind=$1; shift
  case $kind in
    serve) ports=(--listen 127.0.0.1:0 --mcp-port 0 --skill-port 0 --control-port 0) ;;
    *) ports=(--port 0) ;;
  esac
  CG_STARTS=$((CG_STARTS + 1))
  local name=${CG_NAME:-$kind-$CG_STARTS}
  CG_LOG="$E2E_TMP/$name.log"; CG_OUT="$E2E_TMP/$name.out"
  (cd "${CG_DIR:-.}" && exec env "${envs[@]}" "$CAPGATE" "$kind" "${ports[@]}" "$@") >"$CG_OUT" 2>"$CG_LOG" &
  CG_PID=$!
  E2E_PIDS+=("$CG_PID")
  CG_REST_PORT= CG_MCP_PORT= CG_SKILL_PORT= CG_CONTROL_PORT=
  # serve names each adapter in one "serving FILE: REST on URL, MCP on URL, ..." line; the
  # other commands say "listening on URL" (either is read, whichever the command writes)
  local line
  line=$(wait_log "$CG_LOG" '"msg":"serving |listening on http://[^:]+:[0-9]+' "$CG_PID") || return 1
  if [[ "$line" == *'"msg":"serving '* ]]; then
    CG_REST_PORT=$(sed -n -E 's|.*REST on http://[^:]+:([0-9]+).*|\1|p' <<<"$line")
    CG_MCP_PORT=$(sed -n -E 's|.*MCP on http://[^:]+:([0-9]+)/mcp.*|\1|p' <<<"$line")
    CG_SKILL_PORT=$(grep -oE 'skill on http://[^:]+:[0-9]+' <<<"$line" | head -1 | grep -oE '[0-9]+$')  # the first
    CG_CONTROL_PORT=$(sed -n -E 's|.*control on http://[^:]+:([0-9]+).*|\1|p' <<<"$line")
    CG_PORT=${CG_REST_PORT:-${CG_MCP_PORT:-${CG_SKILL_PORT:-$CG_CONTROL_PORT}}}
    [ "$kind" = mcp ] && CG_PORT=$CG_MCP_PORT
  else
    CG_PORT=$(sed -n -E 's|.*listening on http://[^:]+:([0-9]+).*|\1|p' <<<"$line")
  fi
  CG_URL="http://127.0.0.1:$CG_PORT"
  [ "$kind" = mcp ] && { CG_MCP_PORT=$CG_PORT; CG_URL="$CG_URL/mcp"; }
  return 0
}

# cg_hup PID LOG — SIGHUP to a capgate serve/mcp process, then waits for its log's verdict
# (reloaded, or not applied) and a moment for the workers to take it (they do it on their
# next loop turn).
cg_hup() {
  local re='SIGHUP: (reloaded|.* not applied)' n i
  n=$(grep -cE "$re" "$2")
  kill -HUP "$1"
  for ((i = 0; i < 100 * E2E_SLOW; i++)); do
    [ "$(grep -cE "$re" "$2")" -gt "$n" ] && break
    sleep 0.05
  done
  sleep 0.3
}

# fixture_start LOG FILE ARGS... — starts the test server tests/e2e/fixtures/FILE under node
# (ARGS give it port 0 in its own syntax) and reads the port from its "... on PORT" or
# "... on http://127.0.0.1:PORT" line. Sets FIX_PID and FIX_PORT; returns 1 when no port
# was announced.
fixture_start() {
  local log=$1 file=$2; shift 2
  start_bg "$log" node "$E2E_ROOT/tests/e2e/fixtures/$file" "$@"
  FIX_PID=$BG_PID
  FIX_PORT=$(wait_log "$log" ' on (http://127\.0\.0\.1:)?[0-9]+' "$FIX_PID") || return 1
  FIX_PORT=$(grep -oE ' on (http://127\.0\.0\.1:)?[0-9]+' <<<"$FIX_PORT" | head -1 | grep -oE '[0-9]+$')
}

# recording_start FILE [ROUTES] — starts the recording test server fixtures/FILE
# (recording-upstream.js, auth-upstream.js): every request it gets is a JSON line in
# REC=$E2E_TMP/record.jsonl, emptied first; ROUTES is its canned-answers file. Sets REC,
# FIX_PID and FIX_PORT; returns 1 when it announces no port.
recording_start() {
  REC="$E2E_TMP/record.jsonl"; : >"$REC"
  fixture_start "$E2E_TMP/upstream.log" "$1" 0 "$REC" "${@:2}"
}
# records — how many requests the recording server has recorded.
records() { wc -l <"$REC" | tr -d ' '; }

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
