#!/usr/bin/env bash
# bench/steps.sh — what output shaping and orchestration cost per call, against the
# passthrough, in the same run: capgate serve --threads 1 on bench/steps-capability.yaml in
# front of nginx (`return 200` with a small JSON body), wrk -t1 -cN on loopback.
#   /pass       `$.`: the upstream body byte for byte (no parse)
#   /shaped     a typed object from three JSONPath mappings
#   /two-steps  two upstream calls in sequence, then two mappings (2 upstream round trips)
#
#   bench/steps.sh [SECONDS] [CONNECTIONS]
set -u
cd "$(dirname "$0")/.." || exit 1
DUR=${1:-5}; CONNS=${2:-32}
. bench/lib.sh
bench_need wrk nginx
UP=$(free_port)
nginx_start upstream 1 "server { listen 127.0.0.1:$UP reuseport;
    default_type application/json;
    location /ship { return 200 '{\"imo_number\":\"IMO-1\",\"vessel_name\":\"Aurora\",\"gross_tonnage\":38000,\"flag_code\":\"NO\",\"internal\":\"x\"}'; }
    location /crew { return 200 '{\"captain\":\"Ines Duarte\",\"size\":12}'; } }"
wait_port "$UP" || exit 1
cg_start serve --threads 1 --no-access-log --base-uri "http://127.0.0.1:$UP" bench/steps-capability.yaml || exit 1
CG=$CG_PORT
for p in pass shaped two-steps; do curl -fs "http://127.0.0.1:$CG/$p" >/dev/null || { echo "/$p fails" >&2; cat "$CG_LOG" >&2; exit 1; }; done
run() { wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "http://127.0.0.1:$CG/$1" 2>&1; }
rps() { awk '/Requests\/sec/ {print $2}'; }
p50() { awk '$1=="50%" {print $2}'; }
printf '%-11s %10s %9s %10s %12s\n' path "req/s" "x pass" "p50" "us/call"
declare -A R
for p in pass shaped two-steps; do
  out=$(run "$p"); R[$p]=$(printf '%s\n' "$out" | rps)
  awk -v p="/$p" -v r="${R[$p]}" -v base="${R[pass]}" -v l="$(printf '%s\n' "$out" | p50)" \
    'BEGIN { printf "%-11s %10.0f %9.2f %10s %12.1f\n", p, r, r / base, l, 1000000 / r }'
done
echo "# $(date -u +%FT%TZ), wrk -t1 -c$CONNS -d${DUR}s, capgate --threads 1, nginx upstream 1 worker, $(nproc) cores shared"
