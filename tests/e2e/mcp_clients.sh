#!/usr/bin/env bash
# MCP adapter with real MCP clients from the npm registry, unchanged: the official SDK
# client (Streamable HTTP and stdio) calls all 9 tools against capgate in front of the fake
# studio; the conformance suite's server scenarios; inspector-cli lists and calls a tool.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"

mcp_stack --workers 2
MAIN_URL=$MCP_URL; MAIN_PORT=$MCP_PORT
mcp_start --page-size 4
PAGED_URL=$MCP_URL
MCP_URL=$MAIN_URL; MCP_PORT=$MAIN_PORT

# --- the SDK client (its own ok/not ok lines) -------------------------------------------------
timeout 90 node "$E2E_ROOT/tests/e2e/mcp_sdk_client.mjs" http "$MCP_URL" "$STUDIO" "$PAGED_URL" \
  || not_ok "SDK client over Streamable HTTP (exit status)"
timeout 90 node "$E2E_ROOT/tests/e2e/mcp_sdk_client.mjs" stdio "$CAPGATE" "$E2E_ROOT/capabilities/label-studio-ml.yaml" "$STUDIO" \
  || not_ok "SDK client over stdio (exit status)"

# --- conformance 0.1.16 server scenarios ---------------------------------------------------------
CONFORMANCE=(node --import "$E2E_ROOT/tests/e2e/fixtures/node20-globsync.mjs"
             "$E2E_ROOT/node_modules/@modelcontextprotocol/conformance/dist/index.js")
for s in server-initialize ping tools-list dns-rebinding-protection server-sse-multiple-streams logging-set-level; do
  out=$(cd "$E2E_TMP" && timeout 60 "${CONFORMANCE[@]}" server --url "http://localhost:$MCP_PORT/mcp" --scenario "$s" >"$E2E_TMP/conf.out" 2>&1)
  rc=$?  # the suite's own status, not a filter's
  out=$(sed 's/\x1b\[[0-9;]*m//g' "$E2E_TMP/conf.out")
  summary=$(printf '%s\n' "$out" | grep -E '^Passed: ' | tail -1)
  if [ "$rc" -eq 0 ] && [[ "$summary" == *" 0 failed, 0 warnings"* ]]; then
    ok "conformance $s ($summary)"
  else
    not_ok "conformance $s" "exit $rc: $summary" "$(printf '%s\n' "$out" | grep -E 'FAILURE|WARNING' | head -5)"
  fi
done

# --- inspector-cli 1.0.x ---------------------------------------------------------------------------
# (its index.js looks for ../package.json relative to the working directory: run it from tests/)
INSPECTOR=(node "$E2E_ROOT/node_modules/@modelcontextprotocol/inspector-cli/build/index.js")
out=$(cd "$E2E_ROOT/tests" && timeout 60 "${INSPECTOR[@]}" "$MCP_URL" --transport http --method tools/list 2>"$E2E_TMP/insp.err")
check_json "inspector-cli tools/list shows the 9 tools" '.tools|length==9 and (map(.name)|index("get-ml-backend"))' "$out"
http DELETE "$STUDIO/__requests"
out=$(cd "$E2E_ROOT/tests" && timeout 60 "${INSPECTOR[@]}" "$MCP_URL" --transport http --method tools/call \
  --tool-name update-ml-backend --tool-arg id=2 --tool-arg 'body={"title":"via inspector"}' 2>>"$E2E_TMP/insp.err")
check_json "inspector-cli tools/call update-ml-backend returns the updated backend" \
  '.isError != true and .structuredContent.id==2 and .structuredContent.title=="via inspector"' "$out"
http GET "$STUDIO/__requests"
check_json "  ... which reached the upstream as PATCH /api/ml/2 with the body" \
  'length==1 and .[0].method=="PATCH" and .[0].path=="/api/ml/2" and .[0].body.title=="via inspector"' "$HTTP_BODY"
out=$(cd "$E2E_ROOT/tests" && timeout 60 "${INSPECTOR[@]}" "$MCP_URL" --transport http --method logging/setLevel --log-level debug 2>>"$E2E_TMP/insp.err")
check_json "inspector-cli logging/setLevel" '. == {}' "$out"

e2e_done
