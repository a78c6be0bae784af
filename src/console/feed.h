/*
 * feed.h — the console's record of recent calls: a ring of events and per-second stats.
 *
 * One cg_feed per process. Worker threads record each finished call into it (it is the
 * metrics call sink, engine/metrics.h), holding a mutex only to copy one small fixed-size
 * record and bump one second's counters: recording never waits on a reader for longer than
 * that copy, and never allocates or makes a system call. Readers (the console on whichever
 * worker serves a page) copy events out by sequence number, a bounded number at a time; a
 * reader that falls more than the ring's size behind skips what was overwritten and is told
 * how many it missed — a slow page loses events, the gateway never slows down for it.
 *
 * Stats cover the last 60 seconds, one bucket per second: calls, errors (status >= 500)
 * and a latency histogram (buckets 2^(1/4) apart, so a percentile is exact to within 19%).
 */
#ifndef CG_FEED_H
#define CG_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "engine/metrics.h"

#define CG_FEED_ADAPTER_MAX 12
#define CG_FEED_METHOD_MAX 16
#define CG_FEED_TARGET_MAX 160

/* One recorded call (strings truncated to fit, always NUL-terminated). */
typedef struct cg_feed_event {
    uint64_t seq; /* 1, 2, 3, ... */
    double ts;    /* Unix time, seconds */
    char adapter[CG_FEED_ADAPTER_MAX];
    char method[CG_FEED_METHOD_MAX];
    char target[CG_FEED_TARGET_MAX];
    int status;
    int upstream_status; /* 0: none */
    double duration_ms;
} cg_feed_event;

typedef struct cg_feed cg_feed;

/* A feed keeping the last capacity events (rounded up to a power of two). NULL: memory. */
cg_feed *cg_feed_create(size_t capacity);
void cg_feed_free(cg_feed *f);

/* Records one call (a cg_metrics_call_sink: ctx is the feed). Any thread. */
void cg_feed_record(void *ctx, const cg_call_event *ev);

/* Copies up to max events with seq > after into out, oldest first. Returns how many;
 * *skipped gets how many events after `after` were already overwritten (may be NULL). */
size_t cg_feed_read(cg_feed *f, uint64_t after, cg_feed_event *out, size_t max, uint64_t *skipped);

/* The sequence number of the newest event (0: none yet). */
uint64_t cg_feed_last(cg_feed *f);

/* Appends one event as a JSON object. 0 or -1. */
int cg_feed_event_json(const cg_feed_event *ev, cg_buf *out);

/* Appends the last 60 seconds as JSON:
 *   {"now":T,"seconds":[{"t":T,"calls":N,"errors":N,"p50":MS,"p95":MS,"p99":MS}, ...60],
 *    "total":{"calls":N,"errors":N,"rate":PER_S,"error_rate":FRACTION,"p50":...}}
 * oldest second first; percentiles are null for seconds without calls. 0 or -1. */
int cg_feed_stats_json(cg_feed *f, cg_buf *out);

#endif
