#!/usr/bin/env bash
# studio: concurrent clients, and kill -9 in the middle of a write burst — every write that
# was acknowledged (201) is there after the restart; the database is WAL and intact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/studio_lib.sh"

KEY=durable0123456789abcdef0123456789abcdef0
export LABEL_STUDIO_API_KEY=$KEY
DB="$E2E_TMP/data/studio.db"          # the directory does not exist yet: studio creates it
start_fake_ml
start_studio "$DB"
check "database created with its directory" 1 "$([ -f "$DB" ] && echo 1)"
check "journal mode is WAL" wal "$(sqlite3 "$DB" 'PRAGMA journal_mode')"

api POST /api/projects '{"title":"Durable"}'; P=$(printf '%s' "$HTTP_BODY" | jq .id)
api POST "/api/projects/$P/import" "$(seq 16 | jq -R '{text: .}' | jq -sc .)"
TASKS=$(curl -s "$ST/api/projects/$P/tasks" -H "Authorization: Token $KEY" | jq -r '.[].id')
api POST /api/ml "{\"url\":\"$ML_URL\",\"project\":$P}"; ML=$(printf '%s' "$HTTP_BODY" | jq .id)

# 16 clients at once, each writing 20 annotations on its own task, while 8 more read.
writer() {  # writer TASK COUNT OUTFILE — records the id of every acknowledged annotation
  local i code
  for ((i = 0; i < $2; i++)); do
    code=$(curl -s -o "$3.body" -w '%{http_code}' -X POST "$ST/api/tasks/$1/annotations" \
      -H "Authorization: Token $KEY" -H 'Content-Type: application/json' \
      -d "{\"result\":[{\"value\":{\"choices\":[\"$i\"]},\"from_name\":\"s\",\"to_name\":\"t\",\"type\":\"choices\"}]}")
    if [ "$code" = 201 ]; then jq .id "$3.body" >>"$3"; else echo "$code" >>"$3.errors"; return; fi
  done
}
reader() {  # reader COUNT OUTFILE — GETs, recording non-200 statuses
  local i code
  for ((i = 0; i < $1; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$ST/api/ml/$ML" -H "Authorization: Token $KEY")
    [ "$code" = 200 ] || echo "$code" >>"$2"
  done
}
pids=()
for t in $TASKS; do writer "$t" 20 "$E2E_TMP/acked.$t" & pids+=($!); done
for r in $(seq 8); do reader 20 "$E2E_TMP/readerr.$r" & pids+=($!); done
wait "${pids[@]}"
check "320 concurrent writes all acknowledged" 320 "$(cat "$E2E_TMP"/acked.* | wc -l)"
check "no errors on writes" 0 "$(cat "$E2E_TMP"/acked.*.errors 2>/dev/null | wc -l)"
check "160 concurrent reads (each calling the backend) all 200" 0 "$(cat "$E2E_TMP"/readerr.* 2>/dev/null | wc -l)"
api GET "/api/projects/$P"
check_json "counters agree" '.total_annotations_number == 320 and .num_tasks_with_annotations == 16' "$HTTP_BODY"

# kill -9 during a burst of writes; every acknowledged write survives.
rm -f "$E2E_TMP"/acked.*
pids=()
rm -f "$E2E_TMP"/acked.*.errors
for t in $TASKS; do writer "$t" 100000 "$E2E_TMP/acked.$t" & pids+=($!); done
sleep 1.5
kill -9 "$ST_PID"
wait "${pids[@]}" 2>/dev/null
wait "$ST_PID" 2>/dev/null
ACKED=$(cat "$E2E_TMP"/acked.* | wc -l)
echo "# $ACKED writes acknowledged before kill -9"
check "writes were acknowledged before the kill" 1 "$(( ACKED > 0 ))"
check "the kill cut the burst short (writers saw failures)" 16 "$(cat "$E2E_TMP"/acked.*.errors | wc -l)"
start_studio "$DB"
check "database integrity after kill -9" ok "$(sqlite3 "$DB" 'PRAGMA integrity_check')"
missing=0
for t in $TASKS; do
  have=$(curl -s "$ST/api/tasks/$t/annotations" -H "Authorization: Token $KEY" | jq -r '.[].id' | sort)
  lost=$(comm -23 <(sort "$E2E_TMP/acked.$t") <(printf '%s\n' "$have") | wc -l)
  missing=$((missing + lost))
done
check "every acknowledged annotation ($ACKED) is there after the restart" 0 "$missing"
api GET "/api/ml/$ML"
check_json "backends survive too" ".id == $ML and .state == \"CO\"" "$HTTP_BODY"

# SIGTERM stops cleanly.
kill -TERM "$ST_PID"
wait "$ST_PID"; rc=$?
check "SIGTERM: exit status 0" 0 "$rc"
check_contains "SIGTERM: logged the stop" '"msg":"stopped"' "$(cat "$ST_LOG")"

# Bad flags get a clear error.
out=$("$CAPGATE" studio --port 99999 2>&1); rc=$?
check "bad port: exit 2 with a message" "2 1" "$rc $(printf '%s' "$out" | grep -c "capgate studio: --port: expected an integer 0..65535, got '99999'")"
out=$("$CAPGATE" studio --public-url ftp://x 2>&1); rc=$?
check "bad public URL: exit 2" 2 "$rc"
out=$("$CAPGATE" studio --help); rc=$?
check "--help: exit 0 with usage" "0 1" "$rc $(printf '%s' "$out" | grep -c '^usage: capgate studio')"
start_studio "$DB"
"$CAPGATE" studio --port "$ST_PORT" --db "$E2E_TMP/other.db" >/dev/null 2>"$E2E_TMP/busy.err"; rc=$?
check "port in use: exit 1 with a message" "1 1" "$rc $(grep -c 'cannot listen' "$E2E_TMP/busy.err")"

e2e_done
