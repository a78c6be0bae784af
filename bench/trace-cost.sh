#!/usr/bin/env bash
# bench/trace-cost.sh — what tracing costs a REST passthrough call. Not a test: prints a table.
#
#   bench/trace-cost.sh [SECONDS] [CONNECTIONS]
#
# Upstream: nginx (`return 200`, 98-byte JSON, 1 worker). capgate serve --threads 1
# --no-access-log runs tests/e2e/fixtures/surfaces-capability.yaml's REST route GET
# /ships/{imo} three ways: without the control adapter (tracing off: the passthrough path
# as before), with it and traces kept locally only, and with spans also exported over OTLP
# to tests/e2e/fixtures/otlp-collector.js. Load: wrk -t1 -cN on loopback.
set -u
cd "$(dirname "$0")/.." || exit 1
DUR=${1:-5}; CONNS=${2:-32}
. bench/lib.sh
bench_need wrk nginx
BODY='{"imo_number":"IMO-9321483","vessel_name":"Northern Star","flag":"NO","tonnage":42000}'
UP=$(free_port)
nginx_start upstream 1 "server { listen 127.0.0.1:$UP reuseport; location / { default_type application/json; return 200 '$BODY'; } }"
fixture_start "$TMP/otlp.log" otlp-collector.js 0 "$TMP/otlp.jsonl" || exit 1
OT=$FIX_PORT
wait_port "$UP" || exit 1
FIX=tests/e2e/fixtures
SPEC_ALL="$TMP/all.yaml"
sed "s#__DIR__#$PWD/$FIX/surfaces#; s#__OTLP__#http://127.0.0.1:$OT#" "$FIX/surfaces-capability.yaml" >"$SPEC_ALL"
# tracing off: no control adapter; local only: no exporter
awk '/^  - type: control/{skip=1} !skip' "$SPEC_ALL" >"$TMP/off.yaml"
grep -v -e 'exporters:' -e 'otlp:' -e 'endpoint:' "$SPEC_ALL" >"$TMP/local.yaml"
printf '%-22s %10s %8s %8s\n' variant req/s p50_ms p99_ms
for v in off local all; do
  spec="$TMP/$v.yaml"; [ "$v" = all ] && spec=$SPEC_ALL
  CG_NAME=$v cg_start serve --threads 1 --no-access-log --base-uri "http://127.0.0.1:$UP" "$spec" || exit 1
  CG=$CG_PID P=$CG_REST_PORT
  wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$P/ships/IMO-1" >/dev/null 2>&1
  wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "http://127.0.0.1:$P/ships/IMO-1" >"$TMP/$v.wrk" 2>&1
  rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/$v.wrk")
  p50=$(awk '$1=="50%" {print $2}' "$TMP/$v.wrk"); p99=$(awk '$1=="99%" {print $2}' "$TMP/$v.wrk")
  name=$v; [ $v = off ] && name="tracing off"; [ $v = local ] && name="traces, local buffer"
  [ $v = all ] && name="traces + OTLP export"
  printf '%-22s %10s %8s %8s\n' "$name" "$rps" "$p50" "$p99"
  kill "$CG"; wait "$CG" 2>/dev/null
done
echo "spans the collector received: $(grep -o '"spanId"' "$TMP/otlp.jsonl" | wc -l)"
