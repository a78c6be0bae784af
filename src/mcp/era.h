/*
 * era.h — MCP revision 2026-07-28 beside the session-based 2025 revisions.
 *
 * 2026-07-28 has no initialize and no sessions: every request carries its protocol version
 * and client capabilities in params._meta (io.modelcontextprotocol/protocolVersion and
 * io.modelcontextprotocol/clientCapabilities) and is answered on its own. capgate is a
 * dual-era server (versioning.mdx, "Backward Compatibility"): a request that carries that
 * _meta, or arrives with MCP-Protocol-Version 2026-07-28, is served statelessly here; an
 * initialize opens a 2025 session exactly as before (protocol.h, session.h).
 *
 * What this module decides, transport-free so it is unit-tested with plain strings:
 *   - which era a message belongs to (cg_mcp_era_is_modern);
 *   - the envelope: _meta present and well-formed (-32602), the HTTP request metadata
 *     headers equal to the body (-32020 HeaderMismatch), a version we speak (-32022
 *     UnsupportedProtocolVersion with data.supported and data.requested);
 *   - the methods: server/discover here; tools/list, tools/call, the resources and prompts
 *     methods through the protocol core (protocol.h) with a state that needs no handshake; the
 *     methods 2026-07-28 removed (initialize, ping, logging/setLevel, resources/subscribe,
 *     resources/unsubscribe) and every unknown one are -32601 (HTTP 404);
 *   - the result decorations: resultType "complete" on every result, ttlMs and cacheScope
 *     on tools/list, prompts/list, resources/list, resources/templates/list,
 *     resources/read and server/discover.
 * The transports carry out what it decides, as for the 2025 revisions.
 */
#ifndef CG_MCP_ERA_H
#define CG_MCP_ERA_H

#include <jansson.h>
#include <stdbool.h>

#include "mcp/protocol.h"

#define CG_MCP_MODERN_VERSION "2026-07-28"

/* ttlMs of every cacheable result: lists change only when the spec is reloaded. */
#define CG_MCP_LIST_TTL_MS 60000

/* The _meta keys of a 2026-07-28 request. */
#define CG_MCP_META_VERSION "io.modelcontextprotocol/protocolVersion"
#define CG_MCP_META_CAPABILITIES "io.modelcontextprotocol/clientCapabilities"
#define CG_MCP_META_CLIENT_INFO "io.modelcontextprotocol/clientInfo"
#define CG_MCP_META_SERVER_INFO "io.modelcontextprotocol/serverInfo"

/* true for a revision served statelessly (2026-07-28). */
bool cg_mcp_era_version_modern(const char *version);
/* true for any revision this server speaks, of either era. */
bool cg_mcp_era_version_known(const char *version);
/* Every revision this server speaks, newest first: ["2026-07-28", "2025-11-25", ...]. */
json_t *cg_mcp_era_supported_versions(void);

/* true when msg is to be served under 2026-07-28: its params._meta names a protocol
 * version (whatever it is), or header_version (HTTP's MCP-Protocol-Version, NULL on
 * stdio) is 2026-07-28, or it is server/discover. */
bool cg_mcp_era_is_modern(const json_t *msg, const char *header_version);

/* The -32022 error response for a version we do not speak, id taken from msg (may be NULL). */
json_t *cg_mcp_era_unsupported(const json_t *msg, const char *requested);

/* The HTTP request metadata headers of a POST (NULL when absent). */
typedef struct cg_mcp_era_headers {
    const char *version; /* MCP-Protocol-Version */
    const char *method;  /* Mcp-Method */
    const char *name;    /* Mcp-Name (plain, or =?base64?...?=) */
} cg_mcp_era_headers;

/* The fast way in (protocol.h cg_mcp_quick_read) for a plain 2026-07-28 tools/call: its
 * _meta holds exactly the protocol version (2026-07-28), the client's capabilities and
 * perhaps its clientInfo, and headers (NULL on stdio) say the same as the body, byte for
 * byte. The call cg_mcp_era_handle would start, marked modern; NULL for anything else, which
 * cg_mcp_era_handle then decides. */
cg_mcp_call *cg_mcp_era_quick_call(const cg_mcp_core *core, const cg_mcp_quick *q,
                                   const cg_mcp_era_headers *headers);

/* Handles one valid message (classified REQUEST or NOTIFICATION) of the modern era,
 * statelessly. headers: HTTP's (checked against the body), NULL on stdio. *status is the
 * HTTP status that goes with the outcome: 200, 202 (a notification), 400 (envelope,
 * header or version refused) or 404 (unknown method). For CG_MCP_ACT_CALL the call is
 * already marked modern and its reply (cg_mcp_call_reply*) is complete as it is.
 * Release *out with cg_mcp_action_release. */
void cg_mcp_era_handle(const cg_mcp_core *core, const json_t *msg,
                       const cg_mcp_era_headers *headers, cg_mcp_action *out, int *status);

#endif
