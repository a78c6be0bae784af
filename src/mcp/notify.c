/*
 * notify.c — notifications/message about a call's outcome (notify.h).
 */
#include "mcp/notify.h"

#include <stdio.h>

#include "engine/call.h"

/* The level a call's outcome deserves; -1 for nothing. */
static int outcome_level(const cg_call_result *res)
{
    switch (res->error) {
    case CG_CALL_OK:
        if (res->status >= 500) return CG_MCP_LOG_ERROR;
        if (res->status >= 400) return CG_MCP_LOG_WARNING;
        return res->upstream_retries > 0 ? CG_MCP_LOG_NOTICE : -1;
    case CG_CALL_BAD_ARGUMENT: return -1;
    default: return CG_MCP_LOG_ERROR;
    }
}

json_t *cg_mcp_call_log(const cg_mcp_call *c, const cg_call_result *res, const cg_mcp_state *st)
{
    if (!st->log_level_set) return NULL;
    int level = outcome_level(res);
    if (level < 0 || level < (int)st->log_level) return NULL;
    const char *tool = cg_mcp_call_tool(c)->name;
    char text[480];
    if (res->error != CG_CALL_OK) snprintf(text, sizeof text, "%s failed: %s", tool, res->message);
    else if (res->status >= 400)
        snprintf(text, sizeof text, "%s: the upstream API answered %d", tool, res->status);
    else
        snprintf(text, sizeof text, "%s: the upstream API answered after %d connection %s retried",
                 tool, res->upstream_retries,
                 res->upstream_retries == 1 ? "attempt was" : "attempts were");
    json_t *data = json_pack("{s:s, s:s}", "tool", tool, "message", text);
    if (!data) return NULL;
    if (res->error != CG_CALL_OK)
        json_object_set_new(data, "error", json_string(cg_call_error_slug(res->error)));
    if (res->upstream_status)
        json_object_set_new(data, "status", json_integer(res->upstream_status));
    if (res->upstream_retries)
        json_object_set_new(data, "retries", json_integer(res->upstream_retries));
    json_t *params = json_pack("{s:s, s:s, s:o}", "level",
                               cg_mcp_log_level_name((cg_mcp_log_level)level), "logger",
                               "capgate.upstream", "data", data);
    return params ? cg_mcp_notification("notifications/message", params) : NULL;
}
