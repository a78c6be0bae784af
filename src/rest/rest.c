/*
 * rest.c — routing, screening and answering REST requests. See rest.h.
 *
 * The server (net/h1_server.h) calls on_head when the headers are in (route, inbound
 * auth, method, Content-Length and Content-Type are checked there, so a bad request is
 * refused before its body is read) and on_body when the body is complete: then the
 * operation call starts. The call's completion (on_call_done) builds the reply and answers;
 * the connection never changes state in the loop meanwhile. on_end, called when the request
 * is over for any reason, writes the access log line, counts the request and frees its
 * state (cancelling a call still running).
 *
 * Requests own nothing the spec owns; path parameters are (pointer, length) slices of the
 * decoded path the server keeps for the request.
 *
 * The operation call itself (arguments looked up for the engine, the call or forward started,
 * its result answered) is rest_call.c; the two share the structs in rest_int.h.
 */
#include "rest/rest.h"
#include "rest/rest_int.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mediatype.h"
#include "common/unescape.h"
#include "engine/encode.h"
#include "engine/inbound_auth.h"
#include "engine/jsonpath.h"
#include "net/h1_server.h"
#include "engine/trace.h"
#include "net/loop.h"
#include "net/upstream.h"

/* ---- responses ------------------------------------------------------------------ */

void cg__rest_set_reply(rest_request *rq, int status, const char *type, char *body, size_t len,
                        void (*free_body)(void *))
{
    rq->out = (reply){.status = status, .body = body, .len = len, .free_body = free_body};
    if (type) rq->out.headers[rq->out.n_headers++] = (cg_h1s_header){"Content-Type", type};
    rq->status = status;
    rq->bytes = len;
}

/* Adds a header; name and value must live until cg__rest_answer(). */
void cg__rest_add_header(rest_request *rq, const char *name, const char *value)
{
    if (rq->out.n_headers < MAX_REPLY_HEADERS)
        rq->out.headers[rq->out.n_headers++] = (cg_h1s_header){name, value};
}

/* Builds an RFC 9457 problem. param names the offending parameter (or NULL). */
void cg__rest_problem(rest_request *rq, int status, const char *slug, const char *title,
                      const char *detail, const char *param)
{
    cg_buf b = CG_BUF_INIT;
    cg_buf_printf(&b, "{\"type\":\"urn:capgate:problem:%s\",\"title\":\"", slug);
    cg_buf_append_json_escaped(&b, title, strlen(title));
    cg_buf_printf(&b, "\",\"status\":%d,\"detail\":\"", status);
    cg_buf_append_json_escaped(&b, detail, strlen(detail));
    cg_buf_append_str(&b, "\",\"instance\":\"");
    cg_buf_append_json_escaped(&b, rq->url, strlen(rq->url));
    cg_buf_append_str(&b, "\"");
    if (param) {
        cg_buf_append_str(&b, ",\"invalid-params\":[{\"name\":\"");
        cg_buf_append_json_escaped(&b, param, strlen(param));
        cg_buf_append_str(&b, "\",\"reason\":\"");
        cg_buf_append_json_escaped(&b, detail, strlen(detail));
        cg_buf_append_str(&b, "\"}]");
    }
    cg_buf_append_str(&b, "}");
    size_t len = b.len;
    char *body = cg_buf_steal(&b);
    cg_buf_free(&b);
    cg__rest_set_reply(rq, status, PROBLEM_TYPE, body, body ? len : 0, free);
}

static void json_reply(rest_request *rq, int status, const char *json)
{
    cg__rest_set_reply(rq, status, "application/json", (char *)json, strlen(json), NULL);
}

/* Sends rq->out. The server may end the request (on_end frees rq) inside this call. */
void cg__rest_answer(rest_request *rq)
{
    reply r = rq->out;
    rq->out.free_body = NULL;
    cg_h1s_respond(rq->hrq, r.status, r.headers, r.n_headers, r.body, r.len, r.free_body);
}

/* ---- routing -------------------------------------------------------------------- */

/* Matches url against a resource's path parts, capturing placeholders. */
static bool match_resource(rest_request *rq, const cg_rest_resource *res, const char *url,
                           size_t len)
{
    size_t pos = 0;
    int n = 0;
    for (size_t i = 0; i < res->n_path_parts; i++) {
        const cg_path_part *p = &res->path_parts[i];
        if (p->literal) {
            size_t l = strlen(p->literal);
            if (len - pos < l || memcmp(url + pos, p->literal, l)) return false;
            pos += l;
        } else {
            size_t start = pos;
            bool rest_of_path = res->forward && i + 1 == res->n_path_parts;
            while (pos < len && (rest_of_path || url[pos] != '/')) pos++;
            if (pos == start || n == MAX_PATH_ARGS) return false;
            rq->arg_name[n] = p->name;
            rq->arg_value[n] = url + start;
            rq->arg_len[n] = pos - start;
            n++;
        }
    }
    if (pos != len) return false;
    rq->n_args = n;
    return true;
}

/* The router saw %2F still encoded (h1_server.h); a captured value gets it decoded now, so
 * "7%2Fversions" is the id "7/versions" (and refused as such), not two segments. */
static void decode_arguments(rest_request *rq)
{
    for (int i = 0; i < rq->n_args; i++) {
        if (!memchr(rq->arg_value[i], '%', rq->arg_len[i])) continue;
        char *v = strndup(rq->arg_value[i], rq->arg_len[i]);
        if (!v) continue;
        rq->arg_len[i] = cg_unescape_keep_nul(v);
        rq->arg_value[i] = rq->arg_decoded[i] = v;
    }
}

/* Finds the route. Returns the resource's allowed methods in allow when only the method
 * is wrong (rq->res set, rq->op NULL). */
static void route(rest_request *rq, cg_buf *allow)
{
    const char *url = rq->url;
    size_t len = strlen(url);
    static const struct {
        const char *path;
        route_kind kind;
    } fixed[] = {
        {"/healthz", ROUTE_HEALTHZ},
        {"/readyz", ROUTE_READYZ},
        {"/metrics", ROUTE_METRICS},
        {"/v1/openapi.json", ROUTE_OPENAPI},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (!strcmp(url, fixed[i].path)) {
            rq->kind = fixed[i].kind;
            rq->route = fixed[i].path;
            if (strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD")) {
                rq->kind = ROUTE_NONE;
                rq->res = NULL;
                cg_buf_append_str(allow, "GET, HEAD");
            }
            return;
        }
    if (rq->v.console && !strncmp(url, "/console", 8) && (!url[8] || url[8] == '/')) {
        rq->kind = ROUTE_CONSOLE; /* the console checks its own methods */
        rq->route = "/console";
        return;
    }
    if (len > 1 && url[len - 1] == '/') len--; /* /v1/api/ml/ is /v1/api/ml */
    const cg_rest_adapter *a = rq->v.adapter;
    for (size_t i = 0; i < a->n_resources; i++) {
        const cg_rest_resource *res = &a->resources[i];
        if (!match_resource(rq, res, url, len)) continue;
        rq->res = res;
        rq->route = res->path;
        if (res->forward) {
            rq->kind = ROUTE_FORWARD; /* the captured rest stays encoded, as it came */
            return;
        }
        decode_arguments(rq);
        for (size_t k = 0; k < res->n_ops; k++) {
            if (!strcmp(res->ops[k].method, rq->method)) {
                rq->op = &res->ops[k];
                rq->kind = ROUTE_OPERATION;
                return;
            }
            if (allow->len) cg_buf_append_str(allow, ", ");
            cg_buf_append_str(allow, res->ops[k].method);
        }
        return;
    }
}

/* ---- built-in endpoints --------------------------------------------------------- */

/* 200 {"status":"ready"}, with what the last reload did when there was one. */
static void ready_reply(rest_request *rq)
{
    const char *reload = rq->rest->opt.reload_status ? atomic_load(rq->rest->opt.reload_status)
                                                     : NULL;
    if (!reload) {
        json_reply(rq, 200, "{\"status\":\"ready\"}");
        return;
    }
    cg_buf b = CG_BUF_INIT;
    cg_buf_printf(&b, "{\"status\":\"ready\",\"reload\":%s}", reload);
    size_t len = b.len;
    char *text = cg_buf_steal(&b);
    cg__rest_set_reply(rq, 200, "application/json", text, text ? len : 0, free);
}

static void on_probe_done(void *arg, cg_upstream_response *res)
{
    rest_request *rq = arg;
    rq->probe = NULL;
    rq->upstream_status = res->status;
    if (res->result == CG_UPSTREAM_OK) {
        ready_reply(rq);
    } else {
        char detail[512];
        snprintf(detail, sizeof detail, "the upstream API is not reachable: %s",
                 res->error ? res->error : cg_upstream_result_name(res->result));
        cg__rest_problem(rq, 503, "not-ready", "Not ready", detail, NULL);
    }
    cg__rest_answer(rq);
}

static void start_probe(rest_request *rq)
{
    const cg_spec *spec = rq->v.spec;
    if (spec->n_consumes == 0) {
        ready_reply(rq);
        cg__rest_answer(rq);
        return;
    }
    cg_buf url = CG_BUF_INIT;
    cg_buf_printf(&url, "%s/", cg_engine_base_uri(rq->v.engine, &spec->consumes[0]));
    cg_upstream_request req = {.method = "GET",
                               .url = url.data ? url.data : "",
                               .connect_timeout_ms = 1000,
                               .timeout_ms = 2000};
    rq->probe = url.data
                    ? cg_upstream_submit(cg_engine_upstream(rq->v.engine), &req, on_probe_done, rq)
                    : NULL;
    cg_buf_free(&url);
    if (!rq->probe) {
        cg__rest_problem(rq, 503, "not-ready", "Not ready", "out of memory", NULL);
        cg__rest_answer(rq);
    }
}

static void answer_builtin(rest_request *rq)
{
    switch (rq->kind) {
    case ROUTE_HEALTHZ: json_reply(rq, 200, "{\"status\":\"ok\"}"); break;
    case ROUTE_READYZ: start_probe(rq); return;
    case ROUTE_METRICS: {
        cg_buf b = CG_BUF_INIT;
        if (rq->rest->opt.metrics) cg_metrics_render(rq->rest->opt.metrics, &b);
        size_t len = b.len;
        char *text = cg_buf_steal(&b);
        cg_buf_free(&b);
        cg__rest_set_reply(rq, 200, "text/plain; version=0.0.4; charset=utf-8", text,
                           text ? len : 0, free);
        break;
    }
    default:
        cg__rest_set_reply(rq, 200, "application/json", (char *)rq->v.openapi, rq->v.openapi_len,
                           NULL);
        break;
    }
    cg__rest_answer(rq);
}

/* ---- the request handler -------------------------------------------------------- */

static bool operation_takes_body(const cg_rest_operation *op)
{
    for (size_t i = 0; i < op->call.n_arguments; i++)
        if (op->call.arguments[i].in == CG_IN_BODY) return true;
    return false;
}

/* Inbound auth (inbound_auth.h): every request but the liveness and readiness probes must
 * carry a configured token when tokens are configured. It runs after routing only so the
 * refusal is counted under the route's label; an unauthenticated caller gets the same 401
 * for a real route, an unknown path or a wrong method, and so learns nothing about routes.
 * true when the request may go on; otherwise rq->out is the 401 to send. */
static const char *request_header(void *ctx, const char *name)
{
    return cg_h1s_header_value(((rest_request *)ctx)->hrq, name);
}

static bool authenticate(rest_request *rq)
{
    const cg_inbound_auth *auth = rq->rest->opt.auth;
    rq->forward_authorization = true;
    if (!auth || rq->kind == ROUTE_HEALTHZ || rq->kind == ROUTE_READYZ) return true;
    if (rq->kind == ROUTE_CONSOLE && cg_console_is_public(rq->method, rq->url)) return true;
    const char *detail = NULL;
    cg_inbound_auth_verdict v = cg_inbound_auth_verify(auth, request_header, rq,
                                                       &rq->forward_authorization, &detail);
    if (v == CG_INBOUND_AUTH_ALLOW) return true;
    cg__rest_problem(rq, 401, "unauthorized", "Unauthorized", detail, NULL);
    cg__rest_add_header(rq, "WWW-Authenticate", cg_inbound_auth_www_authenticate(auth, v));
    return false;
}

/* Checks made once the headers are in. true when the request was refused (answered). */
static bool screen(rest_request *rq)
{
    cg_buf allow = CG_BUF_INIT;
    route(rq, &allow);
    bool refused = true;
    if (!authenticate(rq)) {
        /* rq->out is the 401 */
    } else if (rq->kind == ROUTE_NONE && !rq->res && !allow.len) {
        char detail[256];
        snprintf(detail, sizeof detail, "no route for %s %s", rq->method, rq->url);
        rq->route = "unmatched";
        cg__rest_problem(rq, 404, "not-found", "Not Found", detail, NULL);
    } else if (rq->kind == ROUTE_NONE) {
        char detail[256];
        snprintf(detail, sizeof detail, "method %s is not allowed here; allowed: %s", rq->method,
                 allow.data);
        cg__rest_problem(rq, 405, "method-not-allowed", "Method Not Allowed", detail, NULL);
        cg__rest_add_header(rq, "Allow", allow.data);
    } else if (rq->kind == ROUTE_FORWARD && cg_h1s_has_body(rq->hrq) &&
               strtoull(cg_h1s_header_value(rq->hrq, "Content-Length")
                            ? cg_h1s_header_value(rq->hrq, "Content-Length")
                            : "0",
                        NULL, 10) > rq->rest->opt.max_body) {
        char detail[128];
        snprintf(detail, sizeof detail, "the request body is over the limit of %zu bytes",
                 rq->rest->opt.max_body);
        cg__rest_problem(rq, 413, "body-too-large", "Content Too Large", detail, NULL);
    } else if (rq->kind == ROUTE_OPERATION) {
        const char *cl = cg_h1s_header_value(rq->hrq, "Content-Length");
        const char *ct = cg_h1s_header_value(rq->hrq, "Content-Type");
        unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
        char detail[256];
        if (n > rq->rest->opt.max_body) {
            snprintf(detail, sizeof detail, "the request body is %llu bytes; the limit is %zu", n,
                     rq->rest->opt.max_body);
            cg__rest_problem(rq, 413, "body-too-large", "Content Too Large", detail, NULL);
        } else if (cg_h1s_has_body(rq->hrq) && operation_takes_body(rq->op) &&
                   !cg_mediatype_is_json(ct)) {
            snprintf(detail, sizeof detail, "the request body must be application/json, not %s",
                     ct ? ct : "unspecified");
            cg__rest_problem(rq, 415, "unsupported-media-type", "Unsupported Media Type", detail,
                             NULL);
        } else {
            refused = false;
        }
    } else {
        refused = false;
    }
    if (refused) cg__rest_answer(rq); /* before allow is freed: the Allow header points into it */
    cg_buf_free(&allow);
    return refused;
}

static void on_head(void *ctx, cg_h1s_request *hrq)
{
    cg_rest *rest = ctx;
    rest_request *rq = calloc(1, sizeof *rq);
    if (!rq) {
        static const cg_h1s_header type = {"Content-Type", PROBLEM_TYPE};
        static char oom[] =
            "{\"title\":\"Service Unavailable\",\"status\":503,\"detail\":\"out of memory\"}";
        cg_h1s_respond(hrq, 503, &type, 1, oom, sizeof oom - 1, NULL);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &rq->t0);
    rq->rest = rest;
    rq->v = (rest_view){rest->opt.spec,        rest->opt.adapter, rest->engine,  rest->opt.openapi,
                        rest->opt.openapi_len, rest->opt.console, rest->opt.hold};
    if (rq->v.hold.retain) rq->v.hold.retain(rq->v.hold.ctx);
    rq->hrq = hrq;
    rq->url = cg_h1s_path(hrq);
    rq->method = cg_h1s_method(hrq);
    rq->route = "unmatched";
    cg_h1s_set_data(hrq, rq);
    rq->next = rest->requests;
    if (rest->requests) rest->requests->prev = rq;
    rest->requests = rq;
    rest->active++;
    if (rest->opt.metrics) cg_metrics_in_flight(rest->opt.metrics, 1);
    screen(rq);
}

static void on_body(void *ctx, cg_h1s_request *hrq)
{
    rest_request *rq = cg_h1s_data(hrq);
    if (!rq) return;
    if (cg_h1s_body_too_large(hrq)) {
        char detail[128];
        snprintf(detail, sizeof detail, "the request body is over the limit of %zu bytes",
                 rq->rest->opt.max_body);
        cg__rest_problem(rq, 413, "body-too-large", "Content Too Large", detail, NULL);
        cg__rest_answer(rq);
    } else if (rq->kind == ROUTE_CONSOLE) {
        rq->console_state = cg_console_handle(rq->v.console, hrq);
    } else if (rq->kind == ROUTE_FORWARD) cg__rest_start_forward(rq);
    else if (rq->kind != ROUTE_OPERATION) answer_builtin(rq);
    else cg__rest_start_call(rq);
}

static void flush_access_log(cg_rest *rest)
{
    size_t off = 0;
    while (off < rest->access_log.len) {
        ssize_t n = write(STDERR_FILENO, rest->access_log.data + off, rest->access_log.len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    cg_buf_reset(&rest->access_log);
}

static void on_log_due(cg_loop *loop, void *arg)
{
    cg_rest *rest = arg;
    rest->log_timer = 0;
    flush_access_log(rest);
}

static void write_access_log(rest_request *rq)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - rq->t0.tv_sec) * 1e3 +
                (double)(t1.tv_nsec - rq->t0.tv_nsec) / 1e6;
    cg_buf line_ = CG_BUF_INIT, *line = &line_;
    cg_buf_append_str(line, "{\"ts\":");
    cg_log_append_timestamp(line);
    cg_buf_append_str(line, ",\"method\":\"");
    cg_buf_append_json_escaped(line, rq->method, strlen(rq->method));
    cg_buf_append_str(line, "\",\"path\":\"");
    cg_buf_append_json_escaped(line, rq->url, strlen(rq->url));
    cg_buf_append_str(line, "\",\"route\":\"");
    cg_buf_append_json_escaped(line, rq->route, strlen(rq->route));
    cg_buf_printf(line, "\",\"status\":%d,\"upstream_status\":", rq->status);
    if (rq->upstream_status) cg_buf_printf(line, "%d", rq->upstream_status);
    else cg_buf_append_str(line, "null");
    cg_buf_printf(line, ",\"duration_ms\":%.3f,\"bytes\":%zu}", ms, rq->bytes);
    cg_rest *rest = rq->rest;
    if (cg_buf_append(&rest->access_log, line->data, line->len) == 0)
        cg_buf_append(&rest->access_log, "\n", 1);
    cg_buf_free(line);
    if (rest->access_log.len >= LOG_BATCH) flush_access_log(rest);
    else if (!rest->log_timer)
        rest->log_timer = cg_loop_timer_add(rest->loop, LOG_FLUSH_MS, on_log_due, rest);
}

/* The call as the console's feed sees it (engine/metrics.h). */
static void record_call(rest_request *rq)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cg_call_event ev = {
        .adapter = "rest",
        .method = rq->method,
        .target = rq->url,
        .status = rq->status,
        .upstream_status = rq->upstream_status,
        .duration_ms = (double)(t1.tv_sec - rq->t0.tv_sec) * 1e3 +
                       (double)(t1.tv_nsec - rq->t0.tv_nsec) / 1e6,
    };
    cg_metrics_record_call(rq->rest->opt.metrics, &ev);
}

/* A method name for metrics, from a fixed set (anything else is OTHER). */
static const char *stable_method(const char *m)
{
    static const char *const known[] = {"GET",    "HEAD",    "POST",  "PUT",    "PATCH",
                                        "DELETE", "OPTIONS", "TRACE", "CONNECT"};
    for (size_t i = 0; m && i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(m, known[i])) return known[i];
    return "OTHER";
}

static void on_end(void *ctx, cg_h1s_request *hrq)
{
    cg_rest *rest = ctx;
    rest_request *rq = cg_h1s_data(hrq);
    if (!rq) return;
    cg_h1s_set_data(hrq, NULL);
    if (rq->job) cg_call_cancel(rq->job);
    if (rq->probe) cg_upstream_cancel(rq->probe);
    if (rq->console_state) cg_console_end(rq->v.console, rq->console_state);
    if (rq->out.free_body) rq->out.free_body(rq->out.body);
    for (int i = 0; i < MAX_PATH_ARGS; i++) free(rq->arg_decoded[i]);
    for (size_t i = 0; i < rq->n_texts; i++) free(rq->texts[i]);
    free(rq->texts);
    json_decref(rq->body_json);
    /* the server's own refusals (a body over the limit, bad chunking) set its status */
    if (cg_h1s_status(hrq) && cg_h1s_status(hrq) != rq->status) {
        rq->status = cg_h1s_status(hrq);
        rq->bytes = 0;
    }
    if (!rq->status) rq->status = 499; /* the client went away before an answer */
    if (rest->opt.access_log) write_access_log(rq);
    if (rq->kind != ROUTE_CONSOLE) record_call(rq);
    if (rest->opt.metrics) {
        cg_metrics_count_request(rest->opt.metrics, rq->route, stable_method(rq->method),
                                 rq->status);
        cg_metrics_in_flight(rest->opt.metrics, -1);
    }
    rest->active--;
    if (rq->prev) rq->prev->next = rq->next;
    else rest->requests = rq->next;
    if (rq->next) rq->next->prev = rq->prev;
    if (rq->v.hold.release) rq->v.hold.release(rq->v.hold.ctx);
    free(rq);
}

/* A request the server refused before its headers were whole (malformed, too large). */
static void on_reject(void *ctx, int status)
{
    cg_rest *rest = ctx;
    if (rest->opt.metrics)
        cg_metrics_count_request(rest->opt.metrics, "unmatched", "OTHER", status);
}

/* ---- the server ----------------------------------------------------------------- */

cg_rest *cg_rest_start(cg_engine *engine, const cg_rest_options *opt, char *err, size_t errlen)
{
    cg_rest *rest = calloc(1, sizeof *rest);
    if (!rest) {
        snprintf(err, errlen, "rest: out of memory");
        return NULL;
    }
    rest->engine = engine;
    rest->loop = cg_engine_loop(engine);
    rest->opt = *opt;
    if (!rest->opt.max_body) rest->opt.max_body = 10u << 20;
    if (!rest->opt.connection_timeout_s) rest->opt.connection_timeout_s = 60;
    if (!rest->opt.address) rest->opt.address = "127.0.0.1";
    cg_h1s_options so = {.address = rest->opt.address,
                         .port = rest->opt.port,
                         .max_body = rest->opt.max_body,
                         .idle_timeout_s = rest->opt.connection_timeout_s};
    static const cg_h1s_handlers handlers = {on_head, on_body, on_end, on_reject};
    char why[256];
    rest->server = cg_h1s_start(rest->loop, &so, &handlers, rest, why, sizeof why);
    if (!rest->server) {
        snprintf(err, errlen, "rest: %s", why);
        free(rest);
        return NULL;
    }
    rest->port = cg_h1s_port(rest->server);
    return rest;
}

void cg_rest_set_openapi(cg_rest *r, const char *doc, size_t len)
{
    r->opt.openapi = doc;
    r->opt.openapi_len = len;
}

void cg_rest_reload(cg_rest *r, cg_engine *engine, const cg_rest_options *opt)
{
    r->engine = engine;
    r->opt.spec = opt->spec;
    r->opt.adapter = opt->adapter;
    r->opt.openapi = opt->openapi;
    r->opt.openapi_len = opt->openapi_len;
    r->opt.console = opt->console;
    r->opt.hold = opt->hold;
}

int cg_rest_port(const cg_rest *r)
{
    return r->port;
}

void cg_rest_quiesce(cg_rest *r)
{
    if (r->quiesced) return;
    r->quiesced = true;
    cg_h1s_quiesce(r->server);
    cg_console_quiesce(r->opt.console); /* open pages would hold the drain up */
}

int cg_rest_active(const cg_rest *r)
{
    return r->active;
}

void cg_rest_stop(cg_rest *r)
{
    if (!r) return;
    cg_h1s_stop(r->server); /* on_end runs for every request still open */
    cg_loop_timer_cancel(r->loop, r->log_timer);
    flush_access_log(r);
    cg_buf_free(&r->access_log);
    free(r);
}
