/*
 * feed.c — the ring of recent calls and the last minute's stats. See feed.h.
 *
 * Everything sits behind one mutex, held for a fixed, tiny amount of work: recording copies
 * three short strings into the slot seq & mask and adds one to three counters; reading
 * copies at most the caller's max events. Seconds are Unix seconds; a bucket is reused
 * when a new second maps onto it (t % 60) and reset then, so nothing has to tick.
 */
#include "console/feed.h"

#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_SECONDS 60
#define N_LAT 100 /* latency buckets, 2^(1/4) apart from LAT_BASE_MS */
#define LAT_BASE_MS 0.01

typedef struct second {
    int64_t t; /* the Unix second this bucket counts, or -1 */
    uint32_t calls, errors;
    uint32_t lat[N_LAT];
} second;

struct cg_feed {
    pthread_mutex_t lock;
    cg_feed_event *ring;
    size_t mask;
    _Atomic uint64_t last; /* seq of the newest event: written under lock, read without */
    second secs[N_SECONDS];
};

cg_feed *cg_feed_create(size_t capacity)
{
    size_t cap = 16;
    while (cap < capacity && cap < ((size_t)1 << 24)) cap <<= 1;
    cg_feed *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->ring = calloc(cap, sizeof *f->ring);
    if (!f->ring || pthread_mutex_init(&f->lock, NULL) != 0) {
        free(f->ring);
        free(f);
        return NULL;
    }
    f->mask = cap - 1;
    for (int i = 0; i < N_SECONDS; i++) f->secs[i].t = -1;
    return f;
}

void cg_feed_free(cg_feed *f)
{
    if (!f) return;
    pthread_mutex_destroy(&f->lock);
    free(f->ring);
    free(f);
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

static int latency_bucket(double ms)
{
    if (!(ms > LAT_BASE_MS)) return 0;
    int i = (int)ceil(4.0 * log2(ms / LAT_BASE_MS));
    return i < 0 ? 0 : i >= N_LAT ? N_LAT - 1 : i;
}

/* The upper edge of a latency bucket, in milliseconds. */
static double bucket_ms(int i)
{
    return LAT_BASE_MS * exp2(i / 4.0);
}

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The bucket for Unix second t, reset when it still holds an older second. */
static second *second_for(cg_feed *f, int64_t t)
{
    second *s = &f->secs[t % N_SECONDS];
    if (s->t != t) {
        memset(s, 0, sizeof *s);
        s->t = t;
    }
    return s;
}

void cg_feed_record(void *ctx, const cg_call_event *ev)
{
    cg_feed *f = ctx;
    double now = unix_now();
    int lb = latency_bucket(ev->duration_ms);
    pthread_mutex_lock(&f->lock);
    uint64_t seq = f->last + 1;
    cg_feed_event *e = &f->ring[seq & f->mask];
    e->seq = seq;
    e->ts = now;
    copy_text(e->adapter, sizeof e->adapter, ev->adapter);
    copy_text(e->method, sizeof e->method, ev->method);
    copy_text(e->target, sizeof e->target, ev->target);
    e->status = ev->status;
    e->upstream_status = ev->upstream_status;
    e->duration_ms = ev->duration_ms;
    second *s = second_for(f, (int64_t)now);
    s->calls++;
    if (ev->status >= 500) s->errors++;
    s->lat[lb]++;
    f->last = seq;
    pthread_mutex_unlock(&f->lock);
}

size_t cg_feed_read(cg_feed *f, uint64_t after, cg_feed_event *out, size_t max, uint64_t *skipped)
{
    size_t n = 0;
    uint64_t lost = 0;
    pthread_mutex_lock(&f->lock);
    uint64_t last = f->last, oldest = last > f->mask ? last - f->mask : 1;
    if (after > last) after = last; /* a reader from before a restart */
    if (after + 1 < oldest) {
        lost = oldest - after - 1;
        after = oldest - 1;
    }
    for (uint64_t s = after + 1; s <= last && n < max; s++) out[n++] = f->ring[s & f->mask];
    pthread_mutex_unlock(&f->lock);
    if (skipped) *skipped = lost;
    return n;
}

uint64_t cg_feed_last(cg_feed *f)
{
    return f->last;
}

int cg_feed_event_json(const cg_feed_event *ev, cg_buf *out)
{
    int rc = cg_buf_printf(out, "{\"seq\":%llu,\"ts\":%.3f,\"adapter\":\"",
                           (unsigned long long)ev->seq, ev->ts);
    rc |= cg_buf_append_json_escaped(out, ev->adapter, strlen(ev->adapter));
    rc |= cg_buf_append_str(out, "\",\"method\":\"");
    rc |= cg_buf_append_json_escaped(out, ev->method, strlen(ev->method));
    rc |= cg_buf_append_str(out, "\",\"target\":\"");
    rc |= cg_buf_append_json_escaped(out, ev->target, strlen(ev->target));
    rc |= cg_buf_printf(out, "\",\"status\":%d,\"upstream_status\":", ev->status);
    rc |= ev->upstream_status ? cg_buf_printf(out, "%d", ev->upstream_status)
                              : cg_buf_append_str(out, "null");
    rc |= cg_buf_printf(out, ",\"duration_ms\":%.3f}", ev->duration_ms);
    return rc ? -1 : 0;
}

/* The latency at quantile q of a histogram holding n calls. */
static double percentile(const uint32_t *lat, uint64_t n, double q)
{
    uint64_t want = (uint64_t)ceil(q * (double)n), seen = 0;
    if (want == 0) want = 1;
    for (int i = 0; i < N_LAT; i++) {
        seen += lat[i];
        if (seen >= want) return bucket_ms(i);
    }
    return bucket_ms(N_LAT - 1);
}

static int append_percentiles(cg_buf *out, const uint32_t *lat, uint64_t n)
{
    if (!n) return cg_buf_append_str(out, "\"p50\":null,\"p95\":null,\"p99\":null");
    return cg_buf_printf(out, "\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f", percentile(lat, n, 0.5),
                         percentile(lat, n, 0.95), percentile(lat, n, 0.99));
}

int cg_feed_stats_json(cg_feed *f, cg_buf *out)
{
    second copy[N_SECONDS];
    int64_t now = (int64_t)unix_now();
    pthread_mutex_lock(&f->lock);
    memcpy(copy, f->secs, sizeof copy);
    pthread_mutex_unlock(&f->lock);

    uint32_t total_lat[N_LAT] = {0};
    uint64_t calls = 0, errors = 0;
    int rc = cg_buf_printf(out, "{\"now\":%lld,\"seconds\":[", (long long)now);
    /* the last 60 whole seconds up to and including the current one */
    for (int64_t t = now - N_SECONDS + 1; t <= now; t++) {
        const second *s = &copy[t % N_SECONDS];
        bool live = s->t == t;
        uint64_t c = live ? s->calls : 0, e = live ? s->errors : 0;
        rc |= cg_buf_printf(out, "%s{\"t\":%lld,\"calls\":%llu,\"errors\":%llu,",
                            t == now - N_SECONDS + 1 ? "" : ",", (long long)t,
                            (unsigned long long)c, (unsigned long long)e);
        rc |= append_percentiles(out, live ? s->lat : total_lat, c);
        rc |= cg_buf_append_str(out, "}");
        if (!live) continue;
        calls += c;
        errors += e;
        for (int i = 0; i < N_LAT; i++) total_lat[i] += s->lat[i];
    }
    rc |= cg_buf_printf(out,
                        "],\"total\":{\"calls\":%llu,\"errors\":%llu,\"rate\":%.3f,"
                        "\"error_rate\":%.4f,",
                        (unsigned long long)calls, (unsigned long long)errors,
                        (double)calls / N_SECONDS, calls ? (double)errors / (double)calls : 0.0);
    rc |= append_percentiles(out, total_lat, calls);
    rc |= cg_buf_append_str(out, "}}");
    return rc ? -1 : 0;
}
