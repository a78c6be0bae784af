/*
 * notify.h — what an MCP session is told about a tools/call besides its result: the
 * notifications/message log lines (the `logging` capability) for upstream failures and
 * retries, at the level the session chose with logging/setLevel.
 *
 * Transport-neutral: Streamable HTTP sends the notification on the call's SSE stream (a
 * call that would have been answered as plain JSON is answered as SSE then), stdio writes
 * it before the result. A session that never sent logging/setLevel is told nothing, so
 * clients that did not ask see exactly the results they saw before.
 */
#ifndef CG_MCP_NOTIFY_H
#define CG_MCP_NOTIFY_H

#include <jansson.h>

#include "mcp/protocol.h"

struct cg_call_result;

/* The notifications/message (whole JSON-RPC notification) about call c's outcome res for a
 * session in state st, or NULL when there is nothing to say at the session's level:
 *   - capgate's own failures (unreachable, timeout, bad gateway, overloaded, credentials,
 *     internal) and upstream 5xx: "error";
 *   - upstream 4xx: "warning";
 *   - a success that needed retries (connection failures): "notice".
 * A refused argument says nothing here (the result says it). data holds the tool, the
 * upstream status, the number of retries and capgate's own message, never a credential,
 * a header or the upstream's body. */
json_t *cg_mcp_call_log(const cg_mcp_call *c, const struct cg_call_result *res,
                        const cg_mcp_state *st);

#endif
