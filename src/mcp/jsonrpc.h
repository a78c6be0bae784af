/*
 * jsonrpc.h — the JSON-RPC 2.0 error codes capgate's MCP adapter answers with, in one place
 * for the protocol core, the catalog (resources, prompts) and the transports.
 */
#ifndef CG_MCP_JSONRPC_H
#define CG_MCP_JSONRPC_H

#define CG_JSONRPC_PARSE_ERROR (-32700)
#define CG_JSONRPC_INVALID_REQUEST (-32600)
#define CG_JSONRPC_METHOD_NOT_FOUND (-32601)
#define CG_JSONRPC_INVALID_PARAMS (-32602)
#define CG_JSONRPC_INTERNAL_ERROR (-32603)
#define CG_JSONRPC_SERVER_ERROR (-32000) /* transport-level refusals (TS SDK's code) */
#define CG_JSONRPC_SESSION_NOT_FOUND (-32001)
#define CG_MCP_RESOURCE_NOT_FOUND (-32002) /* resources/read: the upstream answered 404 */

/* 2026-07-28 error codes (the -32020..-32099 range the revision reserves). */
#define CG_MCP_HEADER_MISMATCH (-32020)
#define CG_MCP_MISSING_CLIENT_CAPABILITY (-32021)
#define CG_MCP_UNSUPPORTED_VERSION (-32022)

#endif
