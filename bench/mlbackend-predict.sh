#!/usr/bin/env bash
# mlbackend-predict.sh — /predict throughput of `capgate mlbackend`, in tasks per second,
# for batches of 1 and 100 tasks, with a model trained on demo/sentiment.jsonl.
#
#   bench/mlbackend-predict.sh [SECONDS] [CONNECTIONS]     (defaults 10 and 16)
#
# Starts a fake Label Studio (tests/e2e/fixtures) and the backend on free loopback ports,
# trains once through /webhook START_TRAINING, then runs wrk (2 threads) against
# /predict with each batch. Not part of `make test`. Results: bench/README-mlbackend.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/e2e/lib.sh"
DURATION=${1:-10}
CONNS=${2:-16}
THREADS=$(( CONNS < 2 ? 1 : 2 ))
DATA="$ROOT/demo/sentiment.jsonl"
CFG='<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text" choice="single"><Choice value="Positive"/><Choice value="Negative"/><Choice value="Neutral"/></Choices></View>'

fixture_start "$E2E_TMP/ls.log" fake-studio.mjs --port 0 --data "$DATA" --project 1 --key benchkey
LS_PORT=$FIX_PORT
cg_start mlbackend --model-dir "$E2E_TMP/models"
ML=$CG_URL
jq -nc --arg c "$CFG" --arg h "http://127.0.0.1:$LS_PORT" '{project: "1.1", schema: $c, hostname: $h, access_token: "benchkey"}' |
  curl -sf "$ML/setup" -H 'Content-Type: application/json' -d @- >/dev/null
curl -sf "$ML/webhook" -H 'Content-Type: application/json' -d '{"action": "START_TRAINING", "project": {"id": 1}}' |
  jq -e '.result.model_version == "1"' >/dev/null

echo "capgate mlbackend /predict, wrk -t$THREADS -c$CONNS -d${DURATION}s, $(nproc) cores, $(date -u +%Y-%m-%d)"
for batch in 1 100; do
  body="$E2E_TMP/body-$batch.json"
  # Label Studio sends whole tasks and the label config (parsed on every request);
  # these tasks carry id, data and empty annotation lists.
  jq -sc --argjson n "$batch" --arg c "$CFG" '[limit($n; .[] )] | to_entries | map({id: (.key + 1), data: {text: .value.text},
        annotations: [], predictions: [], drafts: []}) | {tasks: ., project: "1.1", label_config: $c,
        params: {login: null, password: null, context: null}}' "$DATA" > "$body"
  check=$(curl -sf "$ML/predict" -H 'Content-Type: application/json' --data-binary @"$body" |
    jq --argjson n "$batch" '(.results | length == $n) and all(.results[]; .model_version == "1")')
  [ "$check" = true ] || { echo "bad /predict answer for batch $batch" >&2; exit 1; }
  out=$(BODY_FILE="$body" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$ROOT/bench/mlbackend-predict.lua" "$ML/predict")
  rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ {print $2}')
  p50=$(printf '%s\n' "$out" | awk '$1 == "50%" {print $2}')
  p99=$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')
  bad=$(printf '%s\n' "$out" | awk '/^non-200 answers:/ {print $3}')
  tps=$(awk -v r="$rps" -v b="$batch" 'BEGIN {printf "%.0f", r * b}')
  printf 'batch %3d: %10.0f requests/s  %10s tasks/s  p50 %-8s p99 %-8s non-200: %s\n' "$batch" "$rps" "$tps" "$p50" "$p99" "${bad:-?}"
done
