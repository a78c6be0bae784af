/*
 * trace.c — spans, W3C trace context, the local trace buffer and the OTLP exporter.
 * See trace.h.
 */
#include "engine/trace.h"

#include "common/clock.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define MAX_SPANS_PER_TRACE 64
#define EXPORT_BATCH 512

typedef struct span_rec {
    uint8_t span_id[8], parent_id[8];
    bool has_parent;
    const char *name;
    cg_span_kind kind;
    uint64_t start_ns, end_ns; /* Unix time */
    int status;
    bool error;
} span_rec;

/* The spans of one exposed call (all on one loop thread), then a summary in the ring. */
typedef struct local_trace {
    uint8_t trace_id[16];
    bool sampled;
    int open;      /* spans begun and not ended */
    span_rec root; /* the first span begun here, once ended */
    bool root_done;
    span_rec *spans; /* ended spans: `few` until more are needed */
    size_t n_spans, cap_spans, n_total;
    span_rec few[3]; /* a call and its upstream request fit without a malloc */
} local_trace;

struct cg_span {
    local_trace *t;
    span_rec rec;
    bool is_root;
};

typedef struct export_rec {
    uint8_t trace_id[16];
    span_rec rec;
} export_rec;

static struct {
    atomic_bool on;
    cg_trace_config cfg;
    char *url;
    /* ring buffer of finished traces */
    pthread_mutex_t ring_mu;
    local_trace **ring;
    int ring_cap, ring_head, ring_size;
    /* export queue */
    pthread_mutex_t q_mu;
    pthread_cond_t q_cond;
    export_rec *q;
    int q_cap, q_head, q_len;
    bool q_stop;
    long flush_timeout_ms;
    pthread_t exporter;
    bool exporter_running;
    atomic_uint_fast64_t exported, dropped, failures;
} T = {.ring_mu = PTHREAD_MUTEX_INITIALIZER,
       .q_mu = PTHREAD_MUTEX_INITIALIZER,
       .q_cond = PTHREAD_COND_INITIALIZER};

static _Thread_local struct {
    bool set, valid, sampled;
    uint8_t trace_id[16], span_id[8];
    const char *name;
} incoming;
static _Thread_local cg_span *current_parent;
static _Thread_local uint64_t rng_state[2];

/* ---- ids and time --------------------------------------------------------------- */

static uint64_t next_random(void)
{
    if (!rng_state[0] && !rng_state[1]) {
        if (getrandom(rng_state, sizeof rng_state, 0) != sizeof rng_state) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            rng_state[0] = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)pthread_self();
            rng_state[1] = (uint64_t)ts.tv_sec ^ 0xD1B54A32D192ED03ull;
        }
        rng_state[0] |= 1;
    }
    /* xorshift128+ */
    uint64_t s1 = rng_state[0];
    const uint64_t s0 = rng_state[1];
    rng_state[0] = s0;
    s1 ^= s1 << 23;
    rng_state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return rng_state[1] + s0;
}

static void random_id(uint8_t *out, size_t n)
{
    do {
        for (size_t i = 0; i < n; i += 8) {
            uint64_t r = next_random();
            memcpy(out + i, &r, n - i < 8 ? n - i : 8);
        }
    } while (!memcmp(out, "\0\0\0\0\0\0\0\0", 8)); /* never all zero (invalid in W3C) */
}

static void hex(char *out, const uint8_t *b, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* n bytes from 2n lowercase hex digits. 0, or -1 on a bad digit. */
static int unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + k];
            int x = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (x < 0) return -1;
            v = v * 16 + x;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i]) return false;
    return true;
}

bool cg_trace_parse_traceparent(const char *v, uint8_t trace_id[16], uint8_t span_id[8],
                                bool *sampled)
{
    /* W3C Trace Context §3.2: version "-" trace-id(32) "-" parent-id(16) "-" flags(2) */
    if (!v) return false;
    size_t n = strlen(v);
    uint8_t ver, flags;
    if (n < 55 || unhex(v, &ver, 1) < 0 || ver == 0xff) return false;
    if (v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
    if (ver == 0 ? n != 55 : n > 55 && v[55] != '-') return false;
    if (unhex(v + 3, trace_id, 16) < 0 || all_zero(trace_id, 16)) return false;
    if (unhex(v + 36, span_id, 8) < 0 || all_zero(span_id, 8)) return false;
    if (unhex(v + 53, &flags, 1) < 0) return false;
    *sampled = flags & 1;
    return true;
}

/* ---- spans ---------------------------------------------------------------------- */

bool cg_trace_on(void)
{
    return atomic_load_explicit(&T.on, memory_order_relaxed);
}

void cg_trace_set_incoming(const char *traceparent, const char *name)
{
    if (!cg_trace_on()) return;
    incoming.set = true;
    incoming.name = name;
    incoming.valid = cg_trace_parse_traceparent(traceparent, incoming.trace_id, incoming.span_id,
                                                &incoming.sampled);
}

void cg_trace_set_parent(cg_span *parent)
{
    current_parent = parent;
}

static void trace_free(local_trace *t)
{
    if (!t) return;
    if (t->spans != t->few) free(t->spans);
    free(t);
}

static cg_span *span_new(local_trace *t, cg_span_kind kind, const char *name,
                         const uint8_t *parent_id)
{
    cg_span *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->t = t;
    s->rec.kind = kind;
    s->rec.name = name ? name : "call";
    random_id(s->rec.span_id, 8);
    if (parent_id) {
        memcpy(s->rec.parent_id, parent_id, 8);
        s->rec.has_parent = true;
    }
    s->rec.start_ns = cg_clock_wall_ns();
    t->open++;
    return s;
}

cg_span *cg_span_begin(cg_span_kind kind, const char *name)
{
    if (!cg_trace_on()) return NULL;
    if (current_parent)
        return span_new(current_parent->t, CG_SPAN_INTERNAL, name, current_parent->rec.span_id);
    local_trace *t = malloc(sizeof *t);
    if (!t) return NULL;
    t->open = 0;
    t->root_done = false;
    t->spans = t->few;
    t->n_spans = t->n_total = 0;
    t->cap_spans = sizeof t->few / sizeof t->few[0];
    const uint8_t *parent = NULL;
    if (incoming.set && incoming.valid) {
        memcpy(t->trace_id, incoming.trace_id, 16);
        t->sampled = incoming.sampled;
        parent = incoming.span_id;
    } else {
        random_id(t->trace_id, 16);
        double p = T.cfg.sampling;
        t->sampled = p >= 1.0 || (p > 0 && (double)(next_random() >> 11) / 9007199254740992.0 < p);
    }
    if (incoming.set && incoming.name) name = incoming.name;
    cg_span *s = span_new(t, kind, name, parent);
    incoming.set = false;
    if (!s) {
        trace_free(t);
        return NULL;
    }
    s->is_root = true;
    return s;
}

cg_span *cg_span_begin_client(cg_span *parent, const char *name)
{
    return parent ? span_new(parent->t, CG_SPAN_CLIENT, name, parent->rec.span_id) : NULL;
}

void cg_span_traceparent(const cg_span *s, char out[56])
{
    char tid[33], sid[17];
    hex(tid, s->t->trace_id, 16);
    hex(sid, s->rec.span_id, 8);
    snprintf(out, 56, "00-%s-%s-%s", tid, sid, s->t->sampled ? "01" : "00");
}

static void ring_push(local_trace *t)
{
    pthread_mutex_lock(&T.ring_mu);
    local_trace *old = T.ring[T.ring_head];
    T.ring[T.ring_head] = t;
    T.ring_head = (T.ring_head + 1) % T.ring_cap;
    if (T.ring_size < T.ring_cap) T.ring_size++;
    pthread_mutex_unlock(&T.ring_mu);
    trace_free(old);
}

static void export_push(const local_trace *t, const span_rec *r)
{
    pthread_mutex_lock(&T.q_mu);
    if (T.q_len == T.q_cap) {
        pthread_mutex_unlock(&T.q_mu);
        atomic_fetch_add(&T.dropped, 1);
        return;
    }
    export_rec *e = &T.q[(T.q_head + T.q_len) % T.q_cap];
    memcpy(e->trace_id, t->trace_id, 16);
    e->rec = *r;
    T.q_len++;
    if (T.q_len >= EXPORT_BATCH) pthread_cond_signal(&T.q_cond);
    pthread_mutex_unlock(&T.q_mu);
}

void cg_span_end(cg_span *s, int status, bool error)
{
    if (!s) return;
    local_trace *t = s->t;
    s->rec.end_ns = cg_clock_wall_ns();
    s->rec.status = status;
    s->rec.error = error || status >= 500 || status == 0;
    if (t->n_spans == t->cap_spans && t->cap_spans < MAX_SPANS_PER_TRACE) {
        size_t cap = 2 * t->cap_spans < MAX_SPANS_PER_TRACE ? 2 * t->cap_spans
                                                            : MAX_SPANS_PER_TRACE;
        span_rec *more = malloc(cap * sizeof *more);
        if (more) {
            memcpy(more, t->spans, t->n_spans * sizeof *more);
            if (t->spans != t->few) free(t->spans);
            t->spans = more;
            t->cap_spans = cap;
        }
    }
    if (t->n_spans < t->cap_spans) t->spans[t->n_spans++] = s->rec;
    t->n_total++;
    if (s->is_root) {
        t->root = s->rec;
        t->root_done = true;
    }
    if (t->sampled && T.q) export_push(t, &s->rec);
    if (current_parent == s) current_parent = NULL;
    free(s);
    if (--t->open > 0) return;
    if (t->sampled && t->root_done && T.ring) ring_push(t);
    else trace_free(t);
}

/* ---- the local buffer ----------------------------------------------------------- */

static const char *status_text(const span_rec *r)
{
    return r->error ? "ERROR" : "OK";
}

static const char *kind_text(cg_span_kind k)
{
    return k == CG_SPAN_SERVER ? "SERVER" : k == CG_SPAN_CLIENT ? "CLIENT" : "INTERNAL";
}

static long duration_ms(const span_rec *r)
{
    return r->end_ns > r->start_ns ? (long)((r->end_ns - r->start_ns) / 1000000) : 0;
}

static void append_timestamp(cg_buf *out, uint64_t ns)
{
    time_t sec = (time_t)(ns / 1000000000ull);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char b[40];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    cg_buf_printf(out, "\"%s.%03uZ\"", b, (unsigned)(ns / 1000000ull % 1000));
}

static void append_summary_head(cg_buf *out, const local_trace *t)
{
    char tid[33];
    hex(tid, t->trace_id, 16);
    cg_buf_printf(out, "{\"traceId\":\"%s\",\"operation\":\"", tid);
    cg_buf_append_json_escaped(out, t->root.name, strlen(t->root.name));
    cg_buf_printf(out,
                  "\",\"durationMs\":%ld,\"status\":\"%s\",\"timestamp\":", duration_ms(&t->root),
                  status_text(&t->root));
    append_timestamp(out, t->root.start_ns);
}

int cg_trace_render_list(cg_buf *out, const char *operation, const char *status)
{
    cg_buf_append_str(out, "{\"traces\":[");
    pthread_mutex_lock(&T.ring_mu);
    bool first = true;
    for (int i = 0; i < T.ring_size; i++) {
        const local_trace *t = T.ring[(T.ring_head - 1 - i + 2 * T.ring_cap) % T.ring_cap];
        if (operation && !strstr(t->root.name, operation)) continue;
        if (status && strcasecmp(status, status_text(&t->root))) continue;
        if (!first) cg_buf_append_str(out, ",");
        first = false;
        append_summary_head(out, t);
        cg_buf_printf(out, ",\"spanCount\":%zu}", t->n_total);
    }
    cg_buf_printf(out, "],\"bufferSize\":%d,\"bufferUsed\":%d}", T.ring_cap, T.ring_size);
    pthread_mutex_unlock(&T.ring_mu);
    return out->data ? 0 : -1;
}

int cg_trace_render_one(cg_buf *out, const char *trace_id)
{
    int found = 0;
    char tid[33], sid[17];
    pthread_mutex_lock(&T.ring_mu);
    for (int i = 0; i < T.ring_size && !found; i++) {
        const local_trace *t = T.ring[(T.ring_head - 1 - i + 2 * T.ring_cap) % T.ring_cap];
        hex(tid, t->trace_id, 16);
        if (strcmp(tid, trace_id)) continue;
        found = 1;
        append_summary_head(out, t);
        cg_buf_append_str(out, ",\"spans\":[");
        for (size_t k = 0; k < t->n_spans; k++) {
            const span_rec *r = &t->spans[k];
            hex(sid, r->span_id, 8);
            cg_buf_printf(out, "%s{\"spanId\":\"%s\"", k ? "," : "", sid);
            if (r->has_parent) {
                hex(sid, r->parent_id, 8);
                cg_buf_printf(out, ",\"parentSpanId\":\"%s\"", sid);
            }
            cg_buf_append_str(out, ",\"name\":\"");
            cg_buf_append_json_escaped(out, r->name, strlen(r->name));
            cg_buf_printf(out, "\",\"kind\":\"%s\",\"durationMs\":%ld,\"status\":\"%s\"}",
                          kind_text(r->kind), duration_ms(r), status_text(r));
        }
        cg_buf_append_str(out, "]}");
    }
    pthread_mutex_unlock(&T.ring_mu);
    return !found ? 0 : out->data ? 1 : -1;
}

void cg_trace_counters_get(cg_trace_counters *out)
{
    out->spans_exported = atomic_load(&T.exported);
    out->spans_dropped = atomic_load(&T.dropped);
    out->export_failures = atomic_load(&T.failures);
}

/* ---- the OTLP exporter ---------------------------------------------------------- */

static void otlp_body(cg_buf *b, const export_rec *recs, int n)
{
    cg_buf_append_str(b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":"
                         "\"service.name\",\"value\":{\"stringValue\":\"");
    const char *svc = T.cfg.service_name ? T.cfg.service_name : "capgate";
    cg_buf_append_json_escaped(b, svc, strlen(svc));
    cg_buf_append_str(b, "\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"capgate\"},\"spans\":[");
    char tid[33], sid[17];
    for (int i = 0; i < n; i++) {
        const span_rec *r = &recs[i].rec;
        hex(tid, recs[i].trace_id, 16);
        hex(sid, r->span_id, 8);
        cg_buf_printf(b, "%s{\"traceId\":\"%s\",\"spanId\":\"%s\"", i ? "," : "", tid, sid);
        if (r->has_parent) {
            hex(sid, r->parent_id, 8);
            cg_buf_printf(b, ",\"parentSpanId\":\"%s\"", sid);
        }
        cg_buf_append_str(b, ",\"name\":\"");
        cg_buf_append_json_escaped(b, r->name, strlen(r->name));
        cg_buf_printf(b,
                      "\",\"kind\":%d,\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":"
                      "\"%llu\",\"attributes\":[{\"key\":\"http.response.status_code\","
                      "\"value\":{\"intValue\":\"%d\"}}],\"status\":{\"code\":%d}}",
                      (int)r->kind, (unsigned long long)r->start_ns, (unsigned long long)r->end_ns,
                      r->status, r->error ? 2 : 1);
    }
    cg_buf_append_str(b, "]}]}]}");
}

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
    (void)p;
    (void)u;
    return sz * n;
}

static void post_batch(CURL *h, const export_rec *recs, int n, long timeout_ms)
{
    cg_buf body = CG_BUF_INIT;
    otlp_body(&body, recs, n);
    long code = 0;
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    if (body.data) {
        struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, T.url);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body.len);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 2000 ? timeout_ms : 2000);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        rc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        curl_slist_free_all(hd);
    }
    cg_buf_free(&body);
    if (rc == CURLE_OK && code >= 200 && code < 300) {
        atomic_fetch_add(&T.exported, (uint64_t)n);
    } else {
        /* the batch is lost: OTLP export is best effort, the loop never waits for it */
        atomic_fetch_add(&T.failures, 1);
        atomic_fetch_add(&T.dropped, (uint64_t)n);
    }
}

static void *exporter_main(void *arg)
{
    (void)arg;
    CURL *h = curl_easy_init();
    export_rec *batch = malloc(EXPORT_BATCH * sizeof *batch);
    pthread_mutex_lock(&T.q_mu);
    for (;;) {
        if (!T.q_stop && T.q_len < EXPORT_BATCH) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            long ms = T.cfg.export_interval_ms;
            until.tv_sec += ms / 1000;
            until.tv_nsec += (ms % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&T.q_cond, &T.q_mu, &until);
        }
        int n = 0;
        while (n < EXPORT_BATCH && T.q_len > 0) {
            batch[n++] = T.q[T.q_head];
            T.q_head = (T.q_head + 1) % T.q_cap;
            T.q_len--;
        }
        bool stop = T.q_stop;
        pthread_mutex_unlock(&T.q_mu);
        if (n && h && batch) post_batch(h, batch, n, stop ? T.flush_timeout_ms : 5000);
        else if (n) atomic_fetch_add(&T.dropped, (uint64_t)n);
        pthread_mutex_lock(&T.q_mu);
        if (stop && T.q_len == 0) break;
    }
    pthread_mutex_unlock(&T.q_mu);
    free(batch);
    if (h) curl_easy_cleanup(h);
    return NULL;
}

/* ---- setup ---------------------------------------------------------------------- */

int cg_trace_init(const cg_trace_config *cfg)
{
    T.cfg = *cfg;
    if (T.cfg.queue_max <= 0) T.cfg.queue_max = 2048;
    if (T.cfg.export_interval_ms <= 0) T.cfg.export_interval_ms = 1000;
    T.ring_head = T.ring_size = 0;
    if (T.cfg.buffer_size > 0) {
        T.ring_cap = T.cfg.buffer_size;
        if (!(T.ring = calloc((size_t)T.ring_cap, sizeof *T.ring))) return -1;
    }
    if (T.cfg.otlp_endpoint && *T.cfg.otlp_endpoint) {
        const char *ep = T.cfg.otlp_endpoint;
        size_t n = strlen(ep);
        while (n && ep[n - 1] == '/') n--;
        bool has_path = n >= 10 && !strncmp(ep + n - 10, "/v1/traces", 10);
        if (asprintf(&T.url, "%.*s%s", (int)n, ep, has_path ? "" : "/v1/traces") < 0) return -1;
        T.q_cap = T.cfg.queue_max;
        T.q_head = T.q_len = 0;
        T.q_stop = false;
        if (!(T.q = calloc((size_t)T.q_cap, sizeof *T.q))) return -1;
        if (pthread_create(&T.exporter, NULL, exporter_main, NULL) != 0) return -1;
        T.exporter_running = true;
    }
    atomic_store(&T.on, true);
    return 0;
}

void cg_trace_shutdown(long timeout_ms)
{
    atomic_store(&T.on, false);
    if (T.exporter_running) {
        pthread_mutex_lock(&T.q_mu);
        T.q_stop = true;
        T.flush_timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
        pthread_cond_signal(&T.q_cond);
        pthread_mutex_unlock(&T.q_mu);
        pthread_join(T.exporter, NULL);
        T.exporter_running = false;
    }
    pthread_mutex_lock(&T.ring_mu);
    for (int i = 0; i < T.ring_cap; i++) trace_free(T.ring[i]);
    free(T.ring);
    T.ring = NULL;
    T.ring_cap = T.ring_size = T.ring_head = 0;
    pthread_mutex_unlock(&T.ring_mu);
    pthread_mutex_lock(&T.q_mu);
    free(T.q);
    T.q = NULL;
    T.q_cap = T.q_len = 0;
    pthread_mutex_unlock(&T.q_mu);
    free(T.url);
    T.url = NULL;
}
