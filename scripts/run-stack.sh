#!/usr/bin/env bash
# make run: the whole stack on its embedded defaults, on 127.0.0.1 —
#   capgate studio     :8000  Label Studio-compatible API on data/studio.db
#   capgate mlbackend  :9091  the reference ML backend (models in data/mlbackend)
#   capgate serve      :8080  REST adapter (+ the console at /console/), :9090 MCP adapter (/mcp)
# It prints the URLs, including the two pages: the console and studio's page at /.
# A new database gets the demo project (scripts/seed-demo.sh). The API key comes from
# LABEL_STUDIO_API_KEY, or is generated once and kept in data/api-key. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
CAPGATE=build/capgate
mkdir -p data
if [ -z "${LABEL_STUDIO_API_KEY:-}" ]; then
  [ -s data/api-key ] || { od -An -N20 -tx1 /dev/urandom | tr -d ' \n' >data/api-key; chmod 600 data/api-key; }
  LABEL_STUDIO_API_KEY=$(cat data/api-key)
fi
export LABEL_STUDIO_API_KEY

for port in 8000 8080 9090 9091; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "make run: port $port is already in use on 127.0.0.1; stop what listens there first" >&2
    exit 1
  fi
done

pids=()
stop_all() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] || return 0
  echo; echo "make run: stopping"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

wait_port() {
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "make run: nothing came up on port $1 (see data/$2.log)" >&2; exit 1
}

new_db=0; [ -f data/studio.db ] || new_db=1
"$CAPGATE" studio --db data/studio.db >>data/studio.log 2>&1 & pids+=($!)
# The backend trains from what studio's /setup tells it, not from this environment.
env -u LABEL_STUDIO_URL -u LABEL_STUDIO_API_KEY \
  "$CAPGATE" mlbackend --model-dir data/mlbackend >>data/mlbackend.log 2>&1 & pids+=($!)
wait_port 8000 studio; wait_port 9091 mlbackend
if [ "$new_db" = 1 ]; then
  echo "make run: new database: creating the demo project..."
  project=$(scripts/seed-demo.sh http://127.0.0.1:8000 "$LABEL_STUDIO_API_KEY" http://127.0.0.1:9091)
else
  project=$(curl -s -H "Authorization: Token $LABEL_STUDIO_API_KEY" http://127.0.0.1:8000/api/projects |
            jq '(.results // .)[0].id // 1')
fi
"$CAPGATE" serve >>data/serve.log 2>&1 & pids+=($!)
wait_port 8080 serve; wait_port 9090 serve
ml_id=$(curl -s -H "Authorization: Token $LABEL_STUDIO_API_KEY" "http://127.0.0.1:8080/v1/api/ml?project=$project" | jq '.[0].id // 1')

cat <<MSG

capgate is running (logs in data/*.log; Ctrl-C stops everything):
  console http://127.0.0.1:8080/console/      (capgate's console: routes, tools, live calls)
  page    http://127.0.0.1:8000/              (studio's page: projects, backends, prediction runs;
                                               it asks for the API key below)
  REST    http://127.0.0.1:8080/v1/api/ml     (OpenAPI: /v1/openapi.json, metrics: /metrics)
  MCP     http://127.0.0.1:9090/mcp           (Streamable HTTP)
  studio  http://127.0.0.1:8000               (Label Studio-compatible, demo project $project)
  ML      http://127.0.0.1:9091               (reference ML backend, backend id $ml_id)
  API key $LABEL_STUDIO_API_KEY   (also in data/api-key; capgate sends it upstream for you)

Try:
  curl -s 'http://127.0.0.1:8080/v1/api/ml?project=$project' | jq
  curl -s -X POST http://127.0.0.1:8080/v1/api/ml/$ml_id/train
  curl -s -X POST 'http://127.0.0.1:8080/v1/api/ml/$ml_id/predict?batch_size=100' | jq
  curl -s http://127.0.0.1:8080/v1/api/ml/$ml_id/versions | jq
  MCP clients (Claude Desktop, inspector-cli, the SDK): see docs/mcp.md
MSG
wait -n "${pids[@]}" || true
echo "make run: a process exited; see data/*.log" >&2
