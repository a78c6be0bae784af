/*
 * console.h — capgate's console: a web page at /console/ on the REST adapter's listener.
 *
 * The page (HTML, CSS and JavaScript embedded in the binary: src/console/www/) shows the
 * capability, its consumed APIs and whether each answers, every REST route and MCP tool, a
 * live feed of calls and the last minute's rate, errors and latency, and a form to call any
 * tool or route. Its data comes from JSON endpoints here:
 *   GET  /console/api/capability      label, description, consumed APIs, routes, tools
 *   GET  /console/api/upstreams       each consumed API probed now (GET base URI + "/")
 *   GET  /console/api/stats           the last 60 seconds (console/feed.h)
 *   GET  /console/api/events?after=N  events after sequence N (at most 200), JSON
 *   GET  /console/api/stream?after=N  the same as Server-Sent Events, live
 *   POST /console/api/tools/NAME      calls tool NAME with the JSON body as its arguments;
 *                                     answers the MCP tools/call result
 * The REST adapter routes everything under /console to cg_console_handle after its own
 * inbound-auth check, which the static page (cg_console_is_public) skips: the page loads
 * without a token, asks for one when the API answers 401, and keeps it in the tab.
 *
 * One cg_console per worker, on its loop; the feed it reads is the process's (feed.h).
 * A page's stream is fed from a timer on that worker's loop (every 100 ms, at most
 * CG_CONSOLE_STREAM_BATCH events a tick): the workers recording calls never wait for it.
 */
#ifndef CG_CONSOLE_H
#define CG_CONSOLE_H

#include <stdbool.h>

#include "console/feed.h"
#include "engine/call.h"
#include "net/h1_server.h"
#include "spec/spec.h"

#define CG_CONSOLE_STREAM_BATCH 20

typedef struct cg_console cg_console;

typedef struct cg_console_options {
    const cg_spec *spec;
    const cg_rest_adapter *rest; /* the adapter the console is mounted on */
    const cg_mcp_adapter *mcp;   /* its tools, or NULL */
    cg_feed *feed;               /* the process's (shared) */
    cg_metrics *metrics;         /* console tool calls are recorded here; may be NULL */
    bool auth;                   /* inbound auth is on (shown on the page) */
    int mcp_port;                /* the MCP adapter's port, 0 when none */
} cg_console_options;

/* A console on engine's loop. NULL when out of memory. */
cg_console *cg_console_start(cg_engine *engine, const cg_console_options *opt);

/* The first step of a drain: ends every open stream (a page reconnects elsewhere), so an
 * open console never holds a shutdown up. Calls and probes finish as usual. */
void cg_console_quiesce(cg_console *c);

/* Ends every stream and call still open, frees the console. NULL is fine. */
void cg_console_stop(cg_console *c);

/* true for the page itself (GET/HEAD of /console, /console/ and its static files), which
 * needs no token; everything under /console/api/ does. */
bool cg_console_is_public(const char *method, const char *path);

/* Answers a request whose path is /console or starts with /console/, now or later. Returns
 * what the console keeps for a request answered later (a probe, a call, a stream), or NULL;
 * the caller hands it back to cg_console_end when the request is over. */
void *cg_console_handle(cg_console *c, cg_h1s_request *rq);

/* The request is over (h1_server's on_end): cancels and releases state (NULL is fine). */
void cg_console_end(cg_console *c, void *state);

#endif
