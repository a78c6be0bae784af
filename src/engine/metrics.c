/*
 * metrics.c — counters and a histogram for /metrics. See metrics.h.
 *
 * Request counters are keyed by (route, method, status). A row keeps its own copy of the
 * route (a spec's strings go when a reload retires it); methods are literals. The table
 * only grows, and it stays small (routes × statuses seen).
 */
#include "engine/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const double bucket_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                       0.5,   1,      2.5,   5,    10,    30,   60,  120};
#define N_BUCKETS (sizeof bucket_bounds / sizeof bucket_bounds[0])
#define N_RESULTS 8

typedef struct request_row {
    char *route; /* owned */
    const char *method;
    int status;
    unsigned long long count;
} request_row;

struct cg_metrics {
    pthread_mutex_t lock;
    request_row *rows;
    size_t n_rows, cap_rows;
    const char *results[N_RESULTS]; /* upstream result names seen */
    unsigned long long result_counts[N_RESULTS];
    atomic_ullong buckets[N_BUCKETS + 1]; /* last one is +Inf */
    atomic_ullong sum_us;
    atomic_long in_flight;
    cg_metrics_call_sink call_sink; /* set before the workers start */
    void *call_sink_ctx;
};

cg_metrics *cg_metrics_create(void)
{
    cg_metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

void cg_metrics_free(cg_metrics *m)
{
    if (!m) return;
    pthread_mutex_destroy(&m->lock);
    for (size_t i = 0; i < m->n_rows; i++) free(m->rows[i].route);
    free(m->rows);
    free(m);
}

void cg_metrics_count_request(cg_metrics *m, const char *route, const char *method, int status)
{
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n_rows; i++) {
        request_row *r = &m->rows[i];
        if (r->status == status && !strcmp(r->route, route) &&
            (r->method == method || !strcmp(r->method, method))) {
            r->count++;
            pthread_mutex_unlock(&m->lock);
            return;
        }
    }
    char *copy = strdup(route);
    if (!copy) {
        pthread_mutex_unlock(&m->lock);
        return;
    }
    if (m->n_rows == m->cap_rows) {
        size_t cap = m->cap_rows ? m->cap_rows * 2 : 32;
        request_row *rows = realloc(m->rows, cap * sizeof *rows);
        if (!rows) {
            pthread_mutex_unlock(&m->lock);
            free(copy);
            return;
        }
        m->rows = rows;
        m->cap_rows = cap;
    }
    m->rows[m->n_rows++] = (request_row){copy, method, status, 1};
    pthread_mutex_unlock(&m->lock);
}

void cg_metrics_observe_upstream(cg_metrics *m, double seconds, const char *result)
{
    size_t b = 0;
    while (b < N_BUCKETS && seconds > bucket_bounds[b]) b++;
    atomic_fetch_add(&m->buckets[b], 1);
    atomic_fetch_add(&m->sum_us, (unsigned long long)(seconds * 1e6));
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < N_RESULTS; i++) {
        if (!m->results[i]) m->results[i] = result;
        if (m->results[i] == result || !strcmp(m->results[i], result)) {
            m->result_counts[i]++;
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
}

void cg_metrics_in_flight(cg_metrics *m, int delta)
{
    atomic_fetch_add(&m->in_flight, delta);
}

long cg_metrics_in_flight_now(cg_metrics *m)
{
    return atomic_load(&m->in_flight);
}

/* Appends s as a label value (backslash, quote and newline escaped). */
static int label(cg_buf *out, const char *s)
{
    for (; *s; s++) {
        int rc = *s == '\\'   ? cg_buf_append(out, "\\\\", 2)
                 : *s == '"'  ? cg_buf_append(out, "\\\"", 2)
                 : *s == '\n' ? cg_buf_append(out, "\\n", 2)
                              : cg_buf_append(out, s, 1);
        if (rc < 0) return -1;
    }
    return 0;
}

int cg_metrics_render(cg_metrics *m, cg_buf *out)
{
    int rc = 0;
    rc |= cg_buf_append_str(out, "# HELP capgate_requests_total Requests served, by route, "
                                 "method and status.\n# TYPE capgate_requests_total counter\n");
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n_rows && rc == 0; i++) {
        rc |= cg_buf_append_str(out, "capgate_requests_total{route=\"");
        rc |= label(out, m->rows[i].route);
        rc |= cg_buf_append_str(out, "\",method=\"");
        rc |= label(out, m->rows[i].method);
        rc |= cg_buf_printf(out, "\",status=\"%d\"} %llu\n", m->rows[i].status, m->rows[i].count);
    }
    rc |= cg_buf_append_str(out, "# HELP capgate_upstream_calls_total Upstream calls, by "
                                 "outcome.\n# TYPE capgate_upstream_calls_total counter\n");
    for (size_t i = 0; i < N_RESULTS && m->results[i] && rc == 0; i++)
        rc |= cg_buf_printf(out, "capgate_upstream_calls_total{result=\"%s\"} %llu\n",
                            m->results[i], m->result_counts[i]);
    pthread_mutex_unlock(&m->lock);

    rc |= cg_buf_append_str(out, "# HELP capgate_upstream_duration_seconds Upstream call "
                                 "latency.\n# TYPE capgate_upstream_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (size_t b = 0; b <= N_BUCKETS && rc == 0; b++) {
        cum += atomic_load(&m->buckets[b]);
        if (b < N_BUCKETS)
            rc |= cg_buf_printf(out, "capgate_upstream_duration_seconds_bucket{le=\"%g\"} %llu\n",
                                bucket_bounds[b], cum);
        else
            rc |= cg_buf_printf(out, "capgate_upstream_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                                cum);
    }
    rc |= cg_buf_printf(out,
                        "capgate_upstream_duration_seconds_sum %.6f\n"
                        "capgate_upstream_duration_seconds_count %llu\n",
                        (double)atomic_load(&m->sum_us) / 1e6, cum);
    rc |= cg_buf_printf(out,
                        "# HELP capgate_requests_in_flight Requests being served.\n"
                        "# TYPE capgate_requests_in_flight gauge\n"
                        "capgate_requests_in_flight %ld\n",
                        atomic_load(&m->in_flight));
    return rc ? -1 : 0;
}

void cg_metrics_set_call_sink(cg_metrics *m, cg_metrics_call_sink sink, void *ctx)
{
    m->call_sink = sink;
    m->call_sink_ctx = ctx;
}

void cg_metrics_record_call(cg_metrics *m, const cg_call_event *ev)
{
    if (m && m->call_sink) m->call_sink(m->call_sink_ctx, ev);
}
