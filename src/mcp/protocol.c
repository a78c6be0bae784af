/*
 * protocol.c — the MCP protocol core. See protocol.h.
 *
 * The file reads top to bottom in the order a message travels: parse and classify
 * (JSON-RPC shape), dispatch by method (lifecycle, ping, logging, tools), and, for
 * tools/call, check arguments against the tool's schema before anything is sent, then
 * shape the upstream's answer into a CallToolResult. It holds no I/O and no clocks, so a
 * message in gives a decision out, the same on every transport.
 *
 * Argument rules (documented in docs/mcp.md): unknown arguments are refused
 * (additionalProperties is false); JSON null counts as "not given"; an integer argument
 * may be a JSON integer, a JSON number with an exact integer value (3.0), or a string that
 * is strictly an integer ("42", no spaces, no '+', no leading zeros) — LLM clients do
 * stringify numbers now and then — and nothing else; objects must be JSON objects.
 * Size: the protocol core reads top to bottom as a message travels (above); one method a part.
 */
#include "mcp/protocol.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/call.h"
#include "engine/encode.h"
#include "mcp/catalog.h"
#include "mcp/tool_schema.h"

#ifndef CAPGATE_VERSION
#define CAPGATE_VERSION "0.0.0"
#endif

static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};

struct cg_mcp_core {
    const cg_spec *spec;
    const cg_mcp_adapter *adapter;
    json_t *tools; /* the tools/list array, built once */
    char *server_name;
    char *server_version;
    size_t page_size;
    bool lists_private;
};

struct cg_mcp_call {
    const cg_tool *tool;             /* the tool, or as_tool for a resource read */
    const cg_mcp_resource *resource; /* resources/read of a dynamic resource, else NULL */
    cg_tool as_tool;                 /* the resource's name and call, dressed as a tool so the
                                 * transports start it as they start any tools/call */
    char *uri;                       /* resources/read: the URI asked for */
    json_t *id;
    json_t *progress_token;
    bool modern;        /* 2026-07-28: resultType on the result, -32602 for not found */
    bool task;          /* task-augmented (tasks.h) */
    long long task_ttl; /* its ttl, -1 = none asked */
    char **values;      /* per tool->call.arguments[i]: text, or NULL (in the same
                         * allocation as the call: call_alloc) */
    size_t *lens;
};

bool cg_mcp_version_supported(const char *version)
{
    for (size_t i = 0; version && i < sizeof versions / sizeof *versions; i++)
        if (!strcmp(version, versions[i])) return true;
    return false;
}

const char *cg_mcp_supported_versions(void)
{
    return "2025-11-25, 2025-06-18, 2025-03-26";
}

static const char *const level_names[] = {"debug", "info",     "notice", "warning",
                                          "error", "critical", "alert",  "emergency"};

const char *cg_mcp_log_level_name(cg_mcp_log_level level)
{
    return (unsigned)level < 8 ? level_names[level] : "info";
}

cg_mcp_core *cg_mcp_core_create(const cg_spec *spec, const cg_mcp_adapter *adapter,
                                const cg_mcp_core_options *opt)
{
    cg_mcp_core *core = calloc(1, sizeof *core);
    if (!core) return NULL;
    core->spec = spec;
    core->adapter = adapter;
    core->tools = cg_mcp_tools_json(adapter);
    /* the reference engine names the server after the adapter's namespace */
    const char *name = opt && opt->server_name ? opt->server_name
                       : adapter->namespace_   ? adapter->namespace_
                                               : "capgate";
    core->server_name = strdup(name);
    core->server_version = strdup(opt && opt->server_version ? opt->server_version
                                                             : CAPGATE_VERSION);
    core->page_size = opt ? opt->page_size : 0;
    core->lists_private = opt && opt->lists_private;
    if (!core->tools || json_array_size(core->tools) != adapter->n_tools || !core->server_name ||
        !core->server_version) {
        cg_mcp_core_free(core);
        return NULL;
    }
    return core;
}

void cg_mcp_core_free(cg_mcp_core *core)
{
    if (!core) return;
    json_decref(core->tools);
    free(core->server_name);
    free(core->server_version);
    free(core);
}

const cg_mcp_adapter *cg_mcp_core_adapter(const cg_mcp_core *core)
{
    return core->adapter;
}

/* --- JSON-RPC messages ---------------------------------------------------------------- */

json_t *cg_mcp_parse(const char *text, size_t len, char *err, size_t errlen)
{
    if (len > CG_MCP_MAX_MESSAGE) {
        if (err) snprintf(err, errlen, "message larger than %u bytes", CG_MCP_MAX_MESSAGE);
        return NULL;
    }
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!doc && err) snprintf(err, errlen, "%s (at byte %d)", je.text, je.position);
    return doc;
}

static bool id_ok(const json_t *id)
{
    return json_is_string(id) || json_is_integer(id);
}

cg_mcp_msg_kind cg_mcp_classify(const json_t *msg, const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    if (!json_is_object(msg)) {
        *why = "a JSON-RPC message must be a JSON object";
        return CG_MCP_MSG_INVALID;
    }
    const json_t *v = json_object_get(msg, "jsonrpc");
    if (!json_is_string(v) || strcmp(json_string_value(v), "2.0")) {
        *why = "\"jsonrpc\" must be \"2.0\"";
        return CG_MCP_MSG_INVALID;
    }
    const json_t *id = json_object_get(msg, "id");
    const json_t *method = json_object_get(msg, "method");
    const json_t *params = json_object_get(msg, "params");
    if (method) {
        if (!json_is_string(method) || !json_string_length(method)) {
            *why = "\"method\" must be a non-empty string";
            return CG_MCP_MSG_INVALID;
        }
        if (params && !json_is_object(params)) {
            *why = "\"params\" must be an object";
            return CG_MCP_MSG_INVALID;
        }
        if (json_object_get(msg, "result") || json_object_get(msg, "error")) {
            *why = "a request cannot carry \"result\" or \"error\"";
            return CG_MCP_MSG_INVALID;
        }
        if (!id) return CG_MCP_MSG_NOTIFICATION;
        if (!id_ok(id)) {
            *why = "\"id\" must be a string or an integer";
            return CG_MCP_MSG_INVALID;
        }
        return CG_MCP_MSG_REQUEST;
    }
    const json_t *result = json_object_get(msg, "result"), *error = json_object_get(msg, "error");
    if (id && (result != NULL) != (error != NULL) && (id_ok(id) || json_is_null(id))) {
        if (error && !json_is_object(error)) {
            *why = "\"error\" must be an object";
            return CG_MCP_MSG_INVALID;
        }
        return CG_MCP_MSG_RESPONSE;
    }
    *why = "neither a request, a notification nor a response";
    return CG_MCP_MSG_INVALID;
}

static json_t *copy_id(const json_t *id)
{
    return id ? json_deep_copy(id) : json_null();
}

json_t *cg_mcp_result(const json_t *id, json_t *result)
{
    json_t *m = json_object();
    if (!m || !result) {
        json_decref(m);
        json_decref(result);
        return NULL;
    }
    json_object_set_new(m, "jsonrpc", json_string("2.0"));
    json_object_set_new(m, "id", copy_id(id));
    json_object_set_new(m, "result", result);
    return m;
}

json_t *cg_mcp_error(const json_t *id, int code, const char *message, json_t *data)
{
    json_t *m = json_object(), *e = json_object();
    if (!m || !e) {
        json_decref(m);
        json_decref(e);
        json_decref(data);
        return NULL;
    }
    json_object_set_new(e, "code", json_integer(code));
    json_object_set_new(e, "message", json_string(message));
    if (data) json_object_set_new(e, "data", data);
    json_object_set_new(m, "jsonrpc", json_string("2.0"));
    json_object_set_new(m, "id", copy_id(id));
    json_object_set_new(m, "error", e);
    return m;
}

json_t *cg_mcp_notification(const char *method, json_t *params)
{
    json_t *m = json_object();
    if (!m) {
        json_decref(params);
        return NULL;
    }
    json_object_set_new(m, "jsonrpc", json_string("2.0"));
    json_object_set_new(m, "method", json_string(method));
    if (params) json_object_set_new(m, "params", params);
    return m;
}

char *cg_mcp_dump(const json_t *msg, size_t *len)
{
    char *s = json_dumps(msg, JSON_COMPACT);
    if (len) *len = s ? strlen(s) : 0;
    return s;
}

json_t *cg_mcp_invalid_reply(const json_t *msg, int code, const char *why)
{
    const json_t *id = json_is_object(msg) ? json_object_get(msg, "id") : NULL;
    const char *title = code == CG_JSONRPC_PARSE_ERROR ? "Parse error" : "Invalid Request";
    char text[256];
    snprintf(text, sizeof text, "%s: %s", title, why ? why : "malformed message");
    return cg_mcp_error(id_ok(id) ? id : NULL, code, text, NULL);
}

bool cg_mcp_is_initialize(const json_t *msg)
{
    const json_t *m = json_object_get(msg, "method");
    return json_is_string(m) && !strcmp(json_string_value(m), "initialize") &&
           json_object_get(msg, "id");
}

/* --- lifecycle ------------------------------------------------------------------------ */

/* Capabilities as the adapter has them: resources and prompts only when it declares some. */
json_t *cg_mcp_core_capabilities(const cg_mcp_core *core)
{
    json_t *caps = json_pack("{s:{s:b}, s:{}}", "tools", "listChanged", 0, "logging");
    if (caps && core->adapter->n_resources)
        json_object_set_new(caps, "resources",
                            json_pack("{s:b, s:b}", "subscribe", 0, "listChanged", 0));
    if (caps && core->adapter->n_prompts)
        json_object_set_new(caps, "prompts", json_pack("{s:b}", "listChanged", 0));
    return caps;
}

/* serverInfo: the adapter's namespace as name, the spec's info.label as title and
 * info.description as description (the spec language has no website or icons). */
json_t *cg_mcp_core_server_info(const cg_mcp_core *core)
{
    json_t *info = json_pack("{s:s, s:s}", "name", core->server_name, "version",
                             core->server_version);
    if (info && core->spec->label)
        json_object_set_new(info, "title", json_string(core->spec->label));
    if (info && core->spec->description)
        json_object_set_new(info, "description", json_string(core->spec->description));
    return info;
}

bool cg_mcp_core_lists_private(const cg_mcp_core *core)
{
    return core->lists_private;
}

static json_t *initialize_result(const cg_mcp_core *core, const char *version)
{
    json_t *caps = cg_mcp_core_capabilities(core);
    /* a session has a GET stream: a reload that changes the tools says so there (mcp.h) */
    if (caps) json_object_set_new(json_object_get(caps, "tools"), "listChanged", json_true());
    if (caps && !strcmp(version, "2025-11-25")) /* tasks (tasks.h): that revision's, experimental */
        json_object_set_new(
            caps, "tasks",
            json_pack("{s:{}, s:{}, s:{s:{s:{}}}}", "list", "cancel", "requests", "tools", "call"));
    json_t *r = json_pack("{s:s, s:o, s:o}", "protocolVersion", version, "capabilities", caps,
                          "serverInfo", cg_mcp_core_server_info(core));
    if (r && core->adapter->description)
        json_object_set_new(r, "instructions", json_string(core->adapter->description));
    return r;
}

static json_t *handle_initialize(const cg_mcp_core *core, cg_mcp_state *st, const json_t *id,
                                 const json_t *params)
{
    if (st->initialize_answered)
        return cg_mcp_error(id, CG_JSONRPC_INVALID_REQUEST,
                            "Invalid Request: the session is already initialized", NULL);
    const json_t *pv = json_object_get(params, "protocolVersion");
    if (!json_is_string(pv))
        return cg_mcp_error(id, CG_JSONRPC_INVALID_PARAMS,
                            "Invalid params: initialize needs a \"protocolVersion\" string", NULL);
    const char *asked = json_string_value(pv);
    const char *version = cg_mcp_version_supported(asked) ? asked : CG_MCP_LATEST_VERSION;
    json_t *result = initialize_result(core, version);
    if (!result) return cg_mcp_error(id, CG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
    st->initialize_answered = true;
    snprintf(st->version, sizeof st->version, "%s", version);
    const json_t *ci = json_object_get(params, "clientInfo");
    const char *name = json_string_value(json_object_get(ci, "name"));
    snprintf(st->client_name, sizeof st->client_name, "%s", name ? name : "");
    return cg_mcp_result(id, result);
}

static json_t *handle_set_level(cg_mcp_state *st, const json_t *id, const json_t *params)
{
    const char *level = json_string_value(json_object_get(params, "level"));
    for (int i = 0; level && i < 8; i++)
        if (!strcmp(level, level_names[i])) {
            st->log_level = (cg_mcp_log_level)i;
            st->log_level_set = true;
            return cg_mcp_result(id, json_object());
        }
    return cg_mcp_error(id, CG_JSONRPC_INVALID_PARAMS,
                        "Invalid params: \"level\" must be one of debug, info, notice, warning, "
                        "error, critical, alert, emergency",
                        NULL);
}

/* --- tools/list ----------------------------------------------------------------------- */

/* A cursor is "t" + the offset of the page's first tool, in decimal. */
static bool parse_cursor(const char *s, size_t n_tools, size_t *offset)
{
    if (!s || s[0] != 't' || !s[1]) return false;
    int64_t v;
    if (!cg_parse_int64(s + 1, strlen(s + 1), &v) || v <= 0 || (uint64_t)v >= n_tools) return false;
    *offset = (size_t)v;
    return true;
}

static json_t *handle_tools_list(const cg_mcp_core *core, const json_t *id, const json_t *params)
{
    size_t n = json_array_size(core->tools), first = 0;
    const json_t *cursor = json_object_get(params, "cursor");
    if (cursor && !json_is_null(cursor) && !parse_cursor(json_string_value(cursor), n, &first))
        return cg_mcp_error(id, CG_JSONRPC_INVALID_PARAMS, "Invalid params: unknown cursor", NULL);
    size_t count = core->page_size ? core->page_size : n;
    if (first + count > n) count = n - first;
    json_t *page = json_array(), *result = json_object();
    for (size_t i = first; page && i < first + count; i++)
        json_array_append(page, json_array_get(core->tools, i));
    if (!page || !result || json_object_set_new(result, "tools", page) < 0) {
        json_decref(result);
        return cg_mcp_error(id, CG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
    }
    if (first + count < n) {
        char next[32];
        snprintf(next, sizeof next, "t%zu", first + count);
        json_object_set_new(result, "nextCursor", json_string(next));
    }
    return cg_mcp_result(id, result);
}

/* --- tools/call: arguments -------------------------------------------------------------- */

/* A CallToolResult with isError and one text block (and optional structuredContent). */
static json_t *tool_error_result(const char *text, json_t *structured)
{
    json_t *r = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text,
                          "isError", 1);
    if (r && structured) json_object_set_new(r, "structuredContent", structured);
    else json_decref(structured);
    return r;
}

static json_t *argument_error(const json_t *id, const char *argument, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static json_t *argument_error(const json_t *id, const char *argument, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_t *sc = json_pack("{s:s, s:s, s:s}", "error", "bad-argument", "argument", argument,
                           "message", text);
    json_t *r = tool_error_result(text, sc);
    return r ? cg_mcp_result(id, r)
             : cg_mcp_error(id, CG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
}

static const char *type_phrase(cg_type t)
{
    switch (t) {
    case CG_TYPE_INTEGER: return "an integer";
    case CG_TYPE_NUMBER: return "a number";
    case CG_TYPE_BOOLEAN: return "a boolean";
    case CG_TYPE_OBJECT: return "a JSON object";
    case CG_TYPE_ARRAY: return "a JSON array";
    default: return "a string";
    }
}

/* The text a JSON value stands for as the argument's type, or NULL when it is not one.
 * free() the result. */
static char *argument_text(cg_type type, const json_t *v)
{
    char tmp[64];
    switch (type) {
    case CG_TYPE_INTEGER:
        if (json_is_integer(v)) {
            snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            return strdup(tmp);
        }
        if (json_is_real(v)) {
            double d = json_real_value(v);
            /* exact integers only, and within int64 (2^63 itself is out) */
            if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0 ||
                d >= 9223372036854775808.0)
                return NULL;
            snprintf(tmp, sizeof tmp, "%lld", (long long)d);
            return strdup(tmp);
        }
        if (json_is_string(v) && cg_parse_int64(json_string_value(v), json_string_length(v), NULL))
            return strdup(json_string_value(v));
        return NULL;
    case CG_TYPE_NUMBER:
        if (!json_is_number(v)) return NULL;
        if (json_is_integer(v))
            snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else snprintf(tmp, sizeof tmp, "%.17g", json_real_value(v));
        return strdup(tmp);
    case CG_TYPE_BOOLEAN:
        return json_is_boolean(v) ? strdup(json_is_true(v) ? "true" : "false") : NULL;
    case CG_TYPE_OBJECT: return json_is_object(v) ? json_dumps(v, JSON_COMPACT) : NULL;
    case CG_TYPE_ARRAY: return json_is_array(v) ? json_dumps(v, JSON_COMPACT) : NULL;
    default: return json_is_string(v) ? strndup(json_string_value(v), json_string_length(v)) : NULL;
    }
}

static const cg_argument *find_argument(const cg_call *call, const char *name, size_t *index)
{
    for (size_t i = 0; i < call->n_arguments; i++)
        if (!call->arguments[i].is_credential && !strcmp(call->arguments[i].name, name)) {
            *index = i;
            return &call->arguments[i];
        }
    return NULL;
}

static void argument_names(const cg_call *call, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < call->n_arguments && used < outlen; i++) {
        if (call->arguments[i].is_credential) continue;
        int n = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "",
                         call->arguments[i].name);
        if (n < 0) break;
        used += (size_t)n;
    }
}

/* Checks args against the tool's schema and fills c->values. NULL when they pass,
 * else the isError reply. */
static json_t *check_arguments(const cg_tool *tool, const json_t *id, const json_t *args,
                               cg_mcp_call *c)
{
    const cg_call *call = &tool->call;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)args, key, v)
    {
        size_t i;
        const cg_argument *a = find_argument(call, key, &i);
        if (!a) {
            char names[256];
            argument_names(call, names, sizeof names);
            return argument_error(id, key, "unknown argument '%s': %s takes %s%s", key, tool->name,
                                  names[0] ? names : "no arguments", names[0] ? "" : "");
        }
        if (json_is_null(v)) continue; /* null = not given */
        c->values[i] = argument_text(a->type, v);
        if (!c->values[i])
            return argument_error(id, key, "argument '%s' must be %s", key, type_phrase(a->type));
        c->lens[i] = strlen(c->values[i]);
    }
    for (size_t i = 0; i < call->n_arguments; i++)
        if (call->arguments[i].required && !call->arguments[i].is_credential && !c->values[i])
            return argument_error(id, call->arguments[i].name, "missing required argument '%s'",
                                  call->arguments[i].name);
    return NULL;
}

/* A tools/call's `task` (only in a 2025-11-25 session, where the capability is declared;
 * other sessions process the call normally, as the spec requires): NULL when fine, with
 * *ttl set, else the error reply. */
static json_t *task_param(const cg_mcp_state *st, const json_t *id, const json_t *params,
                          bool *task, long long *ttl)
{
    const json_t *t = json_object_get(params, "task");
    *task = false;
    *ttl = -1;
    if (!t || strcmp(st->version, "2025-11-25")) return NULL;
    const json_t *v = json_object_get(t, "ttl");
    if (!json_is_object(t) ||
        (v && !json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 0)))
        return cg_mcp_error(
            id, CG_JSONRPC_INVALID_PARAMS,
            "Invalid params: \"task\" must be an object whose \"ttl\" is a non-negative integer",
            NULL);
    *task = true;
    if (json_is_integer(v)) *ttl = json_integer_value(v);
    return NULL;
}

/* A zeroed call with room for call's argument values, all in one allocation. */
static cg_mcp_call *call_alloc(const cg_call *call)
{
    size_t n = call->n_arguments ? call->n_arguments : 1;
    cg_mcp_call *c = calloc(1, sizeof *c + n * (sizeof *c->values + sizeof *c->lens));
    if (!c) return NULL;
    c->values = (char **)(c + 1);
    c->lens = (size_t *)(c->values + n);
    c->task_ttl = -1;
    return c;
}

/* A call of tool with no arguments given yet; takes id (a copy of the request's). NULL when
 * out of memory. */
static cg_mcp_call *new_call(const cg_tool *tool, json_t *id)
{
    cg_mcp_call *c = call_alloc(&tool->call);
    if (c) {
        c->tool = tool;
        c->id = id;
    }
    if (!c || !c->id) {
        if (c) cg_mcp_call_free(c);
        else json_decref(id);
        return NULL;
    }
    return c;
}

static void handle_tools_call(const cg_mcp_core *core, const cg_mcp_state *st, const json_t *id,
                              const json_t *params, cg_mcp_action *out)
{
    out->act = CG_MCP_ACT_REPLY;
    const char *name = json_string_value(json_object_get(params, "name"));
    if (!name) {
        out->reply = cg_mcp_error(id, CG_JSONRPC_INVALID_PARAMS,
                                  params ? "Invalid params: tools/call needs a \"name\" string"
                                         : "Invalid params: missing params",
                                  NULL);
        return;
    }
    const cg_tool *tool = cg_spec_find_tool(core->adapter, name);
    if (!tool) {
        char msg[256];
        snprintf(msg, sizeof msg, "Unknown tool: %.200s", name);
        out->reply = cg_mcp_error(id, CG_JSONRPC_INVALID_PARAMS, msg, NULL);
        return;
    }
    const json_t *args = json_object_get(params, "arguments");
    if (args && !json_is_object(args) && !json_is_null(args)) {
        out->reply = cg_mcp_error(id, CG_JSONRPC_INVALID_PARAMS,
                                  "Invalid params: \"arguments\" must be an object", NULL);
        return;
    }
    bool task;
    long long ttl;
    if ((out->reply = task_param(st, id, params, &task, &ttl))) return;
    const json_t *meta = json_object_get(params, "_meta");
    const json_t *token = json_object_get(meta, "progressToken");
    cg_mcp_call *c = new_call(tool, json_deep_copy(id));
    if (c) {
        c->task = task;
        c->task_ttl = ttl;
    }
    if (c && token && id_ok(token) && !(c->progress_token = json_deep_copy(token))) {
        cg_mcp_call_free(c);
        c = NULL;
    }
    if (!c) {
        out->reply = cg_mcp_error(id, CG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        return;
    }
    json_t *err = json_is_object(args) ? check_arguments(tool, id, args, c) : NULL;
    if (!err && !json_is_object(args)) {
        json_t *empty = json_object();
        err = check_arguments(tool, id, empty, c);
        json_decref(empty);
    }
    if (err) {
        cg_mcp_call_free(c);
        out->reply = err;
        return;
    }
    out->act = CG_MCP_ACT_CALL;
    out->call = c;
}

/* --- resources and prompts (catalog.c lists, reads files and renders) ------------------ */

static json_t *list_result(const json_t *id, const char *key, json_t *list)
{
    json_t *r = list ? json_pack("{s:o}", key, list) : NULL;
    return r ? cg_mcp_result(id, r) : NULL;
}

static json_t *invalid_params(const json_t *id, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static json_t *invalid_params(const json_t *id, const char *fmt, ...)
{
    char text[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return cg_mcp_error(id, CG_JSONRPC_INVALID_PARAMS, text, NULL);
}

/* A {placeholder} of the URI gives the value of the call's argument of that name. */
static bool take_uri_param(void *ctx, const char *name, size_t name_len, const char *value,
                           size_t value_len)
{
    cg_mcp_call *c = ctx;
    const cg_call *call = &c->tool->call;
    for (size_t i = 0; i < call->n_arguments; i++)
        if (!call->arguments[i].is_credential && strlen(call->arguments[i].name) == name_len &&
            !memcmp(call->arguments[i].name, name, name_len)) {
            free(c->values[i]);
            c->values[i] = strndup(value, value_len);
            c->lens[i] = value_len;
            return c->values[i] != NULL;
        }
    return true; /* a placeholder no input takes */
}

/* resources/read: a static resource is read here and now; a dynamic one becomes a call
 * with the URI's template values as its arguments. */
static void handle_resources_read(const cg_mcp_core *core, const json_t *id, const json_t *params,
                                  cg_mcp_action *out)
{
    out->act = CG_MCP_ACT_REPLY;
    const char *uri = json_string_value(json_object_get(params, "uri"));
    if (!params) {
        out->reply = invalid_params(id, "Invalid params: missing params");
        return;
    }
    if (!uri || !*uri) {
        out->reply = invalid_params(id, "Invalid params: uri is required");
        return;
    }
    const cg_mcp_resource *r = cg_mcp_resource_find(core->adapter, uri, NULL, NULL);
    if (!r) {
        out->reply = invalid_params(id, "Invalid params: Unknown resource URI: %.200s", uri);
        return;
    }
    if (r->location) {
        char err[320];
        int code;
        json_t *contents = cg_mcp_resource_read_static(r, uri, &code, err, sizeof err);
        out->reply = contents ? cg_mcp_result(id, json_pack("{s:o}", "contents", contents))
                              : cg_mcp_error(id, code, err, NULL);
        return;
    }
    cg_mcp_call *c = call_alloc(&r->call);
    if (c) {
        c->resource = r;
        c->as_tool = (cg_tool){.name = r->name,
                               .title = r->title,
                               .description = r->description,
                               .hints = {-1, -1, -1, -1},
                               .call = r->call};
        c->tool = &c->as_tool;
        c->id = json_deep_copy(id);
        c->uri = strdup(uri);
    }
    if (!c || !c->id || !c->uri || !cg_mcp_resource_find(core->adapter, uri, take_uri_param, c)) {
        cg_mcp_call_free(c);
        out->reply = cg_mcp_error(id, CG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        return;
    }
    out->act = CG_MCP_ACT_CALL;
    out->call = c;
}

static json_t *handle_prompts_get(const cg_mcp_core *core, const json_t *id, const json_t *params)
{
    if (!params) return invalid_params(id, "Invalid params: missing params");
    const char *name = json_string_value(json_object_get(params, "name"));
    if (!name || !*name) return invalid_params(id, "Invalid params: name is required");
    const cg_mcp_prompt *p = cg_mcp_prompt_find(core->adapter, name);
    if (!p) return invalid_params(id, "Invalid params: Unknown prompt: %.200s", name);
    const json_t *args = json_object_get(params, "arguments");
    if (args && !json_is_object(args) && !json_is_null(args))
        return invalid_params(id, "Invalid params: \"arguments\" must be an object");
    char err[320];
    int code;
    json_t *r = cg_mcp_prompt_get(p, json_is_object(args) ? args : NULL, &code, err, sizeof err);
    return r ? cg_mcp_result(id, r) : cg_mcp_error(id, code, err, NULL);
}

/* --- tasks/get, result, list, cancel (answered by the transport from its task store, tasks.h) ------------------------ */

static void handle_tasks(const json_t *id, const char *op, const json_t *params, cg_mcp_action *out)
{
    static const char *const ops[] = {"get", "result", "list", "cancel"};
    int which = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(op, ops[i])) which = i;
    if (which < 0) {
        char msg_text[200];
        snprintf(msg_text, sizeof msg_text, "Method not found: tasks/%.140s", op);
        out->reply = cg_mcp_error(id, CG_JSONRPC_METHOD_NOT_FOUND, msg_text, NULL);
        return;
    }
    const char *task_id = json_string_value(json_object_get(params, "taskId"));
    if (which != CG_MCP_TASK_LIST && (!task_id || strlen(task_id) >= CG_MCP_TASK_ID_MAX)) {
        out->reply = cg_mcp_error(id, CG_JSONRPC_INVALID_PARAMS,
                                  task_id ? "Invalid params: unknown taskId"
                                          : "Invalid params: \"taskId\" must be a string",
                                  NULL);
        return;
    }
    out->act = CG_MCP_ACT_TASK;
    out->task_op = (cg_mcp_task_op)which;
    snprintf(out->task_id, sizeof out->task_id, "%s", task_id ? task_id : "");
    out->task_req_id = json_deep_copy(id);
    if (!out->task_req_id) {
        out->act = CG_MCP_ACT_REPLY;
        out->reply = cg_mcp_error(id, CG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
    }
}

/* --- dispatch ---------------------------------------------------------------------------- */

void cg_mcp_handle(const cg_mcp_core *core, cg_mcp_state *st, const json_t *msg, cg_mcp_action *out)
{
    memset(out, 0, sizeof *out);
    const json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    const json_t *params = json_object_get(msg, "params");
    out->method = method;
    if (!method) return; /* a response from the client: nothing to do */

    if (!id) { /* notifications */
        if (!strcmp(method, "notifications/initialized")) {
            st->initialized = true;
        } else if (!strcmp(method, "notifications/cancelled")) {
            const json_t *rid = json_object_get(params, "requestId");
            if (id_ok(rid)) {
                out->act = CG_MCP_ACT_CANCEL;
                out->cancel_id = json_deep_copy(rid);
                if (!out->cancel_id) out->act = CG_MCP_ACT_NONE;
            }
        }
        return; /* unknown notifications are ignored, as JSON-RPC asks */
    }

    out->act = CG_MCP_ACT_REPLY;
    if (!strcmp(method, "initialize")) {
        out->reply = handle_initialize(core, st, id, params);
    } else if (!strcmp(method, "ping")) {
        out->reply = cg_mcp_result(id, json_object());
    } else if (!st->initialize_answered) {
        out->reply = cg_mcp_error(id, CG_JSONRPC_SERVER_ERROR,
                                  "Bad Request: Server not initialized", NULL);
    } else if (!strcmp(method, "tools/list")) {
        out->reply = handle_tools_list(core, id, params);
    } else if (!strcmp(method, "tools/call")) {
        handle_tools_call(core, st, id, params, out);
    } else if (!strncmp(method, "tasks/", 6) && !strcmp(st->version, "2025-11-25")) {
        handle_tasks(id, method + 6, params, out);
    } else if (!strcmp(method, "logging/setLevel")) {
        out->reply = handle_set_level(st, id, params);
    } else if ((!strncmp(method, "resources/", 10) && !core->adapter->n_resources) ||
               (!strncmp(method, "prompts/", 8) && !core->adapter->n_prompts)) {
        /* a capability the adapter does not declare: not a method it has */
        char msg_text[256];
        snprintf(msg_text, sizeof msg_text, "Method not found: %.150s (this server declares no %s)",
                 method, method[0] == 'r' ? "resources" : "prompts");
        out->reply = cg_mcp_error(id, CG_JSONRPC_METHOD_NOT_FOUND, msg_text, NULL);
    } else if (!strcmp(method, "resources/list")) {
        out->reply = list_result(id, "resources", cg_mcp_resources_json(core->adapter));
    } else if (!strcmp(method, "resources/templates/list")) {
        out->reply = list_result(id, "resourceTemplates",
                                 cg_mcp_resource_templates_json(core->adapter));
    } else if (!strcmp(method, "resources/read")) {
        handle_resources_read(core, id, params, out);
    } else if (!strcmp(method, "prompts/list")) {
        out->reply = list_result(id, "prompts", cg_mcp_prompts_json(core->adapter));
    } else if (!strcmp(method, "prompts/get")) {
        out->reply = handle_prompts_get(core, id, params);
    } else {
        char msg_text[200];
        snprintf(msg_text, sizeof msg_text, "Method not found: %.150s", method);
        out->reply = cg_mcp_error(id, CG_JSONRPC_METHOD_NOT_FOUND, msg_text, NULL);
    }
    if (out->act == CG_MCP_ACT_REPLY && !out->reply) /* out of memory on the way */
        out->reply = cg_mcp_error(id, CG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
}

void cg_mcp_action_release(cg_mcp_action *a)
{
    json_decref(a->reply);
    json_decref(a->cancel_id);
    json_decref(a->task_req_id);
    cg_mcp_call_free(a->call);
    memset(a, 0, sizeof *a);
}

/* --- tools/call: results ------------------------------------------------------------------ */

const cg_tool *cg_mcp_call_tool(const cg_mcp_call *c)
{
    return c->tool;
}
const json_t *cg_mcp_call_id(const cg_mcp_call *c)
{
    return c->id;
}
const json_t *cg_mcp_call_progress_token(const cg_mcp_call *c)
{
    return c->progress_token;
}

bool cg_mcp_call_task(const cg_mcp_call *c, long long *ttl_ms)
{
    *ttl_ms = c->task_ttl;
    return c->task;
}

bool cg_mcp_call_lookup(void *ctx, const cg_argument *arg, const char **value, size_t *len)
{
    const cg_mcp_call *c = ctx;
    if (arg->is_credential) return false;
    const cg_call *call = &c->tool->call;
    if (arg < call->arguments || arg >= call->arguments + call->n_arguments) {
        /* not one of ours: look it up by name */
        size_t i;
        if (!find_argument(call, arg->name, &i)) return false;
        arg = &call->arguments[i];
    }
    size_t i = (size_t)(arg - call->arguments);
    if (!c->values || !c->values[i]) return false;
    *value = c->values[i];
    *len = c->lens[i];
    return true;
}

/* A JSON string from bytes that may not be UTF-8 (invalid bytes become U+FFFD). */
static json_t *text_value(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j) return j;
    cg_buf b = CG_BUF_INIT;
    if (cg_buf_append_str(&b, "\"") < 0 || cg_buf_append_json_escaped(&b, s, n) < 0 ||
        cg_buf_append_str(&b, "\"") < 0) {
        cg_buf_free(&b);
        return NULL;
    }
    j = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
    cg_buf_free(&b);
    return j;
}

/* structured: the tool declares an outputSchema, so structuredContent must be there even
 * for an empty or non-JSON body ({} and {"value": text}, which its schema admits). */
static json_t *success_result(const cg_call_result *res, bool structured)
{
    if (res->status == 204 || res->body_len == 0) {
        /* no body: say what happened, so an agent gets a confirmation to read */
        char said[96];
        snprintf(said, sizeof said, "done: the upstream answered HTTP %d with no content",
                 res->status);
        return structured ? json_pack("{s:[{s:s, s:s}], s:{}}", "content", "type", "text", "text",
                                      said, "structuredContent")
                          : json_pack("{s:[{s:s, s:s}]}", "content", "type", "text", "text", said);
    }
    json_t *doc = json_loadb(res->body, res->body_len, JSON_DECODE_ANY, NULL);
    json_t *text = text_value(res->body, res->body_len);
    json_t *r = json_pack("{s:[{s:s, s:o}]}", "content", "type", "text", "text", text);
    if (r && (doc || structured)) {
        json_t *sc = !doc                  ? json_pack("{s:O}", "value", text)
                     : json_is_object(doc) ? json_incref(doc)
                     : json_is_array(doc)  ? json_pack("{s:O}", "items", doc)
                                           : json_pack("{s:O}", "value", doc);
        json_object_set_new(r, "structuredContent", sc);
    }
    json_decref(doc);
    return r;
}

static json_t *upstream_error_result(const cg_call_result *res)
{
    char head[96];
    snprintf(head, sizeof head, "upstream returned HTTP %d", res->status);
    cg_buf t = CG_BUF_INIT;
    cg_buf_append_str(&t, head);
    if (res->body_len) {
        cg_buf_append_str(&t, ": ");
        cg_buf_append(&t, res->body, res->body_len);
    }
    json_t *body = res->body_len ? json_loadb(res->body, res->body_len, JSON_DECODE_ANY, NULL)
                                 : NULL;
    if (!body) body = text_value(res->body ? res->body : "", res->body_len);
    json_t *sc = json_pack("{s:s, s:i, s:o}", "error", "upstream-status", "status", res->status,
                           "body", body);
    json_t *text = text_value(t.data ? t.data : head, t.len ? t.len : strlen(head));
    cg_buf_free(&t);
    json_t *r = tool_error_result("", sc);
    if (r && text)
        json_object_set_new(json_array_get(json_object_get(r, "content"), 0), "text", text);
    else json_decref(text);
    return r;
}

static json_t *capgate_error_result(const cg_call_result *res)
{
    char text[512];
    if (res->error == CG_CALL_BAD_ARGUMENT && res->argument)
        snprintf(text, sizeof text, "invalid argument '%s': %s", res->argument, res->message);
    else snprintf(text, sizeof text, "%s: %s", cg_call_error_title(res->error), res->message);
    json_t *sc = json_pack("{s:s, s:s}", "error", cg_call_error_slug(res->error), "message",
                           res->message);
    if (sc && res->argument) json_object_set_new(sc, "argument", json_string(res->argument));
    if (sc && res->upstream_status)
        json_object_set_new(sc, "status", json_integer(res->upstream_status));
    return tool_error_result(text, sc);
}

/* A dynamic resource's answer: the (shaped) body as text with the resource's mimeType; a
 * failure is a JSON-RPC error (resources/read has no isError), -32602 for a URI value the
 * call refused, -32002 when the upstream answered 404, -32603 for anything else, with the
 * upstream's status and body as data. */
static json_t *resource_reply(const cg_mcp_call *c, const cg_call_result *res)
{
    char text[512];
    if (res->error == CG_CALL_OK && res->status >= 200 && res->status < 300) {
        const char *mime = c->resource->mime_type ? c->resource->mime_type
                           : res->content_type    ? res->content_type
                                                  : "application/json";
        json_t *body = text_value(res->body ? res->body : "", res->body_len);
        json_t *r = body ? json_pack("{s:[{s:s, s:s, s:o}]}", "contents", "uri", c->uri, "mimeType",
                                     mime, "text", body)
                         : NULL;
        return r ? cg_mcp_result(c->id, r)
                 : cg_mcp_error(c->id, CG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
    }
    if (res->error == CG_CALL_BAD_ARGUMENT) {
        snprintf(text, sizeof text, "Invalid params: %s%s%s", res->argument ? res->argument : "",
                 res->argument ? ": " : "", res->message);
        return cg_mcp_error(c->id, CG_JSONRPC_INVALID_PARAMS, text, NULL);
    }
    json_t *data;
    if (res->error == CG_CALL_OK) {
        snprintf(text, sizeof text, "Resource '%s': upstream returned HTTP %d", c->resource->name,
                 res->status);
        json_t *body = res->body_len ? json_loadb(res->body, res->body_len, JSON_DECODE_ANY, NULL)
                                     : NULL;
        if (!body) body = text_value(res->body ? res->body : "", res->body_len);
        data = json_pack("{s:s, s:i, s:o*}", "error", "upstream-status", "status", res->status,
                         "body", body);
    } else {
        snprintf(text, sizeof text, "Resource '%s': %s: %s", c->resource->name,
                 cg_call_error_title(res->error), res->message);
        data = json_pack("{s:s}", "error", cg_call_error_slug(res->error));
    }
    /* MCP's "resource not found" for an upstream 404; -32603 for the rest */
    return cg_mcp_error(c->id,
                        res->error == CG_CALL_OK && res->status == 404 ? CG_MCP_RESOURCE_NOT_FOUND
                                                                       : CG_JSONRPC_INTERNAL_ERROR,
                        text, data);
}

/* 2026-07-28 (era.c): every result says resultType "complete"; a resource that is not
 * there is -32602 with the URI as data, no longer -32002. */
static json_t *modern_reply(const cg_mcp_call *c, json_t *reply)
{
    json_t *result = json_object_get(reply, "result");
    if (result) json_object_set_new(result, "resultType", json_string("complete"));
    json_t *error = json_object_get(reply, "error");
    if (error && c->resource &&
        json_integer_value(json_object_get(error, "code")) == CG_MCP_RESOURCE_NOT_FOUND) {
        json_object_set_new(error, "code", json_integer(CG_JSONRPC_INVALID_PARAMS));
        json_t *data = json_object_get(error, "data");
        if (json_is_object(data)) json_object_set_new(data, "uri", json_string(c->uri));
        else json_object_set_new(error, "data", json_pack("{s:s}", "uri", c->uri));
    }
    return reply;
}

json_t *cg_mcp_call_reply(const cg_mcp_call *c, const cg_call_result *res)
{
    json_t *r;
    if (c->resource) {
        json_t *reply = resource_reply(c, res);
        return c->modern && reply ? modern_reply(c, reply) : reply;
    }
    if (res->error != CG_CALL_OK) r = capgate_error_result(res);
    else if (res->status >= 200 && res->status < 300)
        r = success_result(res, c->tool->call.n_outputs > 0);
    else r = upstream_error_result(res);
    if (!r) return cg_mcp_error(c->id, CG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
    if (c->modern) json_object_set_new(r, "resultType", json_string("complete"));
    return cg_mcp_result(c->id, r);
}

void cg_mcp_call_set_modern(cg_mcp_call *c)
{
    c->modern = true;
}

/* --- the fast path: a strict JSON check and the reply written as text ------------------- */

/* o, when set, receives the text as the inside of a JSON string while it is checked: in
 * valid JSON only '"', backslash and the whitespace \n \r \t need escaping (anything else
 * stands for itself, UTF-8 included), so the bytes between those go out in one piece
 * (emit) and each of those goes out escaped (emit_escaped). The room is reserved before
 * (two bytes out per byte in, at most). */
typedef struct jscan {
    const unsigned char *p, *end;
    int depth;
    char *o;                      /* where the escaped text goes, or NULL */
    const unsigned char *emitted; /* the input before this is out */
} jscan;

static void emit(jscan *j, const unsigned char *upto)
{
    memcpy(j->o, j->emitted, (size_t)(upto - j->emitted));
    j->o += upto - j->emitted;
    j->emitted = upto;
}

/* Emits what precedes the byte at at, then that byte escaped. */
static void emit_escaped(jscan *j, const unsigned char *at)
{
    if (!j->o) return;
    emit(j, at);
    *j->o++ = '\\';
    *j->o++ = *at == '\n' ? 'n' : *at == '\r' ? 'r' : *at == '\t' ? 't' : (char)*at;
    j->emitted = at + 1;
}

static inline void skip_ws(jscan *j)
{
    const unsigned char *p = j->p;
    while (p < j->end && *p <= ' ' && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        if (*p != ' ') emit_escaped(j, p);
        p++;
    }
    j->p = p;
}

static bool scan_string(jscan *j)
{
    emit_escaped(j, j->p);
    j->p++; /* the opening quote */
    while (j->p < j->end) {
        const unsigned char *p = j->p, *end = j->end; /* the common run, in registers */
        while (p < end && cg_json_plain[*p]) p++;
        j->p = p;
        if (j->p == j->end) break;
        unsigned char c = *j->p;
        if (c == '"') {
            emit_escaped(j, j->p);
            j->p++;
            return true;
        }
        if (c < 0x20) return false;
        if (c == '\\') {
            if (j->end - j->p < 2) return false;
            unsigned char e = j->p[1];
            emit_escaped(j, j->p);
            if (e == '"' || e == '\\') emit_escaped(j, j->p + 1);
            if (e == 'u') {
                if (j->end - j->p < 6) return false;
                for (int i = 2; i < 6; i++)
                    if (!isxdigit(j->p[i])) return false;
                j->p += 6;
            } else if (e && strchr("\"\\/bfnrt", e)) {
                j->p += 2;
            } else {
                return false;
            }
        } else if (c >= 0x80) {
            size_t len = cg_utf8_sequence_length(j->p, (size_t)(j->end - j->p));
            if (!len) return false;
            j->p += len;
        } else {
            j->p++;
        }
    }
    return false;
}

static bool scan_digits(jscan *j)
{
    const unsigned char *start = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    return j->p > start;
}

static bool scan_number(jscan *j)
{
    if (*j->p == '-') j->p++;
    if (j->p < j->end && *j->p == '0') j->p++;
    else if (!scan_digits(j)) return false;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!scan_digits(j)) return false;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (!scan_digits(j)) return false;
    }
    return true;
}

/* word: a literal whose length the compiler knows (true, false, null) */
#define scan_literal(j, word) scan_word(j, word, sizeof word - 1)
static bool scan_word(jscan *j, const char *word, size_t n)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n)) return false;
    j->p += n;
    return true;
}

static bool scan_value(jscan *j)
{
    skip_ws(j);
    if (j->p >= j->end) return false;
    unsigned char c = *j->p;
    if (c == '{' || c == '[') {
        if (++j->depth > 256) return false;
        unsigned char close = c == '{' ? '}' : ']';
        j->p++;
        skip_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            j->depth--;
            return true;
        }
        for (;;) {
            if (c == '{') {
                skip_ws(j);
                if (j->p >= j->end || *j->p != '"' || !scan_string(j)) return false;
                skip_ws(j);
                if (j->p >= j->end || *j->p != ':') return false;
                j->p++;
            }
            if (!scan_value(j)) return false;
            skip_ws(j);
            if (j->p >= j->end) return false;
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p != close) return false;
            j->p++;
            j->depth--;
            return true;
        }
    }
    if (c == '"') return scan_string(j);
    if (c == '-' || (c >= '0' && c <= '9')) return scan_number(j);
    if (c == 't') return scan_literal(j, "true");
    if (c == 'f') return scan_literal(j, "false");
    if (c == 'n') return scan_literal(j, "null");
    return false;
}

/* cg_mcp_json_kind, and with out set, the text appended to it as the inside of a JSON
 * string (what cg_buf_append_json_escaped would append) when it is JSON; -1 out of memory. */
static int json_kind_escaped(const char *s, size_t n, cg_buf *out)
{
    if (out && (n > SIZE_MAX / 2 || cg_buf_reserve(out, 2 * n) < 0)) return -1;
    jscan j = {.p = (const unsigned char *)s,
               .end = (const unsigned char *)s + n,
               .o = out ? out->data + out->len : NULL,
               .emitted = (const unsigned char *)s};
    skip_ws(&j);
    unsigned char first = j.p < j.end ? *j.p : 0;
    if (!scan_value(&j)) return 0;
    skip_ws(&j);
    if (j.p != j.end) return 0;
    if (out) {
        emit(&j, j.end);
        out->len = (size_t)(j.o - out->data);
        out->data[out->len] = '\0';
    }
    return first == '{' ? 1 : first == '[' ? 2 : 3;
}

int cg_mcp_json_kind(const char *s, size_t n)
{
    return json_kind_escaped(s, n, NULL);
}

/* --- the fast way in: a plain tools/call read from its bytes -------------------------- */

/* A string at j->p with no escape in it (they would need decoding): its content. */
static bool scan_plain_string(jscan *j, const char **s, size_t *n)
{
    if (j->p >= j->end || *j->p != '"') return false;
    const unsigned char *start = j->p + 1;
    if (!scan_string(j)) return false;
    *s = (const char *)start;
    *n = (size_t)(j->p - 1 - start);
    return !memchr(*s, '\\', *n);
}

static bool slice_is(const char *s, size_t n, const char *word)
{
    return n == strlen(word) && !memcmp(s, word, n);
}

/* An integer written the one way jansson would write it back (no "-0", no fraction or
 * exponent, within int64 with room to spare): the text is the value. */
static bool scan_plain_integer(jscan *j, const char **s, size_t *n)
{
    const unsigned char *start = j->p;
    if (j->p >= j->end || !scan_number(j)) return false;
    *s = (const char *)start;
    *n = (size_t)(j->p - start);
    size_t sign = (*s)[0] == '-';
    for (size_t i = sign; i < *n; i++)
        if ((*s)[i] < '0' || (*s)[i] > '9') return false;
    return *n - sign <= 18 && !slice_is(*s, *n, "-0");
}

/* One argument's value: a plain string, a plain integer, true, false or null. */
static bool scan_quick_value(jscan *j, cg_mcp_quick_arg *a)
{
    if (j->p >= j->end) return false;
    unsigned char c = *j->p;
    a->kind = c;
    if (c == '"') return scan_plain_string(j, &a->value, &a->value_len);
    if (c == '-' || (c >= '0' && c <= '9')) {
        a->kind = '0';
        return scan_plain_integer(j, &a->value, &a->value_len);
    }
    a->value = (const char *)j->p;
    return c == 't'   ? scan_literal(j, "true")
           : c == 'f' ? scan_literal(j, "false")
                      : c == 'n' && scan_literal(j, "null");
}

/* Walks the members of the object at j->p, calling member() on each key with j at its
 * value; member() scans the value. false when the object is not well formed or member()
 * says no. */
static bool scan_members(jscan *j, bool (*member)(jscan *, const char *, size_t, void *), void *arg)
{
    skip_ws(j);
    if (j->p >= j->end || *j->p != '{') return false;
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return true;
    }
    for (;;) {
        const char *key;
        size_t key_len;
        skip_ws(j);
        if (!scan_plain_string(j, &key, &key_len)) return false;
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':') return false;
        j->p++;
        skip_ws(j);
        if (!member(j, key, key_len, arg)) return false;
        skip_ws(j);
        if (j->p >= j->end) return false;
        if (*j->p == '}') {
            j->p++;
            return true;
        }
        if (*j->p++ != ',') return false;
    }
}

/* The next entry of list (*n used of max) for key, or NULL when the list is full or key is
 * already there (a repeated key: cg_mcp_parse refuses the message). */
static cg_mcp_quick_arg *quick_entry(cg_mcp_quick_arg *list, size_t *n, size_t max, const char *key,
                                     size_t key_len)
{
    if (*n == max) return NULL;
    for (size_t k = 0; k < *n; k++)
        if (list[k].key_len == key_len && !memcmp(list[k].key, key, key_len)) return NULL;
    cg_mcp_quick_arg *e = &list[(*n)++];
    e->key = key;
    e->key_len = key_len;
    return e;
}

static bool quick_argument(jscan *j, const char *key, size_t key_len, void *arg)
{
    cg_mcp_quick *q = arg;
    cg_mcp_quick_arg *a = quick_entry(q->args, &q->n_args, CG_MCP_QUICK_MAX_ARGS, key, key_len);
    return a && scan_quick_value(j, a);
}

/* A member of params._meta: a plain string, or an object kept as its text. */
static bool quick_meta(jscan *j, const char *key, size_t key_len, void *arg)
{
    cg_mcp_quick *q = arg;
    cg_mcp_quick_arg *m = quick_entry(q->meta, &q->n_meta, CG_MCP_QUICK_MAX_META, key, key_len);
    if (!m) return false;
    m->kind = j->p < j->end ? (char)*j->p : 0;
    if (m->kind == '"') return scan_plain_string(j, &m->value, &m->value_len);
    m->value = (const char *)j->p;
    if (m->kind != '{' || !scan_value(j)) return false;
    m->value_len = (size_t)((const char *)j->p - m->value);
    return true;
}

static bool quick_param(jscan *j, const char *key, size_t key_len, void *arg)
{
    cg_mcp_quick *q = arg;
    if (slice_is(key, key_len, "_meta") && !q->has_meta) {
        q->has_meta = true;
        return scan_members(j, quick_meta, q);
    }
    if (slice_is(key, key_len, "name") && !q->name)
        return scan_plain_string(j, &q->name, &q->name_len);
    if (slice_is(key, key_len, "arguments") && !q->has_arguments) {
        q->has_arguments = true;
        return scan_members(j, quick_argument, q);
    }
    return false; /* task, a repeated key, anything else: the general way */
}

enum { SEEN_JSONRPC = 1, SEEN_ID = 2, SEEN_METHOD = 4, SEEN_PARAMS = 8 };

typedef struct quick_top {
    cg_mcp_quick *q;
    unsigned seen;
} quick_top;

static bool quick_member(jscan *j, const char *key, size_t key_len, void *arg)
{
    quick_top *t = arg;
    const char *s;
    size_t n;
    unsigned bit = slice_is(key, key_len, "jsonrpc")  ? SEEN_JSONRPC
                   : slice_is(key, key_len, "id")     ? SEEN_ID
                   : slice_is(key, key_len, "method") ? SEEN_METHOD
                   : slice_is(key, key_len, "params") ? SEEN_PARAMS
                                                      : 0;
    if (!bit || (t->seen & bit)) return false;
    t->seen |= bit;
    switch (bit) {
    case SEEN_JSONRPC: return scan_plain_string(j, &s, &n) && slice_is(s, n, "2.0");
    case SEEN_METHOD: return scan_plain_string(j, &s, &n) && slice_is(s, n, "tools/call");
    case SEEN_PARAMS: return scan_members(j, quick_param, t->q);
    default:
        t->q->id_is_string = j->p < j->end && *j->p == '"';
        return t->q->id_is_string ? scan_plain_string(j, &t->q->id, &t->q->id_len)
                                  : scan_plain_integer(j, &t->q->id, &t->q->id_len);
    }
}

bool cg_mcp_quick_read(const char *text, size_t len, cg_mcp_quick *q)
{
    jscan j = {.p = (const unsigned char *)text, .end = (const unsigned char *)text + len};
    quick_top t = {q, 0};
    q->name = NULL;
    q->n_args = q->n_meta = 0;
    q->has_arguments = q->has_meta = false;
    if (!scan_members(&j, quick_member, &t) || t.seen != 15 || !q->name) return false;
    skip_ws(&j);
    return j.p == j.end;
}

/* The text the argument's value stands for as type t, when that is the value's own text;
 * false for anything argument_text has to work out (it decides those). */
static bool quick_argument_text(cg_type t, const cg_mcp_quick_arg *a)
{
    switch (t) {
    case CG_TYPE_INTEGER:
    case CG_TYPE_NUMBER: return a->kind == '0';
    case CG_TYPE_BOOLEAN: return a->kind == 't' || a->kind == 'f';
    case CG_TYPE_OBJECT:
    case CG_TYPE_ARRAY: return false;
    default: return a->kind == '"';
    }
}

cg_mcp_call *cg_mcp_quick_call(const cg_mcp_core *core, const cg_mcp_state *st,
                               const cg_mcp_quick *q)
{
    char name[256];
    if (!st->initialize_answered || q->name_len >= sizeof name) return NULL;
    if (q->has_meta) return NULL; /* a progress token, or 2026-07-28's (era.h reads those) */
    memcpy(name, q->name, q->name_len);
    name[q->name_len] = 0;
    const cg_tool *tool = cg_spec_find_tool(core->adapter, name);
    if (!tool) return NULL;
    json_t *id = q->id_is_string ? json_stringn(q->id, q->id_len)
                                 : json_integer(strtoll(q->id, NULL, 10));
    cg_mcp_call *c = new_call(tool, id);
    if (!c) return NULL;
    for (size_t k = 0; k < q->n_args; k++) {
        const cg_mcp_quick_arg *a = &q->args[k];
        size_t i;
        if (a->key_len >= sizeof name) goto general;
        memcpy(name, a->key, a->key_len);
        name[a->key_len] = 0;
        const cg_argument *arg = find_argument(&tool->call, name, &i);
        if (!arg) goto general;       /* an unknown argument: refused there */
        if (a->kind == 'n') continue; /* null = not given */
        if (!quick_argument_text(arg->type, a)) goto general;
        size_t n = a->kind == 't' ? 4 : a->kind == 'f' ? 5 : a->value_len;
        if (!(c->values[i] = strndup(a->value, n))) goto general;
        c->lens[i] = n;
    }
    for (size_t i = 0; i < tool->call.n_arguments; i++)
        if (tool->call.arguments[i].required && !tool->call.arguments[i].is_credential &&
            !c->values[i])
            goto general;
    return c;
general:
    cg_mcp_call_free(c);
    return NULL;
}

static int append_id(cg_buf *out, const json_t *id)
{
    if (json_is_integer(id)) return cg_buf_append_int(out, json_integer_value(id));
    if (json_is_string(id)) {
        if (cg_buf_append_str(out, "\"") < 0 ||
            cg_buf_append_json_escaped(out, json_string_value(id), json_string_length(id)) < 0)
            return -1;
        return cg_buf_append_str(out, "\"");
    }
    return cg_buf_append_str(out, "null");
}

/* The fast path's reply: the envelope, the body escaped as the text block while it is
 * checked, and the body verbatim as structuredContent. 1 done, 0 the body is not a JSON
 * object or array (nothing appended), -1 out of memory. */
static int reply_text_passthrough(const cg_mcp_call *c, const cg_call_result *res, cg_buf *out)
{
    size_t mark = out->len;
    int kind = -1;
    /* the body three times over (escaped: twice at most; verbatim) and the envelope: room
     * for it in one step */
    if (res->body_len < SIZE_MAX / 4 && cg_buf_reserve(out, 3 * res->body_len + 192) == 0 &&
        cg_buf_append_str(out, "{\"jsonrpc\":\"2.0\",\"id\":") == 0 && append_id(out, c->id) == 0 &&
        cg_buf_append_str(
            out, c->modern ? ",\"result\":{\"resultType\":\"complete\",\"content\":[{"
                             "\"type\":\"text\",\"text\":\""
                           : ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"") == 0)
        kind = json_kind_escaped(res->body, res->body_len, out);
    if ((kind == 1 || kind == 2) &&
        cg_buf_append_str(out, kind == 1 ? "\"}],\"structuredContent\":"
                                         : "\"}],\"structuredContent\":{\"items\":") == 0 &&
        cg_buf_append(out, res->body, res->body_len) == 0 &&
        cg_buf_append_str(out, kind == 1 ? "}}" : "}}}") == 0)
        return 1;
    out->len = mark;
    if (out->data) out->data[mark] = 0;
    return kind == 0 || kind == 3 ? 0 : -1;
}

int cg_mcp_call_reply_text(const cg_mcp_call *c, const cg_call_result *res, cg_buf *out)
{
    if (!c->resource && res->error == CG_CALL_OK && res->status >= 200 && res->status < 300 &&
        res->status != 204 && res->body_len) {
        int rc = reply_text_passthrough(c, res, out);
        if (rc != 0) return rc < 0 ? -1 : 0;
    }
    json_t *reply = cg_mcp_call_reply(c, res);
    size_t len;
    char *text = reply ? cg_mcp_dump(reply, &len) : NULL;
    json_decref(reply);
    int rc = text ? cg_buf_append(out, text, len) : -1;
    free(text);
    return rc;
}

json_t *cg_mcp_call_progress(const cg_mcp_call *c, double progress, double total,
                             const char *message)
{
    if (!c->progress_token) return NULL;
    json_t *p = json_pack("{s:O, s:f, s:f}", "progressToken", c->progress_token, "progress",
                          progress, "total", total);
    if (p && message) json_object_set_new(p, "message", json_string(message));
    return p;
}

void cg_mcp_call_free(cg_mcp_call *c)
{
    if (!c) return;
    if (c->values)
        for (size_t i = 0; i < c->tool->call.n_arguments; i++) free(c->values[i]);
    free(c->uri);
    json_decref(c->id);
    json_decref(c->progress_token);
    free(c);
}
