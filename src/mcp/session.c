/*
 * session.c — the MCP session store. See session.h.
 *
 * A fixed array of hash buckets with chains, keyed by the id's first 16 hex digits (the
 * ids are random, so that is already a uniform hash). Expired sessions are dropped when a
 * lookup meets them and swept in one pass when the store is full; if it is still full
 * after that, the least recently used session makes room. Every operation is O(1) except
 * that sweep, which runs only at capacity.
 */
#include "mcp/session.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define N_BUCKETS 4096u

struct cg_mcp_sessions {
    pthread_mutex_t lock;
    cg_mcp_session *buckets[N_BUCKETS];
    size_t count, max;
    uint64_t idle_ms;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* --- ids: the only two functions that know what an id is ------------------------------- */

static int session_id_new(char out[CG_MCP_SESSION_ID_LEN + 1])
{
    unsigned char raw[CG_MCP_SESSION_ID_LEN / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[CG_MCP_SESSION_ID_LEN] = 0;
    return 0;
}

static bool session_id_valid(const char *id)
{
    size_t i = 0;
    for (; id[i] && i <= CG_MCP_SESSION_ID_LEN; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return false;
    return i == CG_MCP_SESSION_ID_LEN;
}

static unsigned bucket_of(const char *id)
{
    unsigned h = 0;
    for (int i = 0; i < 8; i++) {
        char c = id[i];
        h = h * 16u + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return h % N_BUCKETS;
}

/* --- the store --------------------------------------------------------------------------- */

cg_mcp_sessions *cg_mcp_sessions_create(size_t max, unsigned idle_timeout_s)
{
    cg_mcp_sessions *store = calloc(1, sizeof *store);
    if (!store) return NULL;
    if (pthread_mutex_init(&store->lock, NULL) != 0) {
        free(store);
        return NULL;
    }
    store->max = max ? max : 10000;
    store->idle_ms = (uint64_t)(idle_timeout_s ? idle_timeout_s : 1800) * 1000u;
    return store;
}

void cg_mcp_sessions_free(cg_mcp_sessions *store)
{
    if (!store) return;
    for (unsigned b = 0; b < N_BUCKETS; b++)
        for (cg_mcp_session *s = store->buckets[b], *next; s; s = next) {
            next = s->_next;
            free(s);
        }
    pthread_mutex_destroy(&store->lock);
    free(store);
}

static void unlink_session(cg_mcp_sessions *store, cg_mcp_session *s)
{
    cg_mcp_session **pp = &store->buckets[bucket_of(s->id)];
    while (*pp && *pp != s) pp = &(*pp)->_next;
    if (*pp) {
        *pp = s->_next;
        store->count--;
        free(s);
    }
}

static bool expired(const cg_mcp_sessions *store, const cg_mcp_session *s, uint64_t now)
{
    /* a session with an open GET stream is in use even when it sends no requests */
    return s->get_streams == 0 && now > s->last_used_ms && now - s->last_used_ms > store->idle_ms;
}

/* Sweeps expired sessions; if the store is still full, drops the least recently used. */
static void make_room(cg_mcp_sessions *store, uint64_t now)
{
    cg_mcp_session *oldest = NULL;
    for (unsigned b = 0; b < N_BUCKETS; b++)
        for (cg_mcp_session *s = store->buckets[b], *next; s; s = next) {
            next = s->_next;
            if (expired(store, s, now)) unlink_session(store, s);
            else if (!oldest || s->last_used_ms < oldest->last_used_ms) oldest = s;
        }
    if (store->count >= store->max && oldest) unlink_session(store, oldest);
}

cg_mcp_session *cg_mcp_sessions_create_session(cg_mcp_sessions *store)
{
    cg_mcp_session *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (session_id_new(s->id) < 0) {
        free(s);
        return NULL;
    }
    s->state.log_level = CG_MCP_LOG_INFO;
    pthread_mutex_lock(&store->lock);
    uint64_t now = now_ms();
    if (store->count >= store->max) make_room(store, now);
    s->last_used_ms = now;
    unsigned b = bucket_of(s->id);
    s->_next = store->buckets[b];
    store->buckets[b] = s;
    store->count++;
    return s;
}

cg_mcp_session *cg_mcp_sessions_find(cg_mcp_sessions *store, const char *id)
{
    if (!id || !session_id_valid(id)) return NULL;
    pthread_mutex_lock(&store->lock);
    uint64_t now = now_ms();
    for (cg_mcp_session *s = store->buckets[bucket_of(id)]; s; s = s->_next) {
        if (strcmp(s->id, id)) continue;
        if (expired(store, s, now)) {
            unlink_session(store, s);
            break;
        }
        s->last_used_ms = now;
        return s;
    }
    pthread_mutex_unlock(&store->lock);
    return NULL;
}

void cg_mcp_sessions_remove_locked(cg_mcp_sessions *store, cg_mcp_session *s)
{
    unlink_session(store, s);
}

void cg_mcp_sessions_unlock(cg_mcp_sessions *store)
{
    pthread_mutex_unlock(&store->lock);
}

bool cg_mcp_sessions_end(cg_mcp_sessions *store, const char *id)
{
    cg_mcp_session *s = cg_mcp_sessions_find(store, id);
    if (!s) return false;
    unlink_session(store, s);
    pthread_mutex_unlock(&store->lock);
    return true;
}

size_t cg_mcp_sessions_count(cg_mcp_sessions *store)
{
    pthread_mutex_lock(&store->lock);
    size_t n = store->count;
    pthread_mutex_unlock(&store->lock);
    return n;
}
