#!/usr/bin/env bash
# bench/studio-predict-all.sh — predictions for all tasks on a large project through studio.
#
#   bench/studio-predict-all.sh [TASKS] [BATCH_SIZE]      (default 100000 tasks, batch 100)
#   BACKEND=fake bench/studio-predict-all.sh ...          (studio's own overhead only)
#
# Starts the reference ML backend (`capgate mlbackend`, a real naive Bayes model: untrained
# here, so it scores every task with the real feature code and a uniform prior) — or, with
# BACKEND=fake, tests/e2e/fixtures/fake_ml_backend.js (one canned result per task) — and
# `capgate studio` on loopback ports of their own (port 0) with a fresh database, imports TASKS
# tasks, adds the backend, POSTs /api/ml/{id}/predict?batch_size=BATCH and polls the run's
# progress until it completes. Prints: import time, time to answer the POST, total run time,
# tasks per second, the slowest progress request during the run, studio's peak RSS, and the
# number of stored predictions. Needs build/capgate, node, curl, jq, sqlite3.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TASKS=${1:-100000}
BATCH=${2:-100}
cd "$ROOT"
. bench/lib.sh
ms() { echo $(( $(date +%s%N) / 1000000 )); }

KEY=bench0123456789abcdef0123456789abcdef012
if [ "${BACKEND:-reference}" = fake ]; then
  fixture_start "$TMP/ml.log" fake_ml_backend.js --port 0 --model-version bench-v1
  ML_PORT=$FIX_PORT
else
  cg_start -u LABEL_STUDIO_URL -u LABEL_STUDIO_API_KEY mlbackend --model-dir "$TMP/models"
  ML_PORT=$CG_PORT
fi
cg_start LABEL_STUDIO_API_KEY=$KEY studio --db "$TMP/studio.db"
ST_PORT=$CG_PORT ST_PID=$CG_PID
ST="http://127.0.0.1:$ST_PORT"; AUTH="Authorization: Token $KEY"; J='Content-Type: application/json'

P=$(curl -sf -X POST "$ST/api/projects" -H "$AUTH" -H "$J" -d '{"title":"bench","label_config":"<View><Text name=\"text\" value=\"$text\"/><Choices name=\"sentiment\" toName=\"text\"><Choice value=\"Positive\"/><Choice value=\"Negative\"/></Choices></View>"}' | jq .id)
seq "$TASKS" | jq -R '{text: ("review number " + . + ": the product arrived on time and works as described")}' | jq -sc . >"$TMP/tasks.json"
t0=$(ms)
curl -sf -X POST "$ST/api/projects/$P/import" -H "$AUTH" -H "$J" --data-binary "@$TMP/tasks.json" >/dev/null
t1=$(ms)
ML=$(curl -sf -X POST "$ST/api/ml" -H "$AUTH" -H "$J" -d "{\"url\":\"http://127.0.0.1:$ML_PORT\",\"project\":$P}" | jq .id)

t2=$(ms)
curl -sf -X POST "$ST/api/ml/$ML/predict?batch_size=$BATCH" -H "$AUTH" >/dev/null
t3=$(ms)
worst=0; status=queued
while [ "$status" = queued ] || [ "$status" = running ]; do
  s0=$(ms)
  body=$(curl -sf "$ST/api/ml/$ML/predict" -H "$AUTH")
  s1=$(ms)
  [ $((s1 - s0)) -gt "$worst" ] && worst=$((s1 - s0))
  status=$(printf '%s' "$body" | jq -r .status)
  sleep 0.2
done
t4=$(ms)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$ST_PID/status")
stored=$(sqlite3 "$TMP/studio.db" "SELECT count(*) FROM predictions WHERE project=$P")
job_ms=$(( $(date -d "$(printf '%s' "$body" | jq -r .finished_at)" +%s%3N) - $(date -d "$(printf '%s' "$body" | jq -r .created_at)" +%s%3N) ))
echo "tasks:                 $TASKS (batch_size $BATCH)"
echo "final status:          $(printf '%s' "$body" | jq -c '{status, total, predicted, failed, tasks_per_second}')"
echo "import (one request):  $((t1 - t0)) ms"
echo "POST predict answered: $((t3 - t2)) ms"
echo "run (job created to finished): $job_ms ms"
echo "tasks per second:      $(( TASKS * 1000 / (job_ms > 0 ? job_ms : 1) ))"
echo "POST to done seen by a client polling every 0.2 s: $((t4 - t2)) ms"
echo "slowest progress GET:  ${worst} ms"
echo "studio peak RSS:       $((rss / 1024)) MiB"
echo "predictions stored:    $stored"
[ "$status" = completed ] && [ "$stored" = "$TASKS" ]
