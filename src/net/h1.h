/*
 * h1.h — capgate's own HTTP/1.1 client connections, an internal part of upstream.c.
 *
 * libcurl costs a proxied request two poll() calls (its liveness and readability checks)
 * and its per-transfer bookkeeping; this client does one send() and usually one recv() on
 * a keep-alive connection that stays registered in the loop. It speaks only plain http://
 * to an IP literal or "localhost" (no TLS, no DNS, which would block the loop); upstream.c
 * uses libcurl for everything else. One attempt = one request on one connection; retries,
 * queueing and the in-flight cap stay in upstream.c.
 */
#ifndef CG_H1_H
#define CG_H1_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "net/loop.h"
#include "net/upstream_types.h"

typedef struct cg__h1 cg__h1;
typedef struct cg__h1_call cg__h1_call;

/* How an attempt ended. connect_failed: no connection could be made (safe to retry). */
typedef struct cg__h1_outcome {
    cg_upstream_result result;
    bool connect_failed;
    int status;
    const char *content_type;
    const char *www_authenticate; /* 401 only */
    cg_buf *body;                 /* the callback may steal its contents */
    const char *error;
} cg__h1_outcome;

typedef void (*cg__h1_cb)(void *arg, const cg__h1_outcome *o);

cg__h1 *cg__h1_create(cg_loop *loop, int max_idle, size_t max_response);
void cg__h1_free(cg__h1 *h);

/* true when url is http://IP[:port]/... or http://localhost[:port]/... (h remembers the
 * last origin it worked out). */
bool cg__h1_supports(cg__h1 *h, const char *url);

/* Sends one request. Host, Content-Length and User-Agent are added to headers here. idempotent: the request may be sent a second time when a
 * reused keep-alive connection turns out to be dead; otherwise it never is (a pooled
 * connection is checked before use instead). NULL when out of memory or the URL is
 * unsupported. The callback never runs inside this call. */
cg__h1_call *cg__h1_start(cg__h1 *h, const char *method, const char *url,
                          const cg_upstream_header *headers, size_t n_headers, const char *body,
                          size_t body_len, bool has_body, bool idempotent, const char *user_agent,
                          long connect_timeout_ms, long timeout_ms, cg__h1_cb cb, void *arg);

/* Abandons an attempt (its connection is closed); cb will not run. */
void cg__h1_cancel(cg__h1_call *c);

#endif
