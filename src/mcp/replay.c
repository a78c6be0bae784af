/*
 * replay.c — the resumable event buffer (replay.h): the generic front (stream ids, event
 * ids) and the in-memory backend.
 *
 * In memory, one mutex guards everything: streams sit in a hash table by id and on one
 * list ordered by their last event (most recent first), which is both the eviction order
 * when a process limit is reached and the expiry sweep's order (from the tail, a few at a
 * time, on every open and append). A stream's events are a singly linked queue, oldest
 * first, trimmed from the front when the stream's own limits are passed.
 */
#include "mcp/replay.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

struct cg_mcp_replay {
    const cg_mcp_replay_ops *ops;
    void *self;
};

/* --- the front ------------------------------------------------------------------------------ */

cg_mcp_replay *cg_mcp_replay_wrap(const cg_mcp_replay_ops *ops, void *self)
{
    cg_mcp_replay *rp = calloc(1, sizeof *rp);
    if (!rp) {
        ops->free(self);
        return NULL;
    }
    rp->ops = ops;
    rp->self = self;
    return rp;
}

void cg_mcp_replay_free(cg_mcp_replay *rp)
{
    if (!rp) return;
    rp->ops->free(rp->self);
    free(rp);
}

static void format_id(char out[CG_MCP_REPLAY_ID_MAX], const char *stream, unsigned long long seq)
{
    snprintf(out, CG_MCP_REPLAY_ID_MAX, "%s-%llu", stream, seq);
}

int cg_mcp_replay_open(cg_mcp_replay *rp, const char *sid, cg_mcp_replay_stream *st,
                       char primer[CG_MCP_REPLAY_ID_MAX])
{
    unsigned char raw[CG_MCP_REPLAY_STREAM_LEN / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof raw; i++) snprintf(st->id + 2 * i, 3, "%02x", raw[i]);
    st->seq = 0;
    if (rp->ops->open(rp->self, sid, st->id) < 0) return -1;
    format_id(primer, st->id, 0);
    return 0;
}

int cg_mcp_replay_append(cg_mcp_replay *rp, cg_mcp_replay_stream *st, const char *data, size_t len,
                         bool last, char id[CG_MCP_REPLAY_ID_MAX])
{
    st->seq++;
    format_id(id, st->id, st->seq);
    return rp->ops->append(rp->self, st->id, st->seq, data, len, last);
}

bool cg_mcp_replay_parse_id(const char *id, char stream[CG_MCP_REPLAY_STREAM_LEN + 1],
                            unsigned long long *seq)
{
    if (!id) return false;
    for (int i = 0; i < CG_MCP_REPLAY_STREAM_LEN; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return false;
    if (id[CG_MCP_REPLAY_STREAM_LEN] != '-') return false;
    const char *p = id + CG_MCP_REPLAY_STREAM_LEN + 1;
    if (*p < '0' || *p > '9' || strlen(p) > 19) return false;
    unsigned long long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (unsigned long long)(*p - '0');
    }
    memcpy(stream, id, CG_MCP_REPLAY_STREAM_LEN);
    stream[CG_MCP_REPLAY_STREAM_LEN] = 0;
    *seq = v;
    return true;
}

/* Remembers where a replay got to, for the caller's next poll. */
struct track {
    cg_mcp_replay_fn fn;
    void *ctx;
    unsigned long long last;
};

static void track_event(void *ctx, const char *id, const char *data, size_t len)
{
    struct track *t = ctx;
    char stream[CG_MCP_REPLAY_STREAM_LEN + 1];
    unsigned long long seq;
    if (cg_mcp_replay_parse_id(id, stream, &seq) && seq > t->last) t->last = seq;
    t->fn(t->ctx, id, data, len);
}

cg_mcp_replay_status cg_mcp_replay_after(cg_mcp_replay *rp, const char *sid, const char *last_id,
                                         cg_mcp_replay_fn fn, void *ctx, cg_mcp_replay_stream *st)
{
    char stream[CG_MCP_REPLAY_STREAM_LEN + 1];
    unsigned long long seq;
    if (!cg_mcp_replay_parse_id(last_id, stream, &seq)) return CG_MCP_REPLAY_UNKNOWN;
    struct track t = {fn, ctx, seq};
    cg_mcp_replay_status s = rp->ops->after(rp->self, sid, stream, seq, track_event, &t);
    if (st) {
        memcpy(st->id, stream, sizeof st->id);
        st->seq = t.last;
    }
    return s;
}

void cg_mcp_replay_forget_session(cg_mcp_replay *rp, const char *sid)
{
    rp->ops->forget_session(rp->self, sid);
}

/* --- the in-memory backend ------------------------------------------------------------------------ */

#define BUCKETS 1024

typedef struct event {
    unsigned long long seq;
    size_t len;
    struct event *next;
    char data[];
} event;

typedef struct stream {
    char id[CG_MCP_REPLAY_STREAM_LEN + 1];
    char sid[72];
    event *head, *tail; /* oldest first */
    size_t n_events, bytes;
    unsigned long long first_seq; /* the oldest seq still answerable: events after
                                     * first_seq - 1 are all kept */
    bool ended;
    uint64_t last_ms;
    struct stream *hnext;       /* hash chain */
    struct stream *prev, *next; /* recency list, most recent first */
} stream;

typedef struct memory {
    pthread_mutex_t lock;
    cg_mcp_replay_limits lim;
    stream *buckets[BUCKETS];
    stream *newest, *oldest;
    size_t n_streams, bytes;
} memory;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned bucket_of(const char *id)
{
    unsigned h = 2166136261u;
    for (; *id; id++) h = (h ^ (unsigned char)*id) * 16777619u;
    return h % BUCKETS;
}

static stream *find(memory *m, const char *id)
{
    for (stream *s = m->buckets[bucket_of(id)]; s; s = s->hnext)
        if (!strcmp(s->id, id)) return s;
    return NULL;
}

static void list_unlink(memory *m, stream *s)
{
    if (s->prev) s->prev->next = s->next;
    else m->newest = s->next;
    if (s->next) s->next->prev = s->prev;
    else m->oldest = s->prev;
    s->prev = s->next = NULL;
}

static void list_push(memory *m, stream *s)
{
    s->next = m->newest;
    s->prev = NULL;
    if (m->newest) m->newest->prev = s;
    m->newest = s;
    if (!m->oldest) m->oldest = s;
}

static void drop_event(memory *m, stream *s)
{
    event *e = s->head;
    s->head = e->next;
    if (!s->head) s->tail = NULL;
    s->n_events--;
    s->bytes -= e->len;
    m->bytes -= e->len;
    s->first_seq = e->seq + 1;
    free(e);
}

static void drop_stream(memory *m, stream *s)
{
    while (s->head) drop_event(m, s);
    for (stream **pp = &m->buckets[bucket_of(s->id)]; *pp; pp = &(*pp)->hnext)
        if (*pp == s) {
            *pp = s->hnext;
            break;
        }
    list_unlink(m, s);
    m->n_streams--;
    free(s);
}

/* Drops expired streams from the old end, and the oldest while over the process limits. */
static void sweep(memory *m, uint64_t now)
{
    uint64_t window = (uint64_t)m->lim.window_s * 1000u;
    while (m->oldest && (m->oldest->last_ms + window < now || m->bytes > m->lim.total_bytes ||
                         m->n_streams > m->lim.max_streams))
        drop_stream(m, m->oldest);
}

static int mem_open(void *self, const char *sid, const char *id)
{
    memory *m = self;
    stream *s = calloc(1, sizeof *s);
    if (!s) return -1;
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(s->sid, sizeof s->sid, "%s", sid);
    s->first_seq = 1;
    pthread_mutex_lock(&m->lock);
    s->last_ms = now_ms();
    unsigned b = bucket_of(s->id);
    s->hnext = m->buckets[b];
    m->buckets[b] = s;
    list_push(m, s);
    m->n_streams++;
    sweep(m, s->last_ms);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static int mem_append(void *self, const char *id, unsigned long long seq, const char *data,
                      size_t len, bool last)
{
    memory *m = self;
    if (len > m->lim.stream_bytes) return -1; /* could never be kept */
    event *e = malloc(sizeof *e + len);
    if (!e) return -1;
    e->seq = seq;
    e->len = len;
    e->next = NULL;
    memcpy(e->data, data, len);
    pthread_mutex_lock(&m->lock);
    stream *s = find(m, id);
    if (!s) {
        pthread_mutex_unlock(&m->lock);
        free(e);
        return -1;
    }
    if (s->tail) s->tail->next = e;
    else s->head = e;
    s->tail = e;
    s->n_events++;
    s->bytes += len;
    m->bytes += len;
    s->ended = s->ended || last;
    while (s->head && s->head != e &&
           (s->n_events > m->lim.stream_events || s->bytes > m->lim.stream_bytes))
        drop_event(m, s);
    s->last_ms = now_ms();
    list_unlink(m, s);
    list_push(m, s);
    sweep(m, s->last_ms);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static cg_mcp_replay_status mem_after(void *self, const char *sid, const char *id,
                                      unsigned long long seq, cg_mcp_replay_fn fn, void *ctx)
{
    memory *m = self;
    pthread_mutex_lock(&m->lock);
    sweep(m, now_ms());
    stream *s = find(m, id);
    /* events seq+1 onwards must all still be here */
    if (!s || strcmp(s->sid, sid) || seq + 1 < s->first_seq) {
        pthread_mutex_unlock(&m->lock);
        return CG_MCP_REPLAY_UNKNOWN;
    }
    char eid[CG_MCP_REPLAY_ID_MAX];
    for (event *e = s->head; e; e = e->next)
        if (e->seq > seq) {
            format_id(eid, s->id, e->seq);
            fn(ctx, eid, e->data, e->len);
        }
    cg_mcp_replay_status st = s->ended ? CG_MCP_REPLAY_ENDED : CG_MCP_REPLAY_OPEN;
    pthread_mutex_unlock(&m->lock);
    return st;
}

static void mem_forget_session(void *self, const char *sid)
{
    memory *m = self;
    pthread_mutex_lock(&m->lock);
    for (stream *s = m->newest, *next; s; s = next) {
        next = s->next;
        if (!strcmp(s->sid, sid)) drop_stream(m, s);
    }
    pthread_mutex_unlock(&m->lock);
}

static void mem_free(void *self)
{
    memory *m = self;
    if (!m) return;
    while (m->oldest) drop_stream(m, m->oldest);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const cg_mcp_replay_ops memory_ops = {mem_open, mem_append, mem_after, mem_forget_session,
                                             mem_free};

const cg_mcp_replay_ops *cg_mcp_replay_memory_ops(void)
{
    return &memory_ops;
}

void *cg_mcp_replay_memory_new(const cg_mcp_replay_limits *lim)
{
    memory *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    if (lim) m->lim = *lim;
    if (!m->lim.stream_events) m->lim.stream_events = 64;
    if (!m->lim.stream_bytes) m->lim.stream_bytes = 4u << 20;
    if (!m->lim.total_bytes) m->lim.total_bytes = 64u << 20;
    if (!m->lim.max_streams) m->lim.max_streams = 10000;
    if (!m->lim.window_s) m->lim.window_s = 300;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

cg_mcp_replay *cg_mcp_replay_create(const cg_mcp_replay_limits *lim)
{
    memory *m = cg_mcp_replay_memory_new(lim);
    return m ? cg_mcp_replay_wrap(&memory_ops, m) : NULL;
}
