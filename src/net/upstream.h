/*
 * upstream.h — the non-blocking HTTP client a worker uses to reach the consumed API.
 *
 * One cg_upstream per cg_loop, built on one curl multi handle driven by the loop
 * (curl_multi_socket_action): no thread ever waits on the upstream. The multi handle owns
 * the keep-alive connection pool (bounded by max_host_connections); easy handles are
 * reused from a free list. At most max_in_flight transfers run at once; more wait in a
 * FIFO queue of at most max_queued, beyond which a submit fails as CG_UPSTREAM_OVERLOADED.
 * An idempotent request whose connection could not be made is retried up to `retries`
 * times with exponential back-off, within its total timeout. A non-idempotent request is
 * never sent twice, not even when a reused keep-alive connection dies under it (libcurl:
 * it always gets a new connection; capgate's client: a pooled connection is checked first).
 *
 * Ownership: cg_upstream_submit copies everything in the request. The completion callback
 * runs exactly once per submitted transfer (never inside cg_upstream_submit), unless the
 * transfer was cancelled first; after the callback returns the transfer is gone. The
 * response is the callback's to read; it may take the body with cg_upstream_take_body.
 */
#ifndef CG_UPSTREAM_H
#define CG_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "net/loop.h"
#include "net/upstream_types.h"

typedef struct cg_upstream cg_upstream;
typedef struct cg_upstream_transfer cg_upstream_transfer;

typedef struct cg_upstream_config {
    int max_in_flight;        /* transfers running at once (default 64) */
    int max_queued;           /* waiting beyond that (default 4096) */
    int max_host_connections; /* keep-alive pool per host (default = max_in_flight) */
    int retries;              /* extra attempts on connection failure (default 2) */
    long retry_backoff_ms;    /* first back-off, doubled each time (default 50) */
    size_t max_response;      /* response body limit in bytes (default 64 MiB) */
    const char *user_agent;   /* default "capgate" */
    bool native_http;         /* plain http:// to an IP or localhost goes through capgate's
                                 * own HTTP/1.1 client (fewer syscalls); the rest via libcurl */
} cg_upstream_config;

typedef struct cg_upstream_request {
    const char *method; /* GET POST PUT PATCH DELETE ... */
    const char *url;    /* absolute, already encoded */
    const cg_upstream_header *headers;
    size_t n_headers;
    const char *body; /* sent when body != NULL (may be empty) */
    size_t body_len;
    long connect_timeout_ms; /* 0 = 3000 */
    long timeout_ms;         /* total, 0 = 30000 */
    bool idempotent;         /* may be retried on connection failure */
} cg_upstream_request;

typedef struct cg_upstream_response {
    cg_upstream_result result;
    int status;                   /* HTTP status when result is CG_UPSTREAM_OK */
    const char *content_type;     /* NULL when the upstream sent none */
    const char *www_authenticate; /* a 401's WWW-Authenticate (a Digest challenge when one
                                    * was among several), else NULL */
    cg_buf body;
    const char *error; /* human-readable cause when result is not OK */
    double seconds;    /* wall time from submit to completion */
    int attempts;
} cg_upstream_response;

typedef void (*cg_upstream_cb)(void *arg, cg_upstream_response *res);

/* Creates a client on loop. cfg may be NULL (defaults). NULL on failure, message in err. */
cg_upstream *cg_upstream_create(cg_loop *loop, const cg_upstream_config *cfg, char *err,
                                size_t errlen);

/* Cancels every transfer without callbacks and frees the client. NULL is fine. */
void cg_upstream_free(cg_upstream *up);

/* Starts (or queues) a request. Returns the transfer, or NULL when out of memory; every
 * other failure is reported through cb. */
cg_upstream_transfer *cg_upstream_submit(cg_upstream *up, const cg_upstream_request *req,
                                         cg_upstream_cb cb, void *arg);

/* Abandons a transfer whose callback has not run yet: cb will not be called. */
void cg_upstream_cancel(cg_upstream_transfer *t);

/* Transfers running plus queued. */
int cg_upstream_pending(const cg_upstream *up);

/* Moves the body out of a response (free() it); *len gets its length. Never NULL. */
char *cg_upstream_take_body(cg_upstream_response *res, size_t *len);

/* The result's name for logs and metrics: "ok", "unreachable", "timeout", ... */
const char *cg_upstream_result_name(cg_upstream_result r);

#endif
