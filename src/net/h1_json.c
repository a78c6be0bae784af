/*
 * h1_json.c — JSON answers on an h1_server request. See h1_json.h.
 */
#include "net/h1_json.h"

#include <stdlib.h>
#include <string.h>

/* What goes out when the answer itself could not be built: static, so it needs no memory. */
static char oom_body[] = "{\"title\":\"Internal Server Error\",\"status\":500,"
                         "\"detail\":\"out of memory\"}";

static void respond_oom(cg_h1s_request *rq)
{
    cg_h1s_header h = {"Content-Type", CG_PROBLEM_TYPE};
    cg_h1s_respond(rq, 500, &h, 1, oom_body, sizeof oom_body - 1, NULL);
}

static void on_head(void *ctx, cg_h1s_request *rq)
{
    (void)ctx;
    (void)rq; /* answered in on_body, which comes for every request */
}

static void on_body(void *ctx, cg_h1s_request *rq)
{
    cg_h1j_server *srv = ctx;
    if (cg_h1s_status(rq)) return;
    if (cg_h1s_body_too_large(rq))
        cg_h1j_problem(rq, 413, "body-too-large", "Content Too Large", srv->too_large);
    else srv->route(srv->ctx, rq);
}

static void on_end(void *ctx, cg_h1s_request *rq)
{
    cg_h1j_server *srv = ctx;
    if (srv->done) srv->done(srv->ctx, rq);
}

int cg_h1j_start(cg_h1j_server *srv, cg_loop *loop, const char *address, int port, size_t max_body,
                 unsigned idle_timeout_s, char *err, size_t errlen)
{
    static const cg_h1s_handlers handlers = {on_head, on_body, on_end, NULL};
    cg_h1s_options so = {.address = address ? address : "127.0.0.1",
                         .port = port,
                         .max_body = max_body,
                         .idle_timeout_s = idle_timeout_s ? idle_timeout_s : 60};
    srv->h1 = cg_h1s_start(loop, &so, &handlers, srv, err, errlen);
    if (!srv->h1) return -1;
    srv->port = cg_h1s_port(srv->h1);
    return 0;
}

void cg_h1j_respond(cg_h1s_request *rq, int status, const char *type, char *body, size_t len)
{
    cg_h1s_header h[] = {{"Content-Type", type}, {"Cache-Control", "no-store"}};
    cg_h1s_respond(rq, status, h, 2, body, len, free);
}

void cg_h1j_respond_buf(cg_h1s_request *rq, int status, const char *type, cg_buf *b)
{
    size_t len = b->len;
    char *body = cg_buf_steal(b);
    if (!body) respond_oom(rq);
    else cg_h1j_respond(rq, status, type, body, len);
}

void cg_h1j_send(cg_h1s_request *rq, int status, const char *type, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) respond_oom(rq);
    else cg_h1j_respond(rq, status, type ? type : "application/json", text, strlen(text));
}

void cg_h1j_problem(cg_h1s_request *rq, int status, const char *slug, const char *title,
                    const char *detail)
{
    cg_h1j_send(rq, status, CG_PROBLEM_TYPE,
                json_pack("{s:s+,s:s,s:i,s:s,s:s}", "type", "urn:capgate:problem:", slug, "title",
                          title, "status", status, "detail", detail, "instance", cg_h1s_path(rq)));
}
