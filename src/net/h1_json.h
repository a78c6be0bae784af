/*
 * h1_json.h — the small adapters that answer from memory (skill, control) on h1_server: a
 * server that hands each request to a route callback once its body is in (a body over the
 * limit gets 413 problem+json instead), and JSON answers: the body is sent with
 * Cache-Control: no-store, a problem+json error names the request path as its instance, and
 * running out of memory while building an answer still answers (500, a fixed problem body)
 * rather than leaving the request open.
 */
#ifndef CG_H1_JSON_H
#define CG_H1_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"
#include "net/h1_server.h"

#define CG_PROBLEM_TYPE "application/problem+json"

/* One adapter's server. The caller fills the fields above `h1` (in its own struct, which
 * must outlive the server) and calls cg_h1j_start; then cg_h1s_quiesce/cg_h1s_stop(h1). */
typedef struct cg_h1j_server {
    const char *too_large; /* the 413's detail, e.g. "the control port takes ... 1 MiB" */
    void (*route)(void *ctx, cg_h1s_request *rq); /* answers the request */
    void (*done)(void *ctx, cg_h1s_request *rq);  /* after each request; may be NULL */
    void *ctx;
    cg_h1s *h1; /* set by cg_h1j_start */
    int port;   /* the bound port, set by cg_h1j_start */
} cg_h1j_server;

/* Listens on ADDRESS (NULL: 127.0.0.1):PORT (0: any) with bodies up to MAX_BODY and
 * connections idle IDLE_TIMEOUT_S (0: 60) at most, on LOOP. -1 with a message in err. */
int cg_h1j_start(cg_h1j_server *srv, cg_loop *loop, const char *address, int port, size_t max_body,
                 unsigned idle_timeout_s, char *err, size_t errlen);

/* Answers STATUS with BODY (malloc'd: the server frees it) of media TYPE. */
void cg_h1j_respond(cg_h1s_request *rq, int status, const char *type, char *body, size_t len);

/* Answers STATUS with B's bytes (taken over: B is left empty) of media TYPE. */
void cg_h1j_respond_buf(cg_h1s_request *rq, int status, const char *type, cg_buf *b);

/* Answers STATUS with DOC (its reference taken over; NULL = out of memory) as compact JSON
 * of media TYPE (NULL: application/json). */
void cg_h1j_send(cg_h1s_request *rq, int status, const char *type, json_t *doc);

/* Answers STATUS with {"type":"urn:capgate:problem:SLUG","title","status","detail",
 * "instance": the request path} as application/problem+json. */
void cg_h1j_problem(cg_h1s_request *rq, int status, const char *slug, const char *title,
                    const char *detail);

#endif
