/*
 * trace.h — spans for exposed calls and upstream requests, W3C trace context, a local
 * ring buffer of recent traces and an OTLP/HTTP (JSON) exporter.
 *
 * Process-wide and off until cg_trace_init (serve calls it when the spec has a control
 * adapter with traces or an OTLP endpoint): when off every function here is a cheap no-op
 * and the call path is unchanged. When on:
 *   - each exposed call (engine/call.c cg_call_start) opens a SERVER span, a child of the
 *     caller's `traceparent` when the adapter passed one (cg_trace_set_incoming), else the
 *     root of a new trace; a call step opens an INTERNAL child of its orchestrated call;
 *   - each upstream request opens a CLIENT span whose id goes upstream in `traceparent`
 *     (version 00, the sampled flag as decided at the root);
 *   - when every span of a call has ended, the call becomes one trace summary in the ring
 *     buffer (the control adapter's GET /traces), and each sampled span is queued for the
 *     exporter thread, which posts batches to <endpoint>/v1/traces with libcurl. The queue
 *     is bounded: when the collector is slow or down, spans are dropped (and counted), the
 *     loop never waits.
 * Sampling is parent-based: an incoming sampled flag is honoured, a new trace is sampled
 * with the configured probability. Spans of one call live on one loop thread; the ring
 * buffer and the export queue have their own mutexes.
 */
#ifndef CG_TRACE_H
#define CG_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef struct cg_trace_config {
    double sampling;           /* 0..1: share of new traces recorded */
    int buffer_size;           /* traces kept for GET /traces; 0: none kept */
    const char *otlp_endpoint; /* OTLP/HTTP base URL (…/v1/traces is added), or NULL */
    const char *service_name;  /* resource service.name */
    int queue_max;             /* spans waiting for export; default 2048 */
    long export_interval_ms;   /* default 1000 */
} cg_trace_config;

typedef enum { CG_SPAN_INTERNAL = 1, CG_SPAN_SERVER = 2, CG_SPAN_CLIENT = 3 } cg_span_kind;

typedef struct cg_span cg_span;

/* Turns tracing on (once, before the workers start). 0, or -1 (memory, thread). */
int cg_trace_init(const cg_trace_config *cfg);
/* Flushes what is queued (waiting at most timeout_ms for the collector) and turns off. */
void cg_trace_shutdown(long timeout_ms);
bool cg_trace_on(void);

/* The adapter's incoming context for the next span this thread opens: the request's
 * traceparent header (NULL or malformed: none) and a name for the span (a string that
 * outlives the call: the route or the operation's name). Cleared by the next span start. */
void cg_trace_set_incoming(const char *traceparent, const char *name);
/* While set, spans this thread opens are children of parent (call steps). */
void cg_trace_set_parent(cg_span *parent);

/* Opens a span: a child of the current parent (cg_trace_set_parent), else of the incoming
 * context, else a new root. name must outlive the span. NULL when tracing is off. */
cg_span *cg_span_begin(cg_span_kind kind, const char *name);
/* A CLIENT child of parent (NULL parent: NULL span). */
cg_span *cg_span_begin_client(cg_span *parent, const char *name);
/* Writes "00-<trace>-<span>-<flags>" (55 characters and NUL). */
void cg_span_traceparent(const cg_span *s, char out[56]);
/* Ends and releases the span: status is the HTTP status (0: cancelled), error marks it
 * failed. NULL is ignored. */
void cg_span_end(cg_span *s, int status, bool error);

/* GET /traces: {"traces":[…],"bufferSize":N,"bufferUsed":M}, newest first, optionally
 * filtered by a substring of the operation and by status (OK/ERROR). -1 on memory. */
int cg_trace_render_list(cg_buf *out, const char *operation, const char *status);
/* GET /traces/{id}: 1 written, 0 not found, -1 memory. */
int cg_trace_render_one(cg_buf *out, const char *trace_id);

typedef struct cg_trace_counters {
    uint64_t spans_exported, spans_dropped, export_failures;
} cg_trace_counters;
void cg_trace_counters_get(cg_trace_counters *out);

/* Parses a traceparent header value. true when well-formed (version 00 or future, ids
 * hex and not all zero). */
bool cg_trace_parse_traceparent(const char *v, uint8_t trace_id[16], uint8_t span_id[8],
                                bool *sampled);

#endif
