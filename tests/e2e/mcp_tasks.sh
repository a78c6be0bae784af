#!/usr/bin/env bash
# MCP tasks (2025-11-25, experimental): capgate does not declare the `tasks` capability, so
# a tools/call that carries `task` is processed normally, ignoring it, as the spec requires
# of a receiver that did not declare it; tasks/* are unknown methods (-32601). Raw HTTP,
# stdio, then what the SDK 1.32.2 client's experimental task API does with that
# (mcp_tasks_client.mjs). docs/mcp.md says why.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"

if ! mcp_need_node_modules; then not_ok "npm ci (the pinned MCP test tools)"; e2e_done; exit; fi
mcp_start_studio
export LABEL_STUDIO_API_KEY=e2e-configured-key
mcp_start

mcp_init
check_json "initialize declares no tasks capability" '.result.capabilities | has("tasks") | not' "$HTTP_BODY"
mcp_post '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
check_json "no tool declares execution.taskSupport" '[.result.tools[] | select(.execution.taskSupport)] | length == 0' "$HTTP_BODY"
curl -s -X DELETE "$STUDIO/__requests" >/dev/null
mcp_post '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"train","arguments":{"id":1},"task":{"ttl":60000}}}'
check_json "tools/call with task: the normal CallToolResult, no task" \
  '.id==3 and .result.structuredContent.job_id=="train-1" and (.result | has("task") | not)' "$HTTP_BODY"
check_json "... the upstream was called once" '[.[] | select(.path=="/api/ml/1/train")] | length==1' "$(curl -s "$STUDIO/__requests")"
for m in tasks/get tasks/result tasks/list tasks/cancel; do
  mcp_post "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"$m\",\"params\":{\"taskId\":\"t1\"}}"
  check_json "$m: -32601 Method not found" '.error.code==-32601' "$HTTP_BODY"
done

IN='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"train","arguments":{"id":1},"task":{}}}
{"jsonrpc":"2.0","id":3,"method":"tasks/get","params":{"taskId":"t1"}}'
OUT=$(printf '%s\n' "$IN" | timeout 20 "$CAPGATE" mcp --stdio --upstream "$STUDIO" 2>/dev/null)
check_json "stdio: tools/call with task is processed normally" '.result.structuredContent.job_id=="train-1"' "$(printf '%s\n' "$OUT" | jq -c 'select(.id==2)')"
check_json "stdio: tasks/get is -32601" '.error.code==-32601' "$(printf '%s\n' "$OUT" | jq -c 'select(.id==3)')"

timeout 60 node "$E2E_ROOT/tests/e2e/mcp_tasks_client.mjs" "$MCP_URL" "$STUDIO" || not_ok "SDK tasks (exit status)"
e2e_done
