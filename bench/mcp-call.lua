-- mcp-call.lua — wrk script: every request is one MCP tools/call of get-ml-backend over
-- Streamable HTTP in the session named by $MCP_SESSION (JSON response expected).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Mcp-Session-Id"] = os.getenv("MCP_SESSION")
wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":1}}}'
