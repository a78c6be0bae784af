-- mcp-call-2026.lua — wrk script: every request is one MCP tools/call of get-ml-backend
-- under revision 2026-07-28: no session, the protocol version and client capabilities in
-- _meta, the request metadata headers (MCP-Protocol-Version, Mcp-Method, Mcp-Name).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2026-07-28"
wrk.headers["Mcp-Method"] = "tools/call"
wrk.headers["Mcp-Name"] = "get-ml-backend"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get-ml-backend","arguments":{"id":1},'
  .. '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
