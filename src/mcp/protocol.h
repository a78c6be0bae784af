/*
 * protocol.h — the MCP protocol core, independent of any transport.
 *
 * Everything MCP means, and nothing about how bytes travel: JSON-RPC 2.0 parsing and
 * validation, the lifecycle (initialize, version negotiation, initialized), ping,
 * logging/setLevel, tools/list (with pagination), tools/call argument checking and result
 * shaping, resources and prompts (lists, reads and rendering in catalog.c), and the
 * bookkeeping that cancellation needs. Streamable HTTP (http_transport.c)
 * and stdio (stdio_transport.c) both feed it messages and carry out what it decides, so
 * both speak exactly the same protocol, and it can be unit-tested and fuzzed with plain
 * strings.
 *
 * The core never calls the upstream itself. For a tools/call it checks the arguments
 * against the tool's schema and hands back a prepared cg_mcp_call; the transport starts
 * the operation call (engine/call.h) with cg_mcp_call_lookup as the value lookup, and
 * turns the outcome into the JSON-RPC response with cg_mcp_call_reply. A resources/read of
 * a dynamic resource comes back the same way: a cg_mcp_call whose "tool" is the resource
 * (its name and call), whose arguments are the URI's template values, and whose reply is a
 * ReadResourceResult; the transports need not know the difference.
 *
 * Ownership: every json_t handed out is a new reference the caller must json_decref; a
 * cg_mcp_call is freed with cg_mcp_call_free. A cg_mcp_core is immutable after creation
 * and may be shared by any number of threads; a cg_mcp_state belongs to one session and
 * the caller serialises access to it.
 */
#ifndef CG_MCP_PROTOCOL_H
#define CG_MCP_PROTOCOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcp/jsonrpc.h"
#include "spec/spec.h"

struct cg_call_result;

/* Protocol revisions: the first is offered when a client asks for one we do not speak. */
#define CG_MCP_LATEST_VERSION "2025-11-25"
/* Assumed when a request names no version and none was negotiated (transports.mdx). */
#define CG_MCP_DEFAULT_VERSION "2025-03-26"

/* Largest JSON-RPC message accepted (bytes), on every transport. */
#define CG_MCP_MAX_MESSAGE (4u * 1024u * 1024u)

/* RFC 5424 severities as MCP names them, least severe first. */
typedef enum {
    CG_MCP_LOG_DEBUG,
    CG_MCP_LOG_INFO,
    CG_MCP_LOG_NOTICE,
    CG_MCP_LOG_WARNING,
    CG_MCP_LOG_ERROR,
    CG_MCP_LOG_CRITICAL,
    CG_MCP_LOG_ALERT,
    CG_MCP_LOG_EMERGENCY,
} cg_mcp_log_level;

/* One session's protocol state. Zero-initialised means "nothing received yet". */
typedef struct cg_mcp_state {
    bool initialize_answered;   /* initialize succeeded: a second one is refused */
    bool initialized;           /* notifications/initialized arrived */
    char version[16];           /* negotiated protocol revision ("" before initialize) */
    cg_mcp_log_level log_level; /* set by logging/setLevel (default CG_MCP_LOG_INFO) */
    bool log_level_set;
    char client_name[64]; /* clientInfo.name, for logs ("" when none) */
} cg_mcp_state;

typedef struct cg_mcp_core_options {
    const char *server_name;    /* serverInfo.name; default the adapter's namespace */
    const char *server_version; /* serverInfo.version; default CAPGATE_VERSION */
    size_t page_size;           /* tools/list page size; 0 = every tool on one page */
    bool lists_private;         /* 2026-07-28 cacheScope of lists: "private" (callers
                                 * authenticate) instead of "public" */
} cg_mcp_core_options;

typedef struct cg_mcp_core cg_mcp_core;

/* The core for one MCP adapter of spec (both must outlive it). opt may be NULL.
 * NULL when out of memory. */
cg_mcp_core *cg_mcp_core_create(const cg_spec *spec, const cg_mcp_adapter *adapter,
                                const cg_mcp_core_options *opt);
void cg_mcp_core_free(cg_mcp_core *core);
const cg_mcp_adapter *cg_mcp_core_adapter(const cg_mcp_core *core);
/* The server's capabilities and serverInfo, as initialize (and server/discover) give them.
 * New references; NULL when out of memory. */
json_t *cg_mcp_core_capabilities(const cg_mcp_core *core);
json_t *cg_mcp_core_server_info(const cg_mcp_core *core);
bool cg_mcp_core_lists_private(const cg_mcp_core *core);

/* true when version is one this server speaks. */
bool cg_mcp_version_supported(const char *version);
/* "2025-11-25, 2025-06-18, 2025-03-26", for error messages. */
const char *cg_mcp_supported_versions(void);

/* --- JSON-RPC messages ------------------------------------------------------------ */

typedef enum {
    CG_MCP_MSG_INVALID,      /* not a JSON-RPC 2.0 message */
    CG_MCP_MSG_REQUEST,      /* method + id */
    CG_MCP_MSG_NOTIFICATION, /* method, no id */
    CG_MCP_MSG_RESPONSE,     /* id + result or error (the client answering us) */
} cg_mcp_msg_kind;

/* What kind of message msg is. For CG_MCP_MSG_INVALID, *why (may be NULL) says why. */
cg_mcp_msg_kind cg_mcp_classify(const json_t *msg, const char **why);

/* Parses text as JSON, keeping integers exact. NULL on a syntax error, with a short
 * description in err (may be NULL). Text over CG_MCP_MAX_MESSAGE is refused unparsed. */
json_t *cg_mcp_parse(const char *text, size_t len, char *err, size_t errlen);

/* {"jsonrpc":"2.0","id":id,"result":result}. Steals result. id may be NULL (→ null). */
json_t *cg_mcp_result(const json_t *id, json_t *result);
/* {"jsonrpc":"2.0","id":id,"error":{code,message[,data]}}. Steals data (may be NULL). */
json_t *cg_mcp_error(const json_t *id, int code, const char *message, json_t *data);
/* A notification {"jsonrpc":"2.0","method":method,"params":params}. Steals params. */
json_t *cg_mcp_notification(const char *method, json_t *params);

/* Serialises a message on one line (no newline inside), exact integers. free() it. */
char *cg_mcp_dump(const json_t *msg, size_t *len);

/* --- Handling one message ----------------------------------------------------------- */

typedef struct cg_mcp_call cg_mcp_call;

typedef enum {
    CG_MCP_ACT_NONE,   /* nothing to answer (a notification or a response) */
    CG_MCP_ACT_REPLY,  /* send reply */
    CG_MCP_ACT_CALL,   /* start call (tools/call whose arguments passed, or
                                 * resources/read of a dynamic resource) */
    CG_MCP_ACT_CANCEL, /* abort the request whose id is cancel_id, if running */
    CG_MCP_ACT_TASK,   /* answer tasks/<task_op> for task_id from the task store
                                 * (tasks.h); task_req_id is the request's id */
} cg_mcp_act;

/* Task ids (tasks.h) are shorter than this. */
#define CG_MCP_TASK_ID_MAX 40

typedef enum {
    CG_MCP_TASK_GET,
    CG_MCP_TASK_RESULT,
    CG_MCP_TASK_LIST,
    CG_MCP_TASK_CANCEL
} cg_mcp_task_op;

typedef struct cg_mcp_action {
    cg_mcp_act act;
    json_t *reply;                    /* CG_MCP_ACT_REPLY: the whole response message */
    cg_mcp_call *call;                /* CG_MCP_ACT_CALL */
    json_t *cancel_id;                /* CG_MCP_ACT_CANCEL: the id named by the client */
    cg_mcp_task_op task_op;           /* CG_MCP_ACT_TASK */
    char task_id[CG_MCP_TASK_ID_MAX]; /* ("" for tasks/list) */
    json_t *task_req_id;
    const char *method; /* the message's method, NULL for responses (for logs) */
} cg_mcp_action;

/* Handles one valid message (classified REQUEST, NOTIFICATION or RESPONSE) against a
 * session's state, which it updates (initialize, initialized, logging/setLevel). *out
 * must be released with cg_mcp_action_release. Never fails: out of memory becomes a
 * -32603 reply when a reply is due. */
void cg_mcp_handle(const cg_mcp_core *core, cg_mcp_state *state, const json_t *msg,
                   cg_mcp_action *out);
void cg_mcp_action_release(cg_mcp_action *a);

/* The whole error response for a message that failed cg_mcp_parse or cg_mcp_classify
 * (id null, or the message's id when it has a usable one). */
json_t *cg_mcp_invalid_reply(const json_t *msg, int code, const char *why);

/* true when msg is an `initialize` request. */
bool cg_mcp_is_initialize(const json_t *msg);

/* --- A prepared tools/call (or dynamic resources/read) --------------------------------- */

/* The tool called; for a resources/read, the resource's name, title, description and call
 * dressed as a tool (valid as long as the cg_mcp_call). */
const cg_tool *cg_mcp_call_tool(const cg_mcp_call *c);
const json_t *cg_mcp_call_id(const cg_mcp_call *c);
/* true when the call is task-augmented (a 2025-11-25 session sent `task`): *ttl_ms is the
 * ttl it asked for, -1 for none. */
bool cg_mcp_call_task(const cg_mcp_call *c, long long *ttl_ms);
/* The client's _meta.progressToken (string or integer), or NULL. */
const json_t *cg_mcp_call_progress_token(const cg_mcp_call *c);

/* A cg_call_lookup (engine/call.h) over the call's checked arguments: ctx is the
 * cg_mcp_call. Credential arguments are never found here. */
bool cg_mcp_call_lookup(void *ctx, const cg_argument *arg, const char **value, size_t *len);

/* The JSON-RPC response for the call's outcome: upstream 2xx → structuredContent + text,
 * 204 → empty success, 4xx/5xx → isError with status and body, capgate's own failures →
 * isError naming the argument or the cause. For a resources/read: {contents: [{uri,
 * mimeType, text}]} on 2xx, else a JSON-RPC error (-32602 a refused value, -32002 an
 * upstream 404, -32603 the rest). */
json_t *cg_mcp_call_reply(const cg_mcp_call *c, const struct cg_call_result *res);

/* The same response, serialised (one line) and appended to out, without building a JSON
 * tree when the upstream answered 2xx with a JSON object or array: the body is checked
 * (strict RFC 8259 JSON, valid UTF-8) and copied verbatim as structuredContent, and
 * escaped as the text block. Byte-for-byte the `$.` passthrough, and the hot path of
 * every transport. 0, or -1 when out of memory. */
int cg_mcp_call_reply_text(const cg_mcp_call *c, const struct cg_call_result *res, cg_buf *out);

/* What a JSON text is, after a strict check (RFC 8259, valid UTF-8, nesting at most 256):
 * 0 not JSON, 1 an object, 2 an array, 3 any other value. */
int cg_mcp_json_kind(const char *s, size_t n);

/* --- The fast way in for a plain tools/call ---------------------------------------------
 *
 * Most messages an agent sends are one tools/call of this shape:
 *   {"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"t","arguments":{"a":1}}}
 * (keys in any order, id an integer or a string, argument values strings, integers, true,
 * false or null, nothing escaped; a _meta of strings and objects, which 2026-07-28 requests
 * carry). Such a message is read straight from its bytes, without building a JSON tree.
 * Anything else — another method, a progress token, task, a batch, escapes,
 * nested or fractional values, a repeated key — and every case that ends in an error is left
 * to cg_mcp_parse + cg_mcp_handle, which decide them, so the answer is the same either way. */

#define CG_MCP_QUICK_MAX_ARGS 16

typedef struct cg_mcp_quick_arg {
    const char *key, *value; /* slices of the message: a string's content, a number's or
                              * an object's text */
    size_t key_len, value_len;
    char kind; /* '"' string, '0' integer, 't' true, 'f' false, 'n' null, '{' object */
} cg_mcp_quick_arg;

#define CG_MCP_QUICK_MAX_META 4

typedef struct cg_mcp_quick {
    const char *id, *name; /* slices of the message */
    size_t id_len, name_len;
    bool id_is_string;
    bool has_arguments;
    size_t n_args;
    cg_mcp_quick_arg args[CG_MCP_QUICK_MAX_ARGS];
    bool has_meta;
    size_t n_meta; /* params._meta's members: plain strings or objects (era.h reads them) */
    cg_mcp_quick_arg meta[CG_MCP_QUICK_MAX_META];
} cg_mcp_quick;

/* true when text is one plain tools/call (above), its parts in *q (pointing into text). */
bool cg_mcp_quick_read(const char *text, size_t len, cg_mcp_quick *q);
/* The call cg_mcp_handle would start for that message (one without _meta) in a session in
 * state st, or NULL
 * when it would not start one as it is (an error to report, a value to convert, out of
 * memory): the message then takes the general way. */
cg_mcp_call *cg_mcp_quick_call(const cg_mcp_core *core, const cg_mcp_state *st,
                               const cg_mcp_quick *q);

/* The params of a notifications/progress for the call, or NULL without a progressToken. */
json_t *cg_mcp_call_progress(const cg_mcp_call *c, double progress, double total,
                             const char *message);

/* Marks a call made under 2026-07-28 (era.h): its reply carries resultType "complete",
 * and a resource the upstream does not have is -32602 with data.uri. */
void cg_mcp_call_set_modern(cg_mcp_call *c);

void cg_mcp_call_free(cg_mcp_call *c);

/* Names for logs. */
const char *cg_mcp_log_level_name(cg_mcp_log_level level);

#endif
