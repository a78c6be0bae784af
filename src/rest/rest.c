/*
 * rest.c — routing, screening and answering REST requests. See rest.h.
 *
 * libmicrohttpd calls on_request several times per request: once when the headers are in
 * (route, method, Content-Length and Content-Type are checked here, so a bad request is
 * refused before its body is read), once per body chunk (collected up to max_body), and
 * once more when the body is complete: then the operation call starts and the connection
 * is suspended. The call's completion (on_call_done) builds the response, resumes the
 * connection and kicks the loop; libmicrohttpd calls on_request again and the response is
 * queued. on_completed, called when the request is over for any reason, writes the access
 * log line, counts the request and frees its state (cancelling a call still running).
 *
 * Requests own nothing the spec owns; path parameters are (pointer, length) slices of the
 * URL libmicrohttpd keeps for the request.
 */
#include "rest/rest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/unescape.h"
#include "engine/inbound_auth.h"
#include "engine/loop.h"
#include "engine/upstream.h"

#define MAX_PATH_ARGS 8
#define PROBLEM_TYPE "application/problem+json"

typedef enum {
    ROUTE_NONE,
    ROUTE_OPERATION,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_OPENAPI,
} route_kind;

struct cg_rest {
    cg_engine *engine;
    cg_loop *loop;
    cg_rest_options opt;
    struct MHD_Daemon *daemon;
    int port;
    int active;
    bool quiesced;
    struct rest_request *requests;
    cg_buf access_log;          /* complete lines waiting to be written */
    uint64_t log_timer;
};

/* Access-log lines are batched per worker and written at most every LOG_FLUSH_MS, or as
 * soon as a batch nears PIPE_BUF: one write(2) then carries several complete lines, and a
 * write of at most PIPE_BUF bytes is atomic even on a pipe, so lines from different
 * workers never interleave. This saves a system call per request. */
#define LOG_FLUSH_MS 100
#define LOG_BATCH 3584

typedef enum { RQ_HEADERS, RQ_BODY, RQ_WAITING, RQ_READY } request_state;

typedef struct rest_request {
    cg_rest *rest;
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    route_kind kind;
    const char *route;                  /* for logs and metrics */
    const cg_rest_resource *res;
    const cg_rest_operation *op;
    const char *arg_name[MAX_PATH_ARGS];
    const char *arg_value[MAX_PATH_ARGS];
    size_t arg_len[MAX_PATH_ARGS];
    int n_args;
    request_state state;
    cg_buf body;
    bool too_large;
    bool forward_authorization;         /* false when Authorization carried capgate's token */
    cg_call_job *job;
    cg_upstream_transfer *probe;
    struct MHD_Response *response;      /* built, waiting to be queued */
    int status;
    int upstream_status;
    size_t bytes;
    struct timespec t0;
    struct rest_request *prev, *next;   /* every request of this adapter */
} rest_request;

/* ---- responses ------------------------------------------------------------------ */

static struct MHD_Response *response_from_buf(cg_buf *b)
{
    size_t len = b->len;
    char *data = cg_buf_steal(b);
    if (!data) return NULL;
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, data, free);
    if (!r) free(data);
    return r;
}

/* Builds an RFC 9457 problem. param names the offending parameter (or NULL). */
static struct MHD_Response *problem(rest_request *rq, int status, const char *slug,
                                    const char *title, const char *detail, const char *param)
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
    rq->bytes = b.len;
    struct MHD_Response *r = response_from_buf(&b);
    cg_buf_free(&b);
    if (r) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, PROBLEM_TYPE);
    rq->status = status;
    return r;
}

static struct MHD_Response *json_response(rest_request *rq, int status, const char *json)
{
    rq->bytes = strlen(json);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(json), (void *)json,
                                                             MHD_RESPMEM_MUST_COPY);
    if (r) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    rq->status = status;
    return r;
}

/* Queues a response and releases our reference. */
static enum MHD_Result answer(rest_request *rq, struct MHD_Response *r)
{
    if (!r) return MHD_NO; /* out of memory: MHD closes the connection */
    if (rq->rest->quiesced) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(rq->conn, (unsigned)rq->status, r);
    MHD_destroy_response(r);
    return ok;
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
            while (pos < len && url[pos] != '/') pos++;
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

/* Finds the route. Returns the resource's allowed methods in allow when only the method
 * is wrong (rq->res set, rq->op NULL). */
static void route(rest_request *rq, cg_buf *allow)
{
    const char *url = rq->url;
    size_t len = strlen(url);
    static const struct { const char *path; route_kind kind; } fixed[] = {
        {"/healthz", ROUTE_HEALTHZ}, {"/readyz", ROUTE_READYZ},
        {"/metrics", ROUTE_METRICS}, {"/v1/openapi.json", ROUTE_OPENAPI},
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
    if (len > 1 && url[len - 1] == '/') len--; /* /v1/api/ml/ is /v1/api/ml */
    const cg_rest_adapter *a = rq->rest->opt.adapter;
    for (size_t i = 0; i < a->n_resources; i++) {
        const cg_rest_resource *res = &a->resources[i];
        if (!match_resource(rq, res, url, len)) continue;
        rq->res = res;
        rq->route = res->path;
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

/* ---- the operation call --------------------------------------------------------- */

static bool lookup_argument(void *ctx, const cg_argument *arg, const char **value, size_t *len)
{
    rest_request *rq = ctx;
    const char *v = NULL;
    switch (arg->in) {
    case CG_IN_PATH:
        for (int i = 0; i < rq->n_args; i++)
            if (!strcmp(rq->arg_name[i], arg->name)) {
                *value = rq->arg_value[i];
                *len = rq->arg_len[i];
                return true;
            }
        return false;
    case CG_IN_BODY:
        if (!rq->body.len) return false;
        *value = rq->body.data;
        *len = rq->body.len;
        return true;
    case CG_IN_HEADER:
        /* capgate's own token never goes upstream, even where a spec maps the header */
        if (rq->rest->opt.auth && (!strcasecmp(arg->name, CG_INBOUND_AUTH_HEADER) ||
                                   (!rq->forward_authorization &&
                                    !strcasecmp(arg->name, MHD_HTTP_HEADER_AUTHORIZATION))))
            return false;
        v = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, arg->name);
        break;
    default:
        v = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, arg->name);
        break;
    }
    if (!v) return false;
    *value = v;
    *len = strlen(v);
    return true;
}

/* The one place a call's failure becomes an HTTP problem (STYLE 9). */
static struct MHD_Response *call_failure(rest_request *rq, const cg_call_result *res)
{
    struct MHD_Response *r = problem(rq, cg_call_error_status(res), cg_call_error_slug(res->error),
                                     cg_call_error_title(res->error), res->message,
                                     res->error == CG_CALL_BAD_ARGUMENT ? res->argument : NULL);
    if (r && (res->error == CG_CALL_NO_CREDENTIALS || res->error == CG_CALL_CREDENTIALS_REFUSED))
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Token");
    if (r && res->error == CG_CALL_OVERLOADED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (res->error != CG_CALL_BAD_ARGUMENT && res->error != CG_CALL_NO_CREDENTIALS)
        cg_log(CG_LOG_WARN, "rest", "%s %s: %d %s: %s", rq->method, rq->route,
               cg_call_error_status(res), cg_call_error_slug(res->error), res->message);
    return r;
}

static struct MHD_Response *upstream_response(rest_request *rq, cg_call_result *res)
{
    size_t len;
    char *body = cg_call_take_body(res, &len);
    if (!body) return NULL;
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!r) {
        free(body);
        return NULL;
    }
    if (res->content_type) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    rq->status = res->status;
    rq->bytes = len;
    return r;
}

static void resume(rest_request *rq, struct MHD_Response *r)
{
    rq->response = r;
    rq->state = RQ_READY;
    MHD_resume_connection(rq->conn);
    cg_loop_kick(rq->rest->loop);
}

static void on_call_done(void *arg, cg_call_result *res)
{
    rest_request *rq = arg;
    rq->job = NULL;
    rq->upstream_status = res->upstream_status;
    resume(rq, res->error == CG_CALL_OK ? upstream_response(rq, res) : call_failure(rq, res));
}

static enum MHD_Result start_call(rest_request *rq)
{
    const char *auth = rq->forward_authorization
                           ? MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_AUTHORIZATION)
                           : NULL;
    cg_call_result now;
    if (cg_call_start(rq->rest->engine, &rq->op->call, lookup_argument, rq, auth, on_call_done,
                      rq, &rq->job, &now) < 0) {
        rq->upstream_status = now.upstream_status;
        return answer(rq, call_failure(rq, &now));
    }
    rq->state = RQ_WAITING;
    MHD_suspend_connection(rq->conn);
    return MHD_YES;
}

/* ---- built-in endpoints --------------------------------------------------------- */

static void on_probe_done(void *arg, cg_upstream_response *res)
{
    rest_request *rq = arg;
    rq->probe = NULL;
    rq->upstream_status = res->status;
    if (res->result == CG_UPSTREAM_OK) {
        resume(rq, json_response(rq, 200, "{\"status\":\"ready\"}"));
    } else {
        char detail[512];
        snprintf(detail, sizeof detail, "the upstream API is not reachable: %s",
                 res->error ? res->error : cg_upstream_result_name(res->result));
        resume(rq, problem(rq, 503, "not-ready", "Not ready", detail, NULL));
    }
}

static enum MHD_Result start_probe(rest_request *rq)
{
    const cg_spec *spec = rq->rest->opt.spec;
    if (spec->n_consumes == 0) return answer(rq, json_response(rq, 200, "{\"status\":\"ready\"}"));
    cg_buf url = CG_BUF_INIT;
    cg_buf_printf(&url, "%s/", cg_engine_base_uri(rq->rest->engine, &spec->consumes[0]));
    cg_upstream_request req = {.method = "GET", .url = url.data ? url.data : "",
                               .connect_timeout_ms = 1000, .timeout_ms = 2000};
    rq->probe = url.data ? cg_upstream_submit(cg_engine_upstream(rq->rest->engine), &req,
                                              on_probe_done, rq)
                         : NULL;
    cg_buf_free(&url);
    if (!rq->probe) return MHD_NO;
    rq->state = RQ_WAITING;
    MHD_suspend_connection(rq->conn);
    return MHD_YES;
}

static enum MHD_Result answer_builtin(rest_request *rq)
{
    switch (rq->kind) {
    case ROUTE_HEALTHZ:
        return answer(rq, json_response(rq, 200, "{\"status\":\"ok\"}"));
    case ROUTE_READYZ:
        return start_probe(rq);
    case ROUTE_METRICS: {
        cg_buf b = CG_BUF_INIT;
        if (rq->rest->opt.metrics) cg_metrics_render(rq->rest->opt.metrics, &b);
        else cg_buf_append_str(&b, "");
        rq->bytes = b.len;
        struct MHD_Response *r = response_from_buf(&b);
        cg_buf_free(&b);
        if (r) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                       "text/plain; version=0.0.4; charset=utf-8");
        rq->status = 200;
        return answer(rq, r);
    }
    default: {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            rq->rest->opt.openapi_len, (void *)rq->rest->opt.openapi, MHD_RESPMEM_PERSISTENT);
        if (r) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        rq->status = 200;
        rq->bytes = rq->rest->opt.openapi_len;
        return answer(rq, r);
    }
    }
}

/* ---- the request handler -------------------------------------------------------- */

static bool operation_takes_body(const cg_rest_operation *op)
{
    for (size_t i = 0; i < op->call.n_arguments; i++)
        if (op->call.arguments[i].in == CG_IN_BODY) return true;
    return false;
}

static bool is_json_type(const char *ct)
{
    if (!ct) return false;
    while (*ct == ' ') ct++;
    size_t n = strcspn(ct, ";");
    while (n > 0 && ct[n - 1] == ' ') n--;
    if (n == 16 && !strncasecmp(ct, "application/json", 16)) return true;
    /* application/<anything>+json */
    return n > 17 && !strncasecmp(ct, "application/", 12) && !strncasecmp(ct + n - 5, "+json", 5);
}

/* Inbound auth (inbound_auth.h): every request but the liveness and readiness probes must
 * carry a configured token when tokens are configured. It runs after routing only so the
 * refusal is counted under the route's label; an unauthenticated caller gets the same 401
 * for a real route, an unknown path or a wrong method, and so learns nothing about routes.
 * true when the request may go on; otherwise *r is the 401 to send (NULL if out of memory). */
static bool authenticate(rest_request *rq, struct MHD_Response **r)
{
    const cg_inbound_auth *auth = rq->rest->opt.auth;
    rq->forward_authorization = true;
    if (!auth || rq->kind == ROUTE_HEALTHZ || rq->kind == ROUTE_READYZ) return true;
    cg_inbound_auth_verdict v = cg_inbound_auth_check(
        auth, MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, CG_INBOUND_AUTH_HEADER),
        &rq->forward_authorization);
    if (v == CG_INBOUND_AUTH_ALLOW) return true;
    *r = problem(rq, 401, "unauthorized", "Unauthorized", cg_inbound_auth_detail(v), NULL);
    if (*r) MHD_add_response_header(*r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, cg_inbound_auth_challenge(v));
    return false;
}

/* Checks made once the headers are in. Returns a response to send now, or NULL. */
static struct MHD_Response *screen(rest_request *rq, bool *refused)
{
    cg_buf allow = CG_BUF_INIT;
    struct MHD_Response *r = NULL;
    route(rq, &allow);
    *refused = true;
    if (!authenticate(rq, &r)) {
        cg_buf_free(&allow);
        return r;
    }
    if (rq->kind == ROUTE_NONE && !rq->res && !allow.len) {
        char detail[256];
        snprintf(detail, sizeof detail, "no route for %s %s", rq->method, rq->url);
        rq->route = "unmatched";
        r = problem(rq, 404, "not-found", "Not Found", detail, NULL);
    } else if (rq->kind == ROUTE_NONE) {
        char detail[256];
        snprintf(detail, sizeof detail, "method %s is not allowed here; allowed: %s", rq->method,
                 allow.data);
        r = problem(rq, 405, "method-not-allowed", "Method Not Allowed", detail, NULL);
        if (r) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow.data);
    } else if (rq->kind == ROUTE_OPERATION) {
        const char *cl = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        const char *te = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_TRANSFER_ENCODING);
        const char *ct = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_TYPE);
        unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
        bool has_body = n > 0 || te;
        char detail[256];
        if (n > rq->rest->opt.max_body) {
            snprintf(detail, sizeof detail, "the request body is %llu bytes; the limit is %zu",
                     n, rq->rest->opt.max_body);
            r = problem(rq, 413, "body-too-large", "Content Too Large", detail, NULL);
        } else if (has_body && operation_takes_body(rq->op) && !is_json_type(ct)) {
            snprintf(detail, sizeof detail, "the request body must be application/json, not %s",
                     ct ? ct : "unspecified");
            r = problem(rq, 415, "unsupported-media-type", "Unsupported Media Type", detail, NULL);
        } else {
            *refused = false;
        }
    } else {
        *refused = false;
    }
    cg_buf_free(&allow);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    cg_rest *rest = cls;
    rest_request *rq = *req_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &rq->t0);
        rq->rest = rest;
        rq->conn = conn;
        rq->url = url;
        rq->method = method;
        rq->route = "unmatched";
        rq->body.max = rest->opt.max_body;
        *req_cls = rq;
        rq->next = rest->requests;
        if (rest->requests) rest->requests->prev = rq;
        rest->requests = rq;
        rest->active++;
        if (rest->opt.metrics) cg_metrics_in_flight(rest->opt.metrics, 1);
        bool refused;
        struct MHD_Response *r = screen(rq, &refused);
        if (refused) return answer(rq, r);
        rq->state = RQ_BODY;
        return MHD_YES;
    }
    if (rq->state == RQ_BODY && *upload_data_size) {
        if (!rq->too_large && cg_buf_append(&rq->body, upload_data, *upload_data_size) < 0)
            rq->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->state == RQ_BODY) {
        if (rq->too_large) {
            char detail[128];
            snprintf(detail, sizeof detail, "the request body is over the limit of %zu bytes",
                     rest->opt.max_body);
            return answer(rq, problem(rq, 413, "body-too-large", "Content Too Large", detail, NULL));
        }
        if (rq->kind != ROUTE_OPERATION) return answer_builtin(rq);
        return start_call(rq);
    }
    if (rq->state == RQ_READY) {
        struct MHD_Response *r = rq->response;
        rq->response = NULL;
        return answer(rq, r);
    }
    return MHD_YES; /* RQ_WAITING: a spurious call while suspended */
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
    double ms = (double)(t1.tv_sec - rq->t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - rq->t0.tv_nsec) / 1e6;
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

/* A method name that outlives the request (libmicrohttpd's goes with the connection). */
static const char *stable_method(const char *m)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                        "OPTIONS", "TRACE", "CONNECT"};
    for (size_t i = 0; m && i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(m, known[i])) return known[i];
    return "OTHER";
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    cg_rest *rest = cls;
    rest_request *rq = *req_cls;
    if (!rq) return;
    *req_cls = NULL;
    if (rq->job) cg_call_cancel(rq->job);
    if (rq->probe) cg_upstream_cancel(rq->probe);
    if (rq->response) MHD_destroy_response(rq->response);
    if (!rq->status) rq->status = 499; /* the client went away before an answer */
    if (rest->opt.access_log) write_access_log(rq);
    if (rest->opt.metrics) {
        cg_metrics_count_request(rest->opt.metrics, rq->route, stable_method(rq->method),
                                 rq->status);
        cg_metrics_in_flight(rest->opt.metrics, -1);
    }
    rest->active--;
    if (rq->prev) rq->prev->next = rq->next;
    else rest->requests = rq->next;
    if (rq->next) rq->next->prev = rq->prev;
    cg_buf_free(&rq->body);
    free(rq);
}

/* ---- the daemon ----------------------------------------------------------------- */

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

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;
    if (inet_pton(AF_INET, rest->opt.address, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)rest->opt.port);
    } else if (inet_pton(AF_INET6, rest->opt.address, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)rest->opt.port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "rest: listen address '%s' is not an IP address", rest->opt.address);
        free(rest);
        return NULL;
    }
    rest->daemon = MHD_start_daemon(
        flags, (uint16_t)rest->opt.port, NULL, NULL, on_request, rest,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, rest,
        MHD_OPTION_UNESCAPE_CALLBACK, cg_unescape_keep_nul, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, rest->opt.connection_timeout_s,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        /* the per-connection pool holds the request line and headers (bodies are copied
         * out chunk by chunk); libmicrohttpd zeroes it for every request, so keep it at
         * 16 KiB rather than the default 32 KiB */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
        MHD_OPTION_END);
    if (!rest->daemon) {
        snprintf(err, errlen, "rest: cannot listen on %s:%d: %s", rest->opt.address,
                 rest->opt.port, errno ? strerror(errno) : "libmicrohttpd refused");
        free(rest);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(rest->daemon, MHD_DAEMON_INFO_BIND_PORT);
    rest->port = info ? info->port : rest->opt.port;
    if (cg_loop_add_daemon(rest->loop, rest->daemon) < 0) {
        snprintf(err, errlen, "rest: cannot add the daemon to the loop: %s", strerror(errno));
        MHD_stop_daemon(rest->daemon);
        free(rest);
        return NULL;
    }
    return rest;
}

void cg_rest_set_openapi(cg_rest *r, const char *doc, size_t len)
{
    r->opt.openapi = doc;
    r->opt.openapi_len = len;
}

int cg_rest_port(const cg_rest *r)
{
    return r->port;
}

void cg_rest_quiesce(cg_rest *r)
{
    if (r->quiesced) return;
    r->quiesced = true;
    MHD_socket s = MHD_quiesce_daemon(r->daemon);
    if (s != MHD_INVALID_SOCKET) close(s);
}

int cg_rest_active(const cg_rest *r)
{
    return r->active;
}

void cg_rest_stop(cg_rest *r)
{
    if (!r) return;
    /* suspended connections must be resumed before the daemon stops */
    for (rest_request *rq = r->requests; rq; rq = rq->next) {
        if (rq->state != RQ_WAITING) continue;
        if (rq->job) cg_call_cancel(rq->job);
        if (rq->probe) cg_upstream_cancel(rq->probe);
        rq->job = NULL;
        rq->probe = NULL;
        rq->state = RQ_READY;
        rq->status = 503;
        MHD_resume_connection(rq->conn);
    }
    MHD_stop_daemon(r->daemon);
    cg_loop_timer_cancel(r->loop, r->log_timer);
    flush_access_log(r);
    cg_buf_free(&r->access_log);
    free(r);
}
