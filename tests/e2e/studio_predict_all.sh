#!/usr/bin/env bash
# studio: predictions for all tasks (POST /api/ml/{id}/predict) — answered at once, predicted
# in the background in batches of batch_size, only tasks lacking a prediction of the current
# model version, progress visible while it runs, and a kill -9 mid-run resumed on restart
# with no task predicted twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/studio_lib.sh"

KEY=predictall0123456789abcdef0123456789abcd
export LABEL_STUDIO_API_KEY=$KEY
DB="$E2E_TMP/studio.db"
start_fake_ml --model-version v1 --delay-ms 40
start_studio "$DB"
sql() { sqlite3 -separator ' ' "$DB" "$1"; }

# tasks_json N PREFIX — a JSON list of N tasks
tasks_json() { seq "$1" | jq -R "{text: (\"$2 \" + .)}" | jq -sc .; }
wait_job() {  # wait_job ML SECONDS — until the latest run is no longer queued/running
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    api GET "/api/ml/$1/predict"
    case "$(printf '%s' "$HTTP_BODY" | jq -r .status)" in queued|running) sleep 0.1 ;; *) return 0 ;; esac
  done
  return 1
}

api POST /api/projects '{"title":"Predict all"}'; P=$(printf '%s' "$HTTP_BODY" | jq .id)
api POST "/api/projects/$P/import" "$(tasks_json 1900 task)"
check "1900 plain tasks imported" 1900 "$(printf '%s' "$HTTP_BODY" | jq .task_count)"
# 100 tasks already predicted by the current version, 100 by an older one
api POST "/api/projects/$P/import" "$(seq 100 | jq -c '{data: {text: ("done " + tostring)}, predictions: [{result: [], model_version: "v1"}]}' | jq -sc .)"
api POST "/api/projects/$P/import" "$(seq 100 | jq -c '{data: {text: ("old " + tostring)}, predictions: [{result: [], model_version: "v0"}]}' | jq -sc .)"
check "tasks in the project" 2100 "$(sql "SELECT count(*) FROM tasks WHERE project=$P")"
api POST /api/ml "{\"url\":\"$ML_URL\",\"project\":$P}"; ML=$(printf '%s' "$HTTP_BODY" | jq .id)

T0=$(date +%s%N)
api POST "/api/ml/$ML/predict?batch_size=50"
T1=$(date +%s%N)
check "predict: 200" 200 "$HTTP_STATUS"
check "predict answers at once (< 1 s)" 1 "$(( (T1 - T0) < 1000000000 ))"
check_json "predict: started, with the run's status" '.detail == "Predictions have successfully started." and (.job.status == "queued" or .job.status == "running") and .job.batch_size == 50 and .job.ml_backend == '"$ML" "$HTTP_BODY"
JOB=$(printf '%s' "$HTTP_BODY" | jq .job.id)

seen_progress=0; slow=0
for _ in $(seq 100); do
  S0=$(date +%s%N); api GET "/api/ml/$ML/predict"; S1=$(date +%s%N)
  [ $(( (S1 - S0) / 1000000 )) -gt 1000 ] && slow=1
  st=$(printf '%s' "$HTTP_BODY" | jq -r '"\(.status) \(.predicted) \(.total)"')
  set -- $st
  if [ "$1" = running ] && [ "$2" -gt 0 ] && [ "$2" -lt "$3" ]; then seen_progress=1; break; fi
  sleep 0.05
done
check "progress is visible while the run goes on" 1 "$seen_progress"
check_json "progress fields" '(keys_unsorted == ["id","ml_backend","project","status","model_version","batch_size","total","predicted","failed","remaining","progress","tasks_per_second","error","created_at","started_at","finished_at"]) and .total == 2000 and .model_version == "v1" and .progress > 0 and .progress < 1' "$HTTP_BODY"
api POST "/api/ml/$ML/predict?batch_size=50"
check "a second POST while running returns the same run" "$JOB" "$(printf '%s' "$HTTP_BODY" | jq .job.id)"
api GET "/api/projects/$P"
check "other requests are served while it runs" 200 "$HTTP_STATUS"
check "status requests stayed fast (< 1 s)" 0 "$slow"

wait_job "$ML" 40
check_json "run completed: 2000 predicted, none failed" '.status == "completed" and .predicted == 2000 and .failed == 0 and .remaining == 0 and .progress == 1 and .error == null and .finished_at != null' "$HTTP_BODY"
check "every task has exactly one v1 prediction" "2100 2100" "$(sql "SELECT count(*), count(DISTINCT task) FROM predictions WHERE project=$P AND model_version='v1'")"
check "predictions are stored against the right task" 0 "$(sql "SELECT count(*) FROM predictions WHERE project=$P AND ml_backend=$ML AND json_extract(result,'\$[0].meta.task_id') <> task")"
check "predictions carry the backend's score" 2000 "$(sql "SELECT count(*) FROM predictions WHERE project=$P AND ml_backend=$ML AND score IS NOT NULL")"
PRED=$(fake_requests /predict)
check "batches of at most batch_size tasks" 50 "$(printf '%s' "$PRED" | jq '[.[].body.tasks | length] | max')"
check "no task sent twice, none already predicted sent" "2000 2000" "$(printf '%s' "$PRED" | jq '[.[].body.tasks[].id] | length, (unique | length)' | paste -sd' ')"
check_json "predict body: tasks, project uid, label_config, params" '.[0].body | (keys_unsorted == ["tasks","project","label_config","params"]) and (.params | keys_unsorted == ["login","password","context"])' "$PRED"

api POST "/api/ml/$ML/predict"
wait_job "$ML" 10
check_json "a second run finds nothing to do" ".status == \"completed\" and .total == 0 and .predicted == 0 and .id != $JOB and .batch_size == 100" "$HTTP_BODY"

fake_control '{"model_version":"v2","delay_ms":0}'
api POST "/api/ml/$ML/predict?batch_size=500"
wait_job "$ML" 20
check_json "a new model version predicts every task again" '.status == "completed" and .model_version == "v2" and .total == 2100 and .predicted == 2100' "$HTTP_BODY"

# A backend that answers one result for many tasks is called task by task.
api POST /api/projects '{"title":"One by one"}'; P2=$(printf '%s' "$HTTP_BODY" | jq .id)
api POST "/api/projects/$P2/import" "$(tasks_json 5 one)"
api POST /api/ml "{\"url\":\"$ML_URL\",\"project\":$P2}"; ML2=$(printf '%s' "$HTTP_BODY" | jq .id)
fake_control '{"one_result":true}'
api POST "/api/ml/$ML2/predict?batch_size=5"; wait_job "$ML2" 10
check_json "one result for a batch: retried task by task" '.status == "completed" and .predicted == 5' "$HTTP_BODY"
check "one-by-one predictions are paired with their tasks" "5 0" "$(sql "SELECT count(*), sum(json_extract(result,'\$[0].meta.task_id') <> task) FROM predictions WHERE project=$P2")"
fake_control '{"one_result":false,"fail_predict":true}'
api POST "/api/projects/$P2/import" "$(tasks_json 3 more)"
api POST "/api/ml/$ML2/predict"; wait_job "$ML2" 15
check_json "a failing backend fails the run with its error" '.status == "failed" and (.error | startswith("500 Server Error"))' "$HTTP_BODY"
fake_control '{"fail_predict":false}'
api POST "/api/ml/$ML2/predict"; wait_job "$ML2" 10
check_json "a new run after the failure picks up the rest" '.status == "completed" and .predicted == 3' "$HTTP_BODY"

# kill -9 mid-run, restart: the run resumes from its last committed batch.
api POST /api/projects '{"title":"Crash"}'; P3=$(printf '%s' "$HTTP_BODY" | jq .id)
api POST "/api/projects/$P3/import" "$(tasks_json 3000 crash)"
api POST /api/ml "{\"url\":\"$ML_URL\",\"project\":$P3}"; ML3=$(printf '%s' "$HTTP_BODY" | jq .id)
fake_control '{"delay_ms":30,"model_version":"v3"}'
api POST "/api/ml/$ML3/predict?batch_size=40"
for _ in $(seq 200); do
  api GET "/api/ml/$ML3/predict"
  [ "$(printf '%s' "$HTTP_BODY" | jq .predicted)" -ge 400 ] && break
  sleep 0.05
done
kill -9 "$ST_PID"; wait "$ST_PID" 2>/dev/null
BEFORE=$(sql "SELECT predicted FROM predict_jobs WHERE ml_backend=$ML3")
check "killed mid-run" 1 "$(( BEFORE > 0 && BEFORE < 3000 ))"
check "what was committed before the kill is there" "$BEFORE" "$(sql "SELECT count(*) FROM predictions WHERE project=$P3")"
start_studio "$DB"
wait_job "$ML3" 40
check_json "after restart the run resumes and completes" '.status == "completed" and .total == 3000 and .predicted == 3000 and .failed == 0' "$HTTP_BODY"
check "no task predicted twice across the crash" "3000 3000" "$(sql "SELECT count(*), count(DISTINCT task) FROM predictions WHERE project=$P3")"
check_contains "the restart logged the resume" "resuming predict job" "$(cat "$ST_LOG")"

e2e_done
