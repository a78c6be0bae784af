/*
 * metrics.h — the serve process's counters, rendered in Prometheus text format.
 *
 * One cg_metrics per process, shared by every worker thread: request counters by route,
 * method and status behind a mutex (a short table, a few dozen rows), and lock-free
 * atomics for the in-flight gauge and the upstream latency histogram.
 */
#ifndef CG_METRICS_H
#define CG_METRICS_H

#include "common/buf.h"

typedef struct cg_metrics cg_metrics;

cg_metrics *cg_metrics_create(void);
void cg_metrics_free(cg_metrics *m);

/* Counts one finished request. route and method must outlive m (spec strings, literals). */
void cg_metrics_count_request(cg_metrics *m, const char *route, const char *method, int status);

/* Records one upstream call: its duration and how it ended ("ok", "timeout", ...; a
 * string literal). */
void cg_metrics_observe_upstream(cg_metrics *m, double seconds, const char *result);

/* Requests being served right now (+1 when one starts, -1 when it ends). */
void cg_metrics_in_flight(cg_metrics *m, int delta);
long cg_metrics_in_flight_now(cg_metrics *m);

/* One finished call, as the access log and the console's live feed see it. The strings
 * are only read during cg_metrics_record_call. */
typedef struct cg_call_event {
    const char *adapter; /* "rest", "mcp", "console" */
    const char *method;  /* HTTP method, or "tools/call" */
    const char *target;  /* the request path, or the tool's name */
    int status;          /* what the caller got (HTTP status; an MCP tool: the
                                 * upstream's, or capgate's error status) */
    int upstream_status; /* 0 when no upstream response came */
    double duration_ms;
} cg_call_event;

/* Receives every recorded call, on the worker thread that served it: it must not block. */
typedef void (*cg_metrics_call_sink)(void *ctx, const cg_call_event *ev);

/* Sets the sink (before any worker runs; NULL removes it). */
void cg_metrics_set_call_sink(cg_metrics *m, cg_metrics_call_sink sink, void *ctx);

/* Hands one finished call to the sink, if any (any thread). */
void cg_metrics_record_call(cg_metrics *m, const cg_call_event *ev);

/* Appends the exposition text (text/plain; version=0.0.4). 0 or -1. */
int cg_metrics_render(cg_metrics *m, cg_buf *out);

#endif
