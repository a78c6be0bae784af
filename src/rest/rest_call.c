/*
 * rest_call.c — a REST request's operation call: the engine looks each argument up here
 * (path, query, header, body field), the call (or the forward of a passthrough resource)
 * starts, and its result becomes the answer. See rest.c for the request's life.
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

/* ---- the operation call --------------------------------------------------------- */

/* Keeps text for the rest of the request (lookup values must outlive the call). */
static const char *keep_text(rest_request *rq, char *text, const char **value, size_t *len)
{
    char **grown = text ? realloc(rq->texts, (rq->n_texts + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(text);
        return NULL;
    }
    rq->texts = grown;
    rq->texts[rq->n_texts++] = text;
    *value = text;
    *len = strlen(text);
    return text;
}

/* A declared `in: body` input that is not the whole body is the body's field of its name
 * (the reference engine's rule): a string as is, anything else as JSON. */
static bool body_field(rest_request *rq, const cg_argument *arg, const char **value, size_t *len)
{
    if (!rq->body_json) {
        size_t n;
        const char *b = cg_h1s_body(rq->hrq, &n);
        rq->body_json = b ? json_loadb(b, n, 0, NULL) : NULL;
    }
    json_t *v = NULL;
    if (!rq->body_json) return false;
    if (arg->body_path) {
        if (cg_jsonpath_eval(arg->body_path, rq->body_json, &v) != CG_JSONPATH_OK) return false;
    } else {
        v = json_incref(json_object_get(rq->body_json, arg->name));
    }
    char *text = !v || json_is_null(v) ? NULL
                 : json_is_string(v)   ? strdup(json_string_value(v))
                                       : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    return text && keep_text(rq, text, value, len) != NULL;
}

/* A list argument in the query: every occurrence (?ids=1&ids=2), as a JSON array. */
static bool query_list(rest_request *rq, const cg_argument *arg, const char **value, size_t *len)
{
    const char *target = cg_h1s_target(rq->hrq), *q = strchr(target, '?');
    json_t *list = json_array();
    size_t name_len = strlen(arg->name);
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq && (size_t)(eq - p) == name_len && !strncmp(p, arg->name, name_len)) {
            char *decoded = strndup(eq + 1, (size_t)(end - eq - 1));
            if (decoded) {
                decoded[cg_unescape_keep_nul(decoded)] = '\0';
                json_array_append_new(list, json_string(decoded));
            }
            free(decoded);
        }
        p = amp ? amp + 1 : NULL;
    }
    bool found = json_array_size(list) > 0;
    char *text = found ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    return found && keep_text(rq, text, value, len) != NULL;
}

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
        if (arg->input < 0 || !rq->op->call.op ||
            rq->op->call.op->inputs[arg->input].in != CG_IN_BODY)
            return body_field(rq, arg, value, len);
        *value = cg_h1s_body(rq->hrq, len);
        return *value != NULL;
    case CG_IN_HEADER:
        /* capgate's own token never goes upstream, even where a spec maps the header */
        if (rq->rest->opt.auth &&
            (!strcasecmp(arg->name, CG_INBOUND_AUTH_HEADER) ||
             (!rq->forward_authorization && !strcasecmp(arg->name, "Authorization"))))
            return false;
        v = cg_h1s_header_value(rq->hrq, arg->name);
        break;
    default:
        if (arg->type == CG_TYPE_ARRAY) return query_list(rq, arg, value, len);
        v = cg_h1s_query(rq->hrq, arg->name);
        break;
    }
    if (!v) return false;
    *value = v;
    *len = strlen(v);
    return true;
}

/* The one place a call's failure becomes an HTTP problem (STYLE 9). */
static void call_failure(rest_request *rq, const cg_call_result *res)
{
    cg__rest_problem(rq, cg_call_error_status(res), cg_call_error_slug(res->error),
                     cg_call_error_title(res->error), res->message,
                     res->error == CG_CALL_BAD_ARGUMENT ? res->argument : NULL);
    if (res->error == CG_CALL_NO_CREDENTIALS || res->error == CG_CALL_CREDENTIALS_REFUSED)
        cg__rest_add_header(rq, "WWW-Authenticate", "Token");
    if (res->error == CG_CALL_OVERLOADED) cg__rest_add_header(rq, "Retry-After", "1");
    if (res->error != CG_CALL_BAD_ARGUMENT && res->error != CG_CALL_NO_CREDENTIALS)
        cg_log(CG_LOG_WARN, "rest", "%s %s: %d %s: %s", rq->method, rq->route,
               cg_call_error_status(res), cg_call_error_slug(res->error), res->message);
}

static void upstream_reply(rest_request *rq, cg_call_result *res)
{
    size_t len = 0;
    char *body = cg_call_take_body(res, &len);
    /* the content type lives in res, which ends with this callback: cg__rest_answer() copies it */
    cg__rest_set_reply(rq, res->status, res->content_type, body, body ? len : 0, free);
}

static void on_call_done(void *arg, cg_call_result *res)
{
    rest_request *rq = arg;
    rq->job = NULL;
    rq->upstream_status = res->upstream_status;
    if (res->error == CG_CALL_OK) upstream_reply(rq, res);
    else call_failure(rq, res);
    cg__rest_answer(rq);
}

void cg__rest_start_call(rest_request *rq)
{
    const char *auth = rq->forward_authorization ? cg_h1s_header_value(rq->hrq, "Authorization")
                                                 : NULL;
    cg_call_result now;
    cg_trace_set_incoming(cg_h1s_header_value(rq->hrq, "traceparent"), rq->op->name);
    if (cg_call_start(rq->v.engine, &rq->op->call, lookup_argument, rq, auth, on_call_done, rq,
                      &rq->job, &now) < 0) {
        rq->upstream_status = now.upstream_status;
        call_failure(rq, &now);
        cg__rest_answer(rq);
    }
}

/* A `forward:` resource: the rest of the path and the query go to the target namespace's
 * base URI with the same method and body; only the resource's trustedHeaders (and the
 * body's Content-Type) go along, plus the namespace's own inputs and credentials. */
void cg__rest_start_forward(rest_request *rq)
{
    const cg_rest_resource *res = rq->res;
    const char *target = cg_h1s_target(rq->hrq), *query = strchr(target, '?');
    /* the rest of the path, one segment at a time, encoded again; no dot segments, so a
     * relayed request can never climb out of the target's base path */
    cg_buf rel = CG_BUF_INIT;
    int last = rq->n_args - 1;
    const char *p = last >= 0 ? rq->arg_value[last] : "",
               *end = p + (last >= 0 ? rq->arg_len[last] : 0);
    while (p <= end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *seg_end = slash ? slash : end;
        size_t n = (size_t)(seg_end - p);
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') ||
            (n && memchr(p, '\0', n))) {
            cg_buf_free(&rel);
            cg__rest_problem(rq, 400, "bad-path", "Bad Request",
                             "a forwarded path may not hold '.' or "
                             "'..' segments",
                             NULL);
            cg__rest_answer(rq);
            return;
        }
        cg_buf_append_str(&rel, "/");
        cg_encode_percent(&rel, p, n);
        if (!slash) break;
        p = slash + 1;
    }
    if (query) cg_buf_append_str(&rel, query);
    const char *names[40], *values[40];
    size_t n = 0;
    for (size_t i = 0; i < res->n_trusted_headers && n < 39; i++) {
        const char *v = cg_h1s_header_value(rq->hrq, res->trusted_headers[i]);
        if (v && strcasecmp(res->trusted_headers[i], "Authorization")) {
            names[n] = res->trusted_headers[i];
            values[n++] = v;
        }
    }
    size_t body_len = 0;
    const char *body = cg_h1s_body(rq->hrq, &body_len);
    const char *ct = cg_h1s_header_value(rq->hrq, "Content-Type");
    if (body_len && ct) {
        names[n] = "Content-Type";
        values[n++] = ct;
    }
    bool auth_trusted = false;
    for (size_t i = 0; i < res->n_trusted_headers; i++)
        auth_trusted |= !strcasecmp(res->trusted_headers[i], "Authorization");
    cg_call_forward_request fr = {
        .method = rq->method,
        .target = rel.data ? rel.data : "/",
        .header_names = names,
        .header_values = values,
        .n_headers = n,
        .body = body,
        .body_len = body_len,
        .caller_authorization = auth_trusted && rq->forward_authorization
                                    ? cg_h1s_header_value(rq->hrq, "Authorization")
                                    : NULL,
    };
    cg_call_result now;
    if (cg_call_forward(rq->v.engine, res->forward_api, &fr, on_call_done, rq, &rq->job, &now) <
        0) {
        rq->upstream_status = now.upstream_status;
        call_failure(rq, &now);
        cg__rest_answer(rq);
    }
    cg_buf_free(&rel);
}
