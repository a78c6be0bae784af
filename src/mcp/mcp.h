/*
 * mcp.h — the MCP adapter: a spec's tools over Streamable HTTP (on the workers' event
 * loops) and over stdio, plus the `capgate mcp` command.
 *
 * Streamable HTTP runs on capgate's own HTTP/1.1 server (net/h1_server.h), one per
 * worker loop, listening on the same port with SO_REUSEPORT, next to the REST adapter's.
 * What all workers must agree on — the protocol core, the sessions, the Origin/Host
 * allowlist, and the list of workers that cancellations are broadcast to — lives in one
 * cg_mcp_shared created before the workers start. How `capgate serve` (or any host) wires it:
 *
 *     cg_mcp_shared *mcp = cg_mcp_shared_create(spec, &spec->mcp[i], &opt, err, sizeof err);
 *     for each worker (its loop and engine already created):
 *         worker->mcp = cg_mcp_http_start(worker->engine, mcp, err, sizeof err);
 *     ... run the loops; when a stop is requested, on each worker's loop thread:
 *         cg_mcp_http_quiesce(worker->mcp);   then wait for cg_mcp_http_active() == 0
 *     on the worker's loop thread, or after its loop has returned:
 *         cg_mcp_http_stop(worker->mcp);
 *     after every worker has stopped: cg_mcp_shared_free(mcp);
 *
 * An adapter whose transport is stdio is not served by `capgate serve`; desktop clients
 * start `capgate mcp --stdio FILE` (cg_mcp_stdio_run) as a child process instead.
 */
#ifndef CG_MCP_H
#define CG_MCP_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/call.h"
#include "engine/inbound_auth.h"
#include "engine/metrics.h"
#include "spec/spec.h"

typedef struct cg_mcp_http_options {
    const char *address;            /* IP literal to bind; default the adapter's, else 127.0.0.1 */
    int port;                       /* -1 = the adapter's port; 0 = any free port */
    const char *const *allow_hosts; /* extra Host values accepted ("name" = any port,
                                     * "name:port" exact, "*" = any host) */
    size_t n_allow_hosts;
    const char *const *allow_origins; /* extra Origin values accepted (exact, e.g.
                                        * "https://app.example.com"; "*" = any) */
    size_t n_allow_origins;
    size_t max_sessions;           /* default 10000 */
    unsigned session_idle_s;       /* default 1800 */
    size_t page_size;              /* tools/list page size; 0 = one page */
    unsigned heartbeat_s;          /* SSE keep-alive comment interval; default 15 */
    unsigned connection_timeout_s; /* idle keep-alive connections; default 60 */
    bool access_log;               /* one JSON line per request on stderr */
    cg_metrics *metrics;           /* may be NULL */
    const cg_inbound_auth *auth;   /* inbound API tokens (read-only, outlives the adapter):
                                     * every /mcp request must carry one, else 401 with
                                     * WWW-Authenticate; NULL = off. An Authorization that
                                     * carried the token is not forwarded upstream. */
} cg_mcp_http_options;

typedef struct cg_mcp_shared cg_mcp_shared;
typedef struct cg_mcp_http cg_mcp_http;

/* What every worker shares for one MCP adapter. The options (and the strings they point
 * to), spec and adapter must outlive it. NULL on failure, with a message in err. */
cg_mcp_shared *cg_mcp_shared_create(const cg_spec *spec, const cg_mcp_adapter *adapter,
                                    const cg_mcp_http_options *opt, char *err, size_t errlen);
/* Frees it; every worker's adapter must have been stopped. */
void cg_mcp_shared_free(cg_mcp_shared *shared);

/* Starts the Streamable HTTP endpoint (/mcp) on engine's loop. The first worker to start
 * binds the port (an ephemeral one when the option is 0); the others join it. NULL on
 * failure, with a message in err. */
cg_mcp_http *cg_mcp_http_start(cg_engine *engine, cg_mcp_shared *shared, char *err, size_t errlen);

/* The port the workers listen on (after the first cg_mcp_http_start). */
int cg_mcp_shared_port(const cg_mcp_shared *shared);

/* The first step of a drain: stops accepting connections, ends the GET streams (clients
 * reconnect elsewhere), answers new requests on open connections with 503, and lets the
 * calls in flight finish. */
void cg_mcp_http_quiesce(cg_mcp_http *h);

/* Requests being answered right now on this worker (calls waiting, open streams). */
int cg_mcp_http_active(const cg_mcp_http *h);

/* On the worker's loop thread: cancels the calls in progress, ends the streams, closes
 * every connection and frees the endpoint. NULL is fine. */
void cg_mcp_http_stop(cg_mcp_http *h);

struct cg_mcp_core;

/* For a reload: a protocol core for spec's adapter with the options shared was created
 * with. Freed with cg_mcp_core_free (protocol.h). NULL when out of memory. */
struct cg_mcp_core *cg_mcp_shared_core_create(const cg_mcp_shared *shared, const cg_spec *spec,
                                              const cg_mcp_adapter *adapter);

/* On the worker's loop thread, for a reload: messages from now on go through core (made
 * with cg_mcp_shared_core_create for the new spec; it must outlive every call it
 * started) and calls run on engine; calls in progress finish as they started. When
 * tools_changed, every open GET stream of this worker gets notifications/tools/list_changed. */
void cg_mcp_http_reload(cg_mcp_http *h, cg_engine *engine, const struct cg_mcp_core *core,
                        bool tools_changed);

/* Serves the adapter's tools on stdin/stdout (one JSON-RPC message per line) until stdin
 * ends and the calls in progress are answered. Logs go to stderr. Returns an exit status. */
int cg_mcp_stdio_run(const cg_spec *spec, const cg_mcp_adapter *adapter,
                     const cg_engine_options *engine_options);

/* `capgate mcp [--stdio] [OPTIONS] [FILE]`. */
int cg_mcp_main(int argc, char **argv);

#endif
