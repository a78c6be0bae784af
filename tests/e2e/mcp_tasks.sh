#!/usr/bin/env bash
# MCP tasks (2025-11-25, experimental): a session that negotiated 2025-11-25 may run any
# tool call as a task — answered at once with a CreateTaskResult, then tasks/get,
# tasks/result (blocks until the task ends), tasks/list and tasks/cancel (aborts the
# upstream call). Older sessions do not have the capability: `task` is ignored there and
# tasks/* are -32601, as the spec requires. Raw HTTP, then the SDK 1.32.2 client's
# experimental task API over HTTP and stdio (mcp_tasks_client.mjs). The fake studio answers
# id 3000 after 3 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"

mcp_stack --workers 2

rpc() { mcp_post "{\"jsonrpc\":\"2.0\",\"id\":$1,\"method\":\"$2\",\"params\":$3}"; }
# init_keep [VERSION] — mcp_init, keeping initialize's answer in INIT_BODY (mcp_init's last
# request is notifications/initialized, whose answer is empty)
init_keep() {
  SID=
  mcp_post "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"${1:-2025-11-25}\",\"capabilities\":{},\"clientInfo\":{\"name\":\"e2e\",\"version\":\"1\"}}}"
  INIT_BODY=$HTTP_BODY
  SID=$(header Mcp-Session-Id)
  mcp_post '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
}

init_keep
check_json "initialize (2025-11-25) declares tasks: list, cancel, tools/call" \
  '.result.capabilities.tasks == {"list":{},"cancel":{},"requests":{"tools":{"call":{}}}}' "$INIT_BODY"
rpc 2 tools/list '{}'
check_json "every tool: execution.taskSupport optional" '[.result.tools[] | .execution.taskSupport == "optional"] | all' "$HTTP_BODY"

curl -s -X DELETE "$STUDIO/__requests" >/dev/null
t0=$(date +%s.%N)
rpc 3 tools/call '{"name":"train","arguments":{"id":3000},"task":{"ttl":60000}}'
t1=$(date +%s.%N)
check_json "tools/call with task: a CreateTaskResult (working, ttl, pollInterval, createdAt)" \
  '.id==3 and .result.task.status=="working" and .result.task.ttl==60000 and .result.task.pollInterval==1000 and (.result.task.createdAt|test("^[0-9-]+T[0-9:]+Z$")) and (.result.task.taskId|test("^[0-9a-f]{32}$"))' "$HTTP_BODY"
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 1) }' && ok "... at once (< 1 s, the upstream takes 3 s)" || not_ok "... at once" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s"
TASK=$(printf '%s' "$HTTP_BODY" | jq -r .result.task.taskId)
rpc 4 tasks/get "{\"taskId\":\"$TASK\"}"
check_json "tasks/get: working" ".result.taskId==\"$TASK\" and .result.status==\"working\"" "$HTTP_BODY"
rpc 5 tasks/list '{}'
check_json "tasks/list: the task" "[.result.tasks[] | select(.taskId==\"$TASK\")] | length==1" "$HTTP_BODY"
OLD_SID=$SID; mcp_init; OTHER=$SID; SID=$OLD_SID
SID=$OTHER rpc 6 tasks/get "{\"taskId\":\"$TASK\"}"
check_json "another session cannot see it (-32602)" '.error.code==-32602' "$HTTP_BODY"
SID=$OTHER rpc 6 tasks/list '{}'
check_json "... nor list it" '.result.tasks==[]' "$HTTP_BODY"
rpc 7 tasks/result "{\"taskId\":\"$TASK\"}"
t2=$(date +%s.%N)
check_json "tasks/result blocks until the task ends, then the tool's result with the related-task _meta" \
  ".id==7 and .result.structuredContent.job_id==\"train-3000\" and .result._meta[\"io.modelcontextprotocol/related-task\"].taskId==\"$TASK\"" "$HTTP_BODY"
awk -v a="$t0" -v b="$t2" 'BEGIN { exit !(b - a >= 2.9) }' && ok "... (it waited for the upstream)" || not_ok "... it waited" "$(awk -v a="$t0" -v b="$t2" 'BEGIN { print b - a }') s"
rpc 8 tasks/get "{\"taskId\":\"$TASK\"}"
check_json "tasks/get: completed" '.result.status=="completed"' "$HTTP_BODY"
rpc 9 tasks/cancel "{\"taskId\":\"$TASK\"}"
check_json "tasks/cancel of a completed task: -32602" '.error.code==-32602' "$HTTP_BODY"
check_json "the upstream got the call once" '[.[] | select(.path=="/api/ml/3000/train")] | length==1' "$(curl -s "$STUDIO/__requests")"

# cancel a working task: the upstream request is aborted, tasks/result says cancelled
curl -s -X DELETE "$STUDIO/__requests" >/dev/null
rpc 10 tools/call '{"name":"get-ml-backend","arguments":{"id":3000},"task":{}}'
TASK2=$(printf '%s' "$HTTP_BODY" | jq -r .result.task.taskId)
check_json "a task without ttl gets the default (600000 ms)" '.result.task.ttl==600000' "$HTTP_BODY"
sleep 0.3
rpc 11 tasks/cancel "{\"taskId\":\"$TASK2\"}"
check_json "tasks/cancel: cancelled, with a statusMessage" '.result.status=="cancelled" and (.result.statusMessage|length>0)' "$HTTP_BODY"
sleep 0.5
check_json "... and its upstream request was aborted" '[.[] | select(.path=="/api/ml/3000")] | length==1 and .[0].aborted==true' "$(curl -s "$STUDIO/__requests")"
rpc 12 tasks/result "{\"taskId\":\"$TASK2\"}"
check_json "tasks/result of a cancelled task: an error" '.id==12 and .error.code==-32603' "$HTTP_BODY"

# bad input
rpc 13 tools/call '{"name":"train","arguments":{"id":1},"task":{"ttl":-5}}'
check_json "a negative ttl: -32602" '.error.code==-32602' "$HTTP_BODY"
rpc 14 tools/call '{"name":"train","arguments":{"id":1},"task":"soon"}'
check_json "a task that is not an object: -32602" '.error.code==-32602' "$HTTP_BODY"
rpc 15 tasks/get '{}'
check_json "tasks/get without taskId: -32602" '.error.code==-32602' "$HTTP_BODY"
rpc 16 tasks/frobnicate '{}'
check_json "tasks/frobnicate: -32601" '.error.code==-32601' "$HTTP_BODY"

# DELETE drops the session's tasks
rpc 17 tools/call '{"name":"train","arguments":{"id":1},"task":{}}'
TASK3=$(printf '%s' "$HTTP_BODY" | jq -r .result.task.taskId)
http DELETE "$MCP_URL" -H "Mcp-Session-Id: $SID"
mcp_init
rpc 18 tasks/get "{\"taskId\":\"$TASK3\"}"
check_json "a new session does not see the old one's tasks" '.error.code==-32602' "$HTTP_BODY"

# an older revision: no capability, task ignored, tasks/* unknown
init_keep 2025-06-18
check_json "initialize (2025-06-18): no tasks capability" '.result.capabilities | has("tasks") | not' "$INIT_BODY"
rpc 19 tools/call '{"name":"train","arguments":{"id":1},"task":{"ttl":1000}}'
check_json "2025-06-18: tools/call with task is processed normally" '.result.structuredContent.job_id=="train-1" and (.result|has("task")|not)' "$HTTP_BODY"
rpc 20 tasks/get '{"taskId":"x"}'
check_json "2025-06-18: tasks/get is -32601" '.error.code==-32601' "$HTTP_BODY"

timeout 60 node "$E2E_ROOT/tests/e2e/mcp_tasks_client.mjs" http "$MCP_URL" "$STUDIO" || not_ok "SDK tasks over HTTP (exit status)"
timeout 60 node "$E2E_ROOT/tests/e2e/mcp_tasks_client.mjs" stdio "$CAPGATE" "$STUDIO" || not_ok "SDK tasks over stdio (exit status)"
e2e_done
