#!/usr/bin/env bash
# MCP resources and prompts through real processes: capgate mcp serving
# fixtures/catalog/capability.yaml (static directory and file resources, a dynamic resource,
# a resource template, inline and file prompts) in front of a recording upstream. The wire
# with curl (capabilities, error codes of malformed reads and gets), then the official SDK
# client over Streamable HTTP and over stdio (tests/e2e/mcp_resources_client.mjs).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"

if ! mcp_need_node_modules; then not_ok "npm ci (the pinned MCP test tools)"; e2e_done; exit; fi

# A copy of the fixture to run in (file:///./ is relative to the working directory), with a
# symbolic link that leaves the notes directory and a file that is not UTF-8.
WORK="$E2E_TMP/catalog"
cp -r "$MCP_FIXTURES/catalog" "$WORK"
ln -s ../capability.yaml "$WORK/notes/escape"
printf '\xff\xfe\x00\x41' >"$WORK/notes/raw.bin"

cat >"$E2E_TMP/routes.json" <<'EOF'
[{"path": "/ships/404", "status": 404, "body": "{\"detail\":\"no such ship\"}"},
 {"path": "/ships/500", "status": 500, "body": "{\"detail\":\"boom\"}"},
 {"method": "GET", "path": "/ships/9*", "status": 200, "body": "{\"imo\":\"9\",\"name\":\"Aurora\"}"},
 {"method": "GET", "path": "/ships", "status": 200, "body": "[{\"imo\":\"1\",\"name\":\"Borealis\"}]"}]
EOF
fixture_start "$E2E_TMP/upstream.log" recording-upstream.js 0 "$E2E_TMP/record.jsonl" "$E2E_TMP/routes.json" ||
  { not_ok "recording upstream starts"; e2e_done; exit; }
UPSTREAM="http://127.0.0.1:$FIX_PORT"

CG_DIR=$WORK cg_start mcp --upstream "$UPSTREAM" capability.yaml
MCP_PORT=$CG_PORT MCP_URL=$CG_URL

# --- the wire --------------------------------------------------------------------------------
SID=
mcp_post '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}'
check_json "initialize: resources and prompts declared, server named after the namespace" \
  '.result.capabilities.resources=={"subscribe":false,"listChanged":false} and .result.capabilities.prompts=={"listChanged":false} and .result.serverInfo.name=="catalog-mcp" and .result.serverInfo.title=="Ship Catalog"' "$HTTP_BODY"
SID=$(header Mcp-Session-Id)
mcp_post '{"jsonrpc":"2.0","method":"notifications/initialized"}'
rpc() { mcp_post "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"$1\"${2:+,\"params\":$2}}"; }
rpc resources/read
check_json "resources/read without params: -32602 missing params" '.error.code==-32602 and .error.message=="Invalid params: missing params"' "$HTTP_BODY"
rpc resources/read '{}'
check_json "resources/read without uri: -32602 uri is required" '.error.code==-32602 and .error.message=="Invalid params: uri is required"' "$HTTP_BODY"
rpc resources/read '{"uri":42}'
check_json "resources/read with a number as uri: -32602" '.error.code==-32602' "$HTTP_BODY"
rpc resources/read '{"uri":"notes://ships/%2e%2e/capability.yaml"}'
check_json "resources/read with an encoded ..: -32602, nothing read" '.error.code==-32602 and (.error.message|test("Invalid path"))' "$HTTP_BODY"
rpc resources/read '{"uri":"notes://ships/data.json"}'
check_json "resources/read of a JSON file: its bytes as text, application/json" \
  '.result.contents==[{"uri":"notes://ships/data.json","mimeType":"application/json","text":"{\"ships\": 3, \"port\": \"Rotterdam\"}\n"}]' "$HTTP_BODY"
rpc prompts/list
check_json "prompts/list: an argument's title only where the spec labels it" \
  '.result.prompts[0].arguments[0].title=="Ship name" and (.result.prompts[0].arguments[1]|has("title")|not) and (.result.prompts[1].arguments[0]|has("title")|not)' "$HTTP_BODY"
rpc prompts/get
check_json "prompts/get without params: -32602 missing params" '.error.code==-32602 and .error.message=="Invalid params: missing params"' "$HTTP_BODY"
rpc prompts/get '{}'
check_json "prompts/get without name: -32602 name is required" '.error.code==-32602 and .error.message=="Invalid params: name is required"' "$HTTP_BODY"
rpc prompts/get '{"name":"inspect-ship","arguments":["x"]}'
check_json "prompts/get with arguments not an object: -32602" '.error.code==-32602' "$HTTP_BODY"
rpc prompts/get '{"name":"inspect-ship","arguments":{"ship_name":{"a":1}}}'
check_json "prompts/get with an object as a value: -32602 naming it" '.error.code==-32602 and (.error.message|test("ship_name"))' "$HTTP_BODY"
rpc prompts/get '{"name":"inspect-ship","arguments":{"ship_name":"Aurora","focus":null}}'
check_json "prompts/get: null is no value (the placeholder stays)" '.result.messages[0].content.text=="Plan an inspection of Aurora, starting with {{focus}}."' "$HTTP_BODY"
[ -z "$(grep -c . "$E2E_TMP/record.jsonl" 2>/dev/null | grep -v '^0$')" ] && ok "nothing reached the upstream for static reads and prompts" \
  || not_ok "nothing reached the upstream for static reads and prompts" "$(cat "$E2E_TMP/record.jsonl")"

# --- the SDK client, Streamable HTTP and stdio -----------------------------------------------------
timeout 60 node "$E2E_ROOT/tests/e2e/mcp_resources_client.mjs" http "$MCP_URL" "$E2E_TMP/record.jsonl" \
  || not_ok "SDK client over Streamable HTTP (exit status)"
timeout 60 node "$E2E_ROOT/tests/e2e/mcp_resources_client.mjs" stdio "$CAPGATE" "$WORK" "$UPSTREAM" "$E2E_TMP/record.jsonl" \
  || not_ok "SDK client over stdio (exit status)"

# --- after the clients: the directory is walked at each list; big files are refused ---------------
head -c 1048577 /dev/zero | tr '\0' 'a' >"$WORK/notes/big.txt"
rpc resources/list
check_json "a file added to the directory is listed at the next resources/list" \
  '[.result.resources[].uri] | index("notes://ships/big.txt") != null' "$HTTP_BODY"
rpc resources/read '{"uri":"notes://ships/big.txt"}'
check_json "a file over 1 MiB is refused (-32603), not sent" '.error.code==-32603 and (.error.message|test("larger than 1048576 bytes"))' "$HTTP_BODY"
rm "$WORK/notes/big.txt"
kill -0 "${E2E_PIDS[1]}" 2>/dev/null && ok "capgate is still running" || not_ok "capgate is still running"

e2e_done
