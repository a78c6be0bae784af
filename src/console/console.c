/*
 * console.c — the console's page, JSON endpoints, tool calls and live stream. See console.h.
 *
 * Requests that answer at once (the static files, capability, stats, events) are answered
 * inside cg_console_handle. Three kinds wait on the loop and keep a creq until the REST
 * adapter's on_end hands it back: an upstream probe (one transfer per consumed API, the
 * answer when the last one is in), a tool call (engine/call.h, answered as MCP's tools/call
 * would be), and a stream, which stays on the console's list of streams and is fed by one
 * timer per console while any stream is open.
 *
 * Everything the page shows from the spec, an upstream or a call goes out as JSON data; the
 * page renders it as text (see www/console.js), and every page response carries a
 * Content-Security-Policy that allows scripts, styles and connections to this origin only.
 */
#include "console/console.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/embed.h"
#include "common/www.h"
#include "net/loop.h"
#include "net/upstream.h"
#include "mcp/protocol.h"
#include "mcp/tool_schema.h"

CG_EMBED(cg_console_index_html, "src/console/www/index.html");
CG_EMBED(cg_console_js, "src/console/www/console.js");
CG_EMBED(cg_console_css, "src/console/www/console.css");

#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
#define EVENTS_MAX 200
#define STREAM_TICK_MS 100
#define STREAM_HEARTBEAT_MS 15000
#define PROBE_CONNECT_MS 1000
#define PROBE_TIMEOUT_MS 2000
#define MAX_PROBES 16

typedef enum { CREQ_PROBE, CREQ_CALL, CREQ_STREAM } creq_kind;

typedef struct probe {
    struct creq *owner;
    const cg_consumes *api;
    cg_upstream_transfer *transfer;
    int status; /* HTTP status, 0 when none came */
    char error[160];
    double ms;
} probe;

/* A request the console answers later. */
typedef struct creq {
    cg_console *console;
    cg_h1s_request *hrq;
    creq_kind kind;
    /* CREQ_PROBE */
    probe probes[MAX_PROBES];
    size_t n_probes, probes_left;
    /* CREQ_CALL */
    cg_mcp_call *call;
    cg_call_job *job;
    char tool[CG_FEED_TARGET_MAX];
    struct timespec t0;
    /* CREQ_STREAM */
    uint64_t after;           /* the last event sent */
    uint64_t skipped;         /* events not sent (ring overrun or rate cap), to report */
    uint64_t last_write;      /* loop time of the last write */
    struct creq *prev, *next; /* the console's streams */
} creq;

struct cg_console {
    cg_engine *engine;
    cg_loop *loop;
    cg_console_options opt;
    cg_mcp_core *core; /* for tool calls; NULL without an MCP adapter */
    char *capability;  /* GET /console/api/capability, built once */
    size_t capability_len;
    creq *streams;
    uint64_t timer;
};

/* ---- answering ------------------------------------------------------------------- */

static void respond(cg_h1s_request *rq, int status, const char *type, char *body, size_t len,
                    void (*free_body)(void *))
{
    const cg_h1s_header h[] = {
        {"Content-Type", type},
        {"Content-Security-Policy", CSP},
        {"X-Content-Type-Options", "nosniff"},
        {"Cache-Control", "no-store"},
        {"Referrer-Policy", "no-referrer"},
    };
    cg_h1s_respond(rq, status, h, sizeof h / sizeof h[0], body, len, free_body);
}

static void respond_buf(cg_h1s_request *rq, int status, cg_buf *b)
{
    size_t len = b->len;
    char *body = cg_buf_steal(b);
    cg_buf_free(b);
    if (!body) {
        static char oom[] =
            "{\"status\":503,\"title\":\"Service Unavailable\",\"detail\":\"out of memory\"}";
        respond(rq, 503, "application/problem+json", oom, sizeof oom - 1, NULL);
        return;
    }
    respond(rq, status, "application/json", body, len, free);
}

static void respond_json(cg_h1s_request *rq, int status, json_t *j)
{
    cg_buf b = CG_BUF_INIT;
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text) cg_buf_append_str(&b, text);
    free(text);
    respond_buf(rq, status, &b);
}

/* An RFC 9457 problem, as the REST adapter writes them. */
static void problem(cg_h1s_request *rq, int status, const char *title, const char *detail)
{
    cg_buf b = CG_BUF_INIT;
    cg_buf_printf(&b, "{\"type\":\"about:blank\",\"title\":\"");
    cg_buf_append_json_escaped(&b, title, strlen(title));
    cg_buf_printf(&b, "\",\"status\":%d,\"detail\":\"", status);
    cg_buf_append_json_escaped(&b, detail, strlen(detail));
    cg_buf_append_str(&b, "\"}");
    size_t len = b.len;
    char *body = cg_buf_steal(&b);
    cg_buf_free(&b);
    respond(rq, status, "application/problem+json", body, body ? len : 0, free);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ---- the page ---------------------------------------------------------------------- */

typedef struct asset {
    const char *path, *type;
    const char *data, *end;
} asset;

static const asset *find_asset(const char *path)
{
    static asset assets[6];
    if (!assets[0].path) { /* filled on first use: the symbols are not constant expressions */
        assets[0] = (asset){"/console/", "text/html; charset=utf-8", cg_console_index_html,
                            cg_console_index_html_end};
        assets[1] = (asset){"/console/console.js", "text/javascript; charset=utf-8", cg_console_js,
                            cg_console_js_end};
        assets[2] = (asset){"/console/console.css", "text/css; charset=utf-8", cg_console_css,
                            cg_console_css_end};
        assets[3] = (asset){"/console/favicon.svg", "image/svg+xml", cg_www_favicon,
                            cg_www_favicon_end};
        assets[4] = (asset){"/console/page.js", "text/javascript; charset=utf-8", cg_www_page_js,
                            cg_www_page_js_end};
        assets[5] = (asset){"/console/page.css", "text/css; charset=utf-8", cg_www_page_css,
                            cg_www_page_css_end};
    }
    for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++)
        if (!strcmp(path, assets[i].path)) return &assets[i];
    return NULL;
}

bool cg_console_is_public(const char *method, const char *path)
{
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) return false;
    return !strcmp(path, "/console") || !strcmp(path, "/console/index.html") ||
           find_asset(path) != NULL;
}

static void serve_page(cg_h1s_request *rq, const char *path)
{
    if (!strcmp(path, "/console")) {
        const cg_h1s_header h[] = {{"Location", "/console/"}, {"Content-Type", "text/plain"}};
        cg_h1s_respond(rq, 308, h, 2, (char *)"/console/\n", 10, NULL);
        return;
    }
    const asset *a = find_asset(strcmp(path, "/console/index.html") ? path : "/console/");
    respond(rq, 200, a->type, (char *)a->data, (size_t)(a->end - a->data), NULL);
}

/* ---- /console/api/capability -------------------------------------------------------- */

static json_t *argument_json(const cg_argument *a)
{
    return json_pack("{s:s,s:s,s:s,s:b,s:s?}", "name", a->name, "in", cg_location_name(a->in),
                     "type", cg_type_name(a->type), "required", a->required, "description",
                     a->description);
}

static json_t *routes_json(const cg_rest_adapter *rest)
{
    json_t *routes = json_array();
    for (size_t i = 0; rest && i < rest->n_resources; i++) {
        const cg_rest_resource *res = &rest->resources[i];
        for (size_t k = 0; k < res->n_ops; k++) {
            const cg_rest_operation *op = &res->ops[k];
            json_t *args = json_array();
            for (size_t n = 0; n < op->call.n_arguments; n++)
                if (!op->call.arguments[n].is_credential)
                    json_array_append_new(args, argument_json(&op->call.arguments[n]));
            json_array_append_new(
                routes, json_pack("{s:s,s:s,s:s?,s:s?,s:o,s:s?}", "method", op->method, "path",
                                  res->path, "name", op->name, "description",
                                  op->description ? op->description : res->description, "arguments",
                                  args, "calls", op->call.op ? op->call.op->name : NULL));
        }
    }
    return routes;
}

static char *build_capability(cg_console *c, size_t *len)
{
    const cg_spec *spec = c->opt.spec;
    json_t *consumes = json_array();
    for (size_t i = 0; i < spec->n_consumes; i++) {
        const cg_consumes *api = &spec->consumes[i];
        json_array_append_new(
            consumes, json_pack("{s:s,s:s,s:s?,s:i,s:s}", "namespace", api->namespace_, "baseUri",
                                cg_engine_base_uri(c->engine, api), "description", api->description,
                                "operations", (json_int_t)api->n_ops, "authentication",
                                cg_auth_type_name(api->auth.type)));
    }
    json_t *doc = json_pack(
        "{s:s?,s:s?,s:s?,s:b,s:o,s:o,s:o,s:o}", "label", spec->label, "description",
        spec->description, "file", spec->file, "auth", c->opt.auth, "consumes", consumes, "routes",
        routes_json(c->opt.rest), "tools",
        c->opt.mcp ? cg_mcp_tools_json(c->opt.mcp) : json_array(), "mcp",
        c->opt.mcp_port ? json_pack("{s:i,s:s}", "port", c->opt.mcp_port, "path", "/mcp")
                        : json_null());
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    *len = text ? strlen(text) : 0;
    return text;
}

/* ---- /console/api/upstreams --------------------------------------------------------- */

static void answer_probes(creq *q)
{
    json_t *list = json_array();
    for (size_t i = 0; i < q->n_probes; i++) {
        const probe *p = &q->probes[i];
        json_array_append_new(list, json_pack("{s:s,s:s,s:b,s:o,s:s?,s:f}", "namespace",
                                              p->api->namespace_, "baseUri",
                                              cg_engine_base_uri(q->console->engine, p->api), "up",
                                              p->status > 0, "status",
                                              p->status ? json_integer(p->status) : json_null(),
                                              "error", p->error[0] ? p->error : NULL, "ms", p->ms));
    }
    respond_json(q->hrq, 200, json_pack("{s:o}", "upstreams", list));
}

static void on_probe_done(void *arg, cg_upstream_response *res)
{
    probe *p = arg;
    p->transfer = NULL;
    p->ms = res->seconds * 1e3;
    if (res->result == CG_UPSTREAM_OK) p->status = res->status;
    else
        snprintf(p->error, sizeof p->error, "%s",
                 res->error ? res->error : cg_upstream_result_name(res->result));
    creq *q = p->owner;
    if (--q->probes_left == 0) answer_probes(q); /* on_end may free q inside */
}

static creq *start_probes(cg_console *c, cg_h1s_request *rq)
{
    const cg_spec *spec = c->opt.spec;
    creq *q = calloc(1, sizeof *q);
    if (!q) {
        problem(rq, 503, "Service Unavailable", "out of memory");
        return NULL;
    }
    q->console = c;
    q->hrq = rq;
    q->kind = CREQ_PROBE;
    q->n_probes = spec->n_consumes < MAX_PROBES ? spec->n_consumes : MAX_PROBES;
    if (q->n_probes == 0) {
        answer_probes(q);
        return q;
    }
    q->probes_left = q->n_probes;
    for (size_t i = 0; i < q->n_probes; i++) {
        probe *p = &q->probes[i];
        p->owner = q;
        p->api = &spec->consumes[i];
        char url[2048];
        snprintf(url, sizeof url, "%s/", cg_engine_base_uri(c->engine, p->api));
        cg_upstream_request req = {.method = "GET",
                                   .url = url,
                                   .connect_timeout_ms = PROBE_CONNECT_MS,
                                   .timeout_ms = PROBE_TIMEOUT_MS};
        p->transfer = cg_upstream_submit(cg_engine_upstream(c->engine), &req, on_probe_done, p);
        if (!p->transfer) {
            snprintf(p->error, sizeof p->error, "could not start the probe");
            q->probes_left--;
        }
    }
    if (q->probes_left == 0) answer_probes(q);
    return q;
}

/* ---- /console/api/events and /console/api/stream ----------------------------------- */

static uint64_t after_param(cg_h1s_request *rq)
{
    const char *a = cg_h1s_query(rq, "after");
    if (!a || !*a) a = cg_h1s_header_value(rq, "Last-Event-ID");
    if (!a) return 0;
    char *end;
    unsigned long long v = strtoull(a, &end, 10);
    return *end || a[0] == '-' ? 0 : (uint64_t)v;
}

static void serve_events(cg_console *c, cg_h1s_request *rq)
{
    cg_feed_event *ev = malloc(EVENTS_MAX * sizeof *ev);
    if (!ev) {
        problem(rq, 503, "Service Unavailable", "out of memory");
        return;
    }
    uint64_t skipped = 0;
    size_t n = cg_feed_read(c->opt.feed, after_param(rq), ev, EVENTS_MAX, &skipped);
    cg_buf b = CG_BUF_INIT;
    cg_buf_printf(&b, "{\"last\":%llu,\"skipped\":%llu,\"events\":[",
                  (unsigned long long)cg_feed_last(c->opt.feed), (unsigned long long)skipped);
    for (size_t i = 0; i < n; i++) {
        if (i) cg_buf_append_str(&b, ",");
        cg_feed_event_json(&ev[i], &b);
    }
    cg_buf_append_str(&b, "]}");
    free(ev);
    respond_buf(rq, 200, &b);
}

static void serve_stats(cg_console *c, cg_h1s_request *rq)
{
    cg_buf b = CG_BUF_INIT;
    cg_feed_stats_json(c->opt.feed, &b);
    respond_buf(rq, 200, &b);
}

static void stream_unlink(creq *q)
{
    cg_console *c = q->console;
    if (q->prev) q->prev->next = q->next;
    else if (c->streams == q) c->streams = q->next;
    if (q->next) q->next->prev = q->prev;
    q->prev = q->next = NULL;
}

static void on_stream_tick(cg_loop *loop, void *arg);

static void arm_stream_timer(cg_console *c)
{
    if (!c->timer && c->streams)
        c->timer = cg_loop_timer_add(c->loop, STREAM_TICK_MS, on_stream_tick, c);
}

/* Sends what a stream has not seen yet, at most CG_CONSOLE_STREAM_BATCH events: when more
 * came, the oldest are skipped (and counted) so the page shows what happens now. Returns
 * -1 when the request ended inside the write (q is freed then). */
static int stream_feed(creq *q)
{
    cg_console *c = q->console;
    cg_feed_event ev[CG_CONSOLE_STREAM_BATCH];
    uint64_t last = cg_feed_last(c->opt.feed), skipped = 0;
    if (last > q->after + CG_CONSOLE_STREAM_BATCH) {
        q->skipped += last - CG_CONSOLE_STREAM_BATCH - q->after;
        q->after = last - CG_CONSOLE_STREAM_BATCH;
    }
    size_t n = cg_feed_read(c->opt.feed, q->after, ev, CG_CONSOLE_STREAM_BATCH, &skipped);
    q->skipped += skipped;
    uint64_t now = cg_loop_now(c->loop);
    if (n == 0 && q->skipped == 0 && now - q->last_write < STREAM_HEARTBEAT_MS) return 0;
    cg_buf b = CG_BUF_INIT;
    if (q->skipped) {
        cg_buf_printf(&b, "event: skipped\ndata: {\"skipped\":%llu}\n\n",
                      (unsigned long long)q->skipped);
        q->skipped = 0;
    }
    for (size_t i = 0; i < n; i++) {
        cg_buf_printf(&b, "id: %llu\ndata: ", (unsigned long long)ev[i].seq);
        cg_feed_event_json(&ev[i], &b);
        cg_buf_append_str(&b, "\n\n");
        q->after = ev[i].seq;
    }
    if (b.len == 0) cg_buf_append_str(&b, ": keep-alive\n\n");
    q->last_write = now;
    int rc = b.data ? cg_h1s_stream_write(q->hrq, b.data, b.len) : 0;
    cg_buf_free(&b);
    return rc < 0 ? -1 : 0;
}

static void on_stream_tick(cg_loop *loop, void *arg)
{
    cg_console *c = arg;
    c->timer = 0;
    for (creq *q = c->streams, *next; q; q = next) {
        next = q->next; /* q may be freed inside stream_feed */
        stream_feed(q);
    }
    arm_stream_timer(c);
}

static creq *start_stream(cg_console *c, cg_h1s_request *rq)
{
    creq *q = calloc(1, sizeof *q);
    if (!q) {
        problem(rq, 503, "Service Unavailable", "out of memory");
        return NULL;
    }
    if (!strcmp(cg_h1s_method(rq), "HEAD")) { /* the head only: nothing to stream */
        free(q);
        respond(rq, 200, "text/event-stream", NULL, 0, NULL);
        return NULL;
    }
    q->console = c;
    q->hrq = rq;
    q->kind = CREQ_STREAM;
    q->after = after_param(rq);
    if (!cg_h1s_query(rq, "after") && !cg_h1s_header_value(rq, "Last-Event-ID"))
        q->after = cg_feed_last(c->opt.feed); /* a new page: from now on */
    const cg_h1s_header h[] = {
        {"Content-Type", "text/event-stream"},
        {"Cache-Control", "no-store"},
        {"X-Content-Type-Options", "nosniff"},
        {"X-Accel-Buffering", "no"},
    };
    if (cg_h1s_stream_begin(rq, 200, h, sizeof h / sizeof h[0]) < 0) {
        free(q);
        return NULL;
    }
    q->next = c->streams;
    if (c->streams) c->streams->prev = q;
    c->streams = q;
    q->last_write = cg_loop_now(c->loop);
    /* the comment line makes browsers report the stream open at once */
    cg_h1s_stream_write(rq, ": capgate console\nretry: 2000\n\n", 31);
    arm_stream_timer(c);
    return q;
}

/* ---- POST /console/api/tools/NAME -------------------------------------------------- */

static void record_tool_call(creq *q, const cg_call_result *res)
{
    cg_call_event ev = {.adapter = "console",
                        .method = "tools/call",
                        .target = q->tool,
                        .status = cg_call_error_status(res),
                        .upstream_status = res->upstream_status,
                        .duration_ms = ms_since(&q->t0)};
    cg_metrics_record_call(q->console->opt.metrics, &ev);
}

static void answer_call(creq *q, const cg_call_result *res)
{
    cg_buf b = CG_BUF_INIT;
    record_tool_call(q, res);
    if (cg_mcp_call_reply_text(q->call, res, &b) < 0) {
        cg_buf_free(&b);
        problem(q->hrq, 503, "Service Unavailable", "out of memory");
        return;
    }
    respond_buf(q->hrq, 200, &b);
}

static void on_call_done(void *arg, cg_call_result *res)
{
    creq *q = arg;
    q->job = NULL;
    answer_call(q, res); /* on_end may free q inside */
}

static creq *start_tool_call(cg_console *c, cg_h1s_request *rq, const char *name)
{
    if (!c->core) {
        problem(rq, 404, "Not Found", "this capability exposes no MCP tools");
        return NULL;
    }
    size_t len = 0;
    const char *body = cg_h1s_body(rq, &len);
    json_t *args = len ? cg_mcp_parse(body, len, NULL, 0) : json_object();
    if (!args || !json_is_object(args)) {
        json_decref(args);
        problem(rq, 400, "Bad Request", "the body must be a JSON object: the tool's arguments");
        return NULL;
    }
    json_t *msg = json_pack("{s:s,s:i,s:s,s:{s:s,s:o}}", "jsonrpc", "2.0", "id", 1, "method",
                            "tools/call", "params", "name", name, "arguments", args);
    cg_mcp_state st = {.initialize_answered = true, .initialized = true};
    snprintf(st.version, sizeof st.version, "%s", CG_MCP_LATEST_VERSION);
    cg_mcp_action act = {0};
    if (!msg) {
        problem(rq, 503, "Service Unavailable", "out of memory");
        return NULL;
    }
    cg_mcp_handle(c->core, &st, msg, &act);
    json_decref(msg);
    creq *q = NULL;
    if (act.act == CG_MCP_ACT_CALL && (q = calloc(1, sizeof *q))) {
        q->console = c;
        q->hrq = rq;
        q->kind = CREQ_CALL;
        q->call = act.call;
        act.call = NULL;
        snprintf(q->tool, sizeof q->tool, "%s", name);
        clock_gettime(CLOCK_MONOTONIC, &q->t0);
        cg_call_result now;
        if (cg_call_start(c->engine, &cg_mcp_call_tool(q->call)->call, cg_mcp_call_lookup, q->call,
                          NULL, on_call_done, q, &q->job, &now) < 0)
            answer_call(q, &now);
    } else if (act.act == CG_MCP_ACT_REPLY && act.reply) {
        json_t *reply = act.reply;
        act.reply = NULL;
        respond_json(rq, 200, reply); /* unknown tool, arguments refused: a JSON-RPC error */
    } else {
        problem(rq, 503, "Service Unavailable", "out of memory");
    }
    cg_mcp_action_release(&act);
    return q;
}

/* ---- routing ---------------------------------------------------------------------- */

static void method_not_allowed(cg_h1s_request *rq, const char *allow)
{
    char detail[128];
    snprintf(detail, sizeof detail, "allowed: %s", allow);
    cg_buf b = CG_BUF_INIT;
    cg_buf_printf(&b,
                  "{\"type\":\"about:blank\",\"title\":\"Method Not Allowed\",\"status\":405,"
                  "\"detail\":\"%s\"}",
                  detail);
    size_t len = b.len;
    char *body = cg_buf_steal(&b);
    cg_buf_free(&b);
    const cg_h1s_header h[] = {{"Content-Type", "application/problem+json"}, {"Allow", allow}};
    cg_h1s_respond(rq, 405, h, 2, body, body ? len : 0, free);
}

void *cg_console_handle(cg_console *c, cg_h1s_request *rq)
{
    const char *path = cg_h1s_path(rq), *method = cg_h1s_method(rq);
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (!strncmp(path, "/console/api/tools/", 19) && path[19]) {
        if (strcmp(method, "POST")) method_not_allowed(rq, "POST");
        else return start_tool_call(c, rq, path + 19);
        return NULL;
    }
    static const char *const gets[] = {"/console/api/capability", "/console/api/upstreams",
                                       "/console/api/stats", "/console/api/events",
                                       "/console/api/stream"};
    int which = -1;
    for (int i = 0; i < 5; i++)
        if (!strcmp(path, gets[i])) which = i;
    if (which < 0 && !cg_console_is_public("GET", path)) {
        char detail[256];
        snprintf(detail, sizeof detail, "no console page or endpoint at %.200s", path);
        problem(rq, 404, "Not Found", detail);
        return NULL;
    }
    if (!get) {
        method_not_allowed(rq, "GET, HEAD");
        return NULL;
    }
    switch (which) {
    case -1: serve_page(rq, path); return NULL;
    case 0:
        respond(rq, c->capability ? 200 : 503, "application/json", c->capability, c->capability_len,
                NULL);
        return NULL;
    case 1: return start_probes(c, rq);
    case 2: serve_stats(c, rq); return NULL;
    case 3: serve_events(c, rq); return NULL;
    default: return start_stream(c, rq);
    }
}

void cg_console_end(cg_console *c, void *state)
{
    creq *q = state;
    if (!q) return;
    switch (q->kind) {
    case CREQ_PROBE:
        for (size_t i = 0; i < q->n_probes; i++)
            if (q->probes[i].transfer) cg_upstream_cancel(q->probes[i].transfer);
        break;
    case CREQ_CALL:
        if (q->job) cg_call_cancel(q->job);
        cg_mcp_call_free(q->call);
        break;
    case CREQ_STREAM: stream_unlink(q); break;
    }
    free(q);
}

/* ---- lifecycle --------------------------------------------------------------------- */

cg_console *cg_console_start(cg_engine *engine, const cg_console_options *opt)
{
    cg_console *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->engine = engine;
    c->loop = cg_engine_loop(engine);
    c->opt = *opt;
    if (opt->mcp && !(c->core = cg_mcp_core_create(opt->spec, opt->mcp, NULL))) {
        free(c);
        return NULL;
    }
    c->capability = build_capability(c, &c->capability_len);
    if (!c->capability) {
        cg_mcp_core_free(c->core);
        free(c);
        return NULL;
    }
    return c;
}

void cg_console_quiesce(cg_console *c)
{
    if (!c) return;
    for (creq *q = c->streams, *next; q; q = next) {
        next = q->next;
        stream_unlink(q);          /* cg_console_end finds it unlinked */
        cg_h1s_stream_end(q->hrq); /* on_end may run (and free q) inside */
    }
    cg_loop_timer_cancel(c->loop, c->timer);
    c->timer = 0;
}

void cg_console_stop(cg_console *c)
{
    if (!c) return;
    cg_loop_timer_cancel(c->loop, c->timer);
    free(c->capability);
    cg_mcp_core_free(c->core);
    free(c);
}
