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
. bench/lib.sh
bench_need wrk nginx
json_upstream
rps() { # BINARY
  CAPGATE=$1 cg_start LABEL_STUDIO_URL="http://127.0.0.1:$UP" LABEL_STUDIO_API_KEY=k serve \
    --threads 1 --no-access-log --no-mcp || exit 1
  local pid=$CG_PID url="$CG_URL/v1/api/ml/1"
  wrk -t1 -c64 -d1s "$url" >/dev/null 2>&1
  local t0 t1 out
  t0=$(cpu_ticks "$pid")
  out=$(wrk -t1 -c64 -d"${DUR}s" "$url" 2>&1)
  t1=$(cpu_ticks "$pid")
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
