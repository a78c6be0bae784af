#!/usr/bin/env bash
# bench/instructions.sh — user-space instructions per request (callgrind) of the same call
# through REST, MCP in a 2025-11-25 session and MCP stateless under 2026-07-28, in one run.
#
#   bench/instructions.sh [SECONDS]        (default 4; wrk -t1 -c4 against each target)
#
# Instruction counts do not move with the machine's load the way times do, so this is the
# measure to compare two builds with on a shared machine (CAPGATE=BINARY for another build).
# Each target runs in its own `capgate serve --threads 1` under valgrind --tool=callgrind;
# the counters are zeroed after start-up and one MCP session, dumped after the load, and
# divided by the requests wrk completed. The upstream is the benchmarks' nginx (lib.sh).
# Prints one line per target and the ratios to REST; the figures go in bench/README-mcp.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_need wrk nginx valgrind callgrind_annotate
DUR=${1:-4}
BIN=${CAPGATE:-build/capgate}
[ -x "$BIN" ] || { echo "build capgate first (make)" >&2; exit 2; }
json_upstream

# count TARGET — starts capgate under callgrind, loads TARGET, prints "requests instructions"
count() {
  local target=$1 out="$TMP/callgrind.$1" wrap="$TMP/callgrind-capgate"
  printf '#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s "%s" "$@"\n' \
    "$out" "$(realpath "$BIN")" >"$wrap"
  chmod +x "$wrap"
  E2E_SLOW=20 CAPGATE=$wrap cg_start LABEL_STUDIO_API_KEY=bench serve --threads 1 \
    --base-uri "http://127.0.0.1:$UP" --no-access-log
  local pid=$CG_PID mcp="http://127.0.0.1:$CG_MCP_PORT/mcp" args
  case $target in
    rest) args=(-H 'Authorization: Token bench' "http://127.0.0.1:$CG_REST_PORT/v1/api/ml/1") ;;
    mcp) args=(-s bench/mcp-call.lua "$mcp"); MCP_SESSION=$(mcp_session "$mcp"); export MCP_SESSION ;;
    mcp_2026) args=(-s bench/mcp-call-2026.lua "$mcp") ;;
  esac
  callgrind_control -z "$pid" >/dev/null 2>&1
  wrk -t1 -c4 -d"${DUR}s" "${args[@]}" >"$TMP/wrk.$target"
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  if grep -q -E 'Non-2xx|Socket errors' "$TMP/wrk.$target"; then
    echo "$target: errors during the run:" >&2; cat "$TMP/wrk.$target" >&2; exit 1
  fi
  local n ir
  n=$(awk '/ requests in / {print $1}' "$TMP/wrk.$target")
  ir=$(callgrind_annotate "$out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
  echo "$n $ir"
}

echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null), wrk -t1 -c4 -d${DUR}s under callgrind"
declare -A PER
for target in rest mcp mcp_2026; do
  read -r n ir <<<"$(count "$target")"
  PER[$target]=$((ir / n))
  printf '%-9s %8d requests  %7d instructions per request\n' "$target" "$n" "${PER[$target]}"
done
awk -v r="${PER[rest]}" -v m="${PER[mcp]}" -v s="${PER[mcp_2026]}" 'BEGIN {
  printf "MCP / REST instructions: %.2fx   MCP 2026-07-28 / REST: %.2fx\n", m / r, s / r }'
