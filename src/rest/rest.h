/*
 * rest.h — the REST adapter: a spec's exposed REST resources served on a worker's loop.
 *
 * One cg_rest per worker thread: an HTTP/1.1 server (net/h1_server.h) on the loop listening
 * with SO_REUSEPORT (so every worker accepts on the same port), routing each request to
 * an exposed operation, screening it (route, method, body size, content type) and handing
 * it to the operation call (engine/call.h) while the connection waits. Besides the
 * spec's routes it answers GET /healthz, /readyz (is the upstream reachable), /metrics
 * (Prometheus text), /v1/openapi.json and, when given one, the console under /console. Every error capgate itself produces is RFC 9457
 * application/problem+json; each finished request is one JSON access-log line on stderr.
 * Each finished call (not the console's own requests) is also recorded as a
 * cg_call_event on the metrics (the console's live feed).
 * When inbound tokens are configured (engine/inbound_auth.h), every request except GET/HEAD
 * /healthz, /readyz and the console's static page must present one, or gets 401 with WWW-Authenticate and nothing is
 * forwarded; an Authorization header that carried the token is not forwarded upstream.
 */
#ifndef CG_REST_H
#define CG_REST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "console/console.h"
#include "engine/call.h"
#include "engine/inbound_auth.h"
#include "engine/metrics.h"
#include "spec/spec.h"

typedef struct cg_rest cg_rest;

/* A reference a request holds on what it uses of the spec (a spec "generation", see
 * runtime.c): retain when its headers arrive, release when it is over. Both NULL: none. */
typedef struct cg_rest_hold {
    void (*retain)(void *ctx);
    void (*release)(void *ctx);
    void *ctx;
} cg_rest_hold;

typedef struct cg_rest_options {
    const cg_spec *spec;
    const cg_rest_adapter *adapter;
    const char *address; /* IP literal to bind; default 127.0.0.1 */
    int port;            /* 0 = any free port (see cg_rest_port) */
    size_t max_body;     /* request body limit; default 10 MiB */
    bool access_log;     /* one JSON line per request on stderr */
    const char *openapi; /* the document served at /v1/openapi.json (shared) */
    size_t openapi_len;
    cg_metrics *metrics;           /* may be NULL */
    unsigned connection_timeout_s; /* idle keep-alive connections; default 60 */
    const cg_inbound_auth *auth;   /* inbound API tokens (shared, read-only); NULL = off */
    cg_console *console;           /* served under /console (console/console.h); NULL = none */
    cg_rest_hold hold;             /* what each request holds while it runs (optional) */
    _Atomic(const char *) *reload_status; /* a JSON object /readyz shows as "reload" (the
                                             * last SIGHUP's outcome), or NULL; the strings
                                             * outlive the adapter */
} cg_rest_options;

/* Starts the adapter on engine's loop. NULL on failure, with a message in err. */
cg_rest *cg_rest_start(cg_engine *engine, const cg_rest_options *opt, char *err, size_t errlen);

/* The port actually bound. */
int cg_rest_port(const cg_rest *r);

/* Sets the document served at /v1/openapi.json (not copied; before the loop runs). */
void cg_rest_set_openapi(cg_rest *r, const char *doc, size_t len);

/* On the loop's thread: requests from now on use engine and opt's spec, adapter, openapi,
 * console and hold (the rest of opt is ignored); requests already received finish with
 * what they started with. Connections and the listening socket stay. */
void cg_rest_reload(cg_rest *r, cg_engine *engine, const cg_rest_options *opt);

/* Stops accepting new connections (the first step of a drain); requests already
 * received are still answered, each with "Connection: close". */
void cg_rest_quiesce(cg_rest *r);

/* Requests received and not yet answered. */
int cg_rest_active(const cg_rest *r);

/* Cancels what is still running, closes every connection, frees the adapter. */
void cg_rest_stop(cg_rest *r);

/* Builds the OpenAPI 3.1 document for a REST adapter into out. 0, or -1 (memory). */
int cg_rest_openapi(const cg_spec *spec, const cg_rest_adapter *adapter, const char *server_url,
                    cg_buf *out);

#endif
