/*
 * session.c — the MCP session store. See session.h.
 *
 * A fixed array of hash buckets with chains, keyed by the id's first 16 hex digits (the
 * ids are random, so that is already a uniform hash). Expired sessions are dropped when a
 * lookup meets them and swept in one pass when the store is full; if it is still full
 * after that, the least recently used session makes room. Every operation is O(1) except
 * that sweep, which runs only at capacity.
 *
 * Adoption (a shared secret is configured): a signed id this store does not hold becomes a
 * session here, initialized, at the protocol version the request names (MCP-Protocol-
 * Version; without it 2025-03-26, as the transport spec says a server should assume). The
 * id's signed issue time bounds how long that is possible (CAPGATE_SESSION_MAX_AGE). A
 * store never adopts the ids it issued itself (each id carries its issuer's random tag): a
 * session of its own that is gone has ended. A DELETEd session of another instance's leaves
 * a tombstone so that this instance keeps refusing its id.
 */
#include "mcp/session.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/options.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define N_BUCKETS 4096u
#define TAG_LEN 3 /* the issuing store's tag inside each id (see below) */

struct cg_mcp_sessions {
    pthread_mutex_t lock;
    cg_mcp_session *buckets[N_BUCKETS];
    size_t count, max;
    uint64_t idle_ms;
    unsigned char secret[64]; /* the ids' HMAC key */
    size_t secret_len;
    bool adopt;                 /* the secret was configured: other instances share it */
    unsigned char tag[TAG_LEN]; /* this store's (process's) mark in the ids it issues */
    uint64_t max_age_s;         /* how long after issue an id may be adopted */
};

#define DEFAULT_MAX_AGE_S 86400u
#define CLOCK_SKEW_S 300u

/* --- ids: the only functions that know what an id is ------------------------------------ */

/* 16 signed bytes: 9 random, the issuing store's 3-byte tag, the issue time (seconds since
 * the epoch, big-endian); then the first 16 bytes of their HMAC-SHA256. */
#define RANDOM_PART 16
#define NONCE_PART 12
#define TAG_AT 9
#define MAC_PART 16

static int fill_random(unsigned char *out, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(out + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
}

static void id_mac(const cg_mcp_sessions *store, const unsigned char *random_part,
                   unsigned char mac[MAC_PART])
{
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), store->secret, (int)store->secret_len, random_part, RANDOM_PART, full, &len);
    memcpy(mac, full, MAC_PART);
}

static int session_id_new(const cg_mcp_sessions *store, char out[CG_MCP_SESSION_ID_LEN + 1])
{
    unsigned char raw[RANDOM_PART + MAC_PART];
    if (fill_random(raw, TAG_AT) < 0) return -1;
    memcpy(raw + TAG_AT, store->tag, TAG_LEN);
    uint32_t now = (uint32_t)time(NULL);
    for (int i = 0; i < 4; i++) raw[NONCE_PART + i] = (unsigned char)(now >> (24 - 8 * i));
    id_mac(store, raw, raw + RANDOM_PART);
    to_hex(raw, sizeof raw, out);
    out[CG_MCP_SESSION_ID_LEN] = 0;
    return 0;
}

static int unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool session_id_valid(const cg_mcp_sessions *store, const char *id)
{
    unsigned char raw[RANDOM_PART + MAC_PART], mac[MAC_PART];
    size_t i = 0;
    for (; id[i] && i < CG_MCP_SESSION_ID_LEN; i += 2) {
        int hi = unhex(id[i]), lo = id[i + 1] ? unhex(id[i + 1]) : -1;
        if (hi < 0 || lo < 0) return false;
        raw[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    if (i != CG_MCP_SESSION_ID_LEN || id[i]) return false;
    id_mac(store, raw, mac);
    return CRYPTO_memcmp(mac, raw + RANDOM_PART, MAC_PART) == 0;
}

bool cg_mcp_sessions_id_signed(const cg_mcp_sessions *store, const char *id)
{
    return id && session_id_valid(store, id);
}

/* The issue time written into a well-formed id. */
static uint32_t id_issued_at(const char *id)
{
    uint32_t t = 0;
    for (int i = 0; i < 8; i++) t = t << 4 | (uint32_t)unhex(id[2 * NONCE_PART + i]);
    return t;
}

/* true when this store issued id (so a session it no longer holds has ended here) */
static bool id_issued_here(const cg_mcp_sessions *store, const char *id)
{
    for (int i = 0; i < TAG_LEN; i++)
        if (unhex(id[2 * (TAG_AT + i)]) << 4 != (store->tag[i] & 0xf0) ||
            unhex(id[2 * (TAG_AT + i) + 1]) != (store->tag[i] & 0x0f))
            return false;
    return true;
}

static bool id_young_enough(const cg_mcp_sessions *store, const char *id)
{
    uint64_t issued = id_issued_at(id), now = (uint64_t)time(NULL);
    return issued <= now + CLOCK_SKEW_S && now - (issued < now ? issued : now) <= store->max_age_s;
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
    const char *env = getenv("CAPGATE_SESSION_SECRET");
    cg_mcp_sessions *store = cg_mcp_sessions_create_with_secret(
        max, idle_timeout_s, env && *env ? env : NULL, env && *env ? strlen(env) : 0);
    const char *age = getenv("CAPGATE_SESSION_MAX_AGE");
    long ms; /* seconds, or with a suffix (24h), read as every option is */
    if (store && age && *age) {
        if (cg_opt_parse_duration(age, 1000, 1000, 3650L * 86400000, &ms) == 0)
            store->max_age_s = (uint64_t)ms / 1000;
        else
            cg_log(CG_LOG_WARN, "mcp",
                   "CAPGATE_SESSION_MAX_AGE: expected a duration 1s..3650 "
                   "days (seconds, or with an s, m or h suffix), got '%s'; using %llu s",
                   age, (unsigned long long)store->max_age_s);
    }
    return store;
}

cg_mcp_sessions *cg_mcp_sessions_create_with_secret(size_t max, unsigned idle_timeout_s,
                                                    const void *secret, size_t secret_len)
{
    cg_mcp_sessions *store = calloc(1, sizeof *store);
    if (!store) return NULL;
    if (secret && secret_len) {
        /* a longer key is hashed first, as HMAC itself would */
        if (secret_len > sizeof store->secret) {
            unsigned int n = 0;
            EVP_Digest(secret, secret_len, store->secret, &n, EVP_sha256(), NULL);
            store->secret_len = n;
        } else {
            memcpy(store->secret, secret, secret_len);
            store->secret_len = secret_len;
        }
        store->adopt = true;
    } else {
        store->secret_len = 32;
        if (fill_random(store->secret, store->secret_len) < 0) {
            free(store);
            return NULL;
        }
    }
    if (fill_random(store->tag, TAG_LEN) < 0 || pthread_mutex_init(&store->lock, NULL) != 0) {
        free(store);
        return NULL;
    }
    store->max = max ? max : 10000;
    store->max_age_s = DEFAULT_MAX_AGE_S;
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
    /* a tombstone lasts as long as its id could be adopted */
    if (s->_ended) return !id_young_enough(store, s->id);
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

static bool id_well_formed(const char *id)
{
    return id && strlen(id) == CG_MCP_SESSION_ID_LEN && !id[strspn(id, "0123456789abcdef")];
}

/* With the lock held: the entry for id (a live session or a tombstone), or NULL. */
static cg_mcp_session *lookup_locked(cg_mcp_sessions *store, const char *id, uint64_t now)
{
    for (cg_mcp_session *s = store->buckets[bucket_of(id)]; s; s = s->_next) {
        if (strcmp(s->id, id)) continue;
        if (expired(store, s, now)) {
            unlink_session(store, s);
            return NULL;
        }
        return s;
    }
    return NULL;
}

/* With the lock held: a new entry for id. */
static cg_mcp_session *insert_locked(cg_mcp_sessions *store, cg_mcp_session *s, uint64_t now)
{
    if (store->count >= store->max) make_room(store, now);
    s->last_used_ms = now;
    unsigned b = bucket_of(s->id);
    s->_next = store->buckets[b];
    store->buckets[b] = s;
    store->count++;
    return s;
}

cg_mcp_session *cg_mcp_sessions_create_session(cg_mcp_sessions *store)
{
    cg_mcp_session *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (session_id_new(store, s->id) < 0) {
        free(s);
        return NULL;
    }
    s->state.log_level = CG_MCP_LOG_INFO;
    pthread_mutex_lock(&store->lock);
    return insert_locked(store, s, cg_clock_mono_ms());
}

/* Finds a live session (returned locked); when there is none and adopt is set, adopts the
 * id if it may be (returned locked); else NULL, unlocked. */
static cg_mcp_session *find(cg_mcp_sessions *store, const char *id, bool adopt, const char *version)
{
    /* The table is searched with the id as given (a random id cannot collide with a live
     * one); the MAC is checked only when that finds nothing and adoption is on. An HMAC
     * per request would cost more than the whole lookup. */
    if (!id_well_formed(id)) return NULL;
    pthread_mutex_lock(&store->lock);
    uint64_t now = cg_clock_mono_ms();
    cg_mcp_session *s = lookup_locked(store, id, now);
    if (s && !s->_ended) {
        s->last_used_ms = now;
        return s;
    }
    /* an id of ours that is not here ended here (DELETE, idle, evicted): it stays ended */
    if (s || !adopt || !store->adopt || id_issued_here(store, id) || !session_id_valid(store, id) ||
        !id_young_enough(store, id) || !(s = calloc(1, sizeof *s))) {
        pthread_mutex_unlock(&store->lock);
        return NULL;
    }
    memcpy(s->id, id, CG_MCP_SESSION_ID_LEN + 1);
    s->state.initialize_answered = true;
    s->state.initialized = true;
    s->state.log_level = CG_MCP_LOG_INFO;
    snprintf(s->state.version, sizeof s->state.version, "%s",
             version && cg_mcp_version_supported(version) ? version : CG_MCP_DEFAULT_VERSION);
    s->adopted = true;
    return insert_locked(store, s, now);
}

cg_mcp_session *cg_mcp_sessions_find(cg_mcp_sessions *store, const char *id)
{
    return find(store, id, false, NULL);
}

cg_mcp_session *cg_mcp_sessions_find_or_adopt(cg_mcp_sessions *store, const char *id,
                                              const char *version)
{
    return find(store, id, true, version);
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
    cg_mcp_session *s = cg_mcp_sessions_find_or_adopt(store, id, NULL);
    if (!s) return false;
    if (store->adopt) {
        s->_ended = true; /* a tombstone: the id stays refused here */
        s->get_streams = 0;
    } else {
        unlink_session(store, s);
    }
    pthread_mutex_unlock(&store->lock);
    return true;
}

void cg_mcp_sessions_mark_ended(cg_mcp_sessions *store, const char *id)
{
    if (!id_well_formed(id) || !session_id_valid(store, id)) return;
    pthread_mutex_lock(&store->lock);
    uint64_t now = cg_clock_mono_ms();
    cg_mcp_session *s = lookup_locked(store, id, now);
    if (s && !store->adopt) {
        unlink_session(store, s);
    } else if (s) {
        s->_ended = true;
        s->get_streams = 0;
    } else if (store->adopt && !id_issued_here(store, id) && id_young_enough(store, id) &&
               (s = calloc(1, sizeof *s))) {
        /* an id that was never here: the tombstone keeps it from being adopted */
        memcpy(s->id, id, CG_MCP_SESSION_ID_LEN + 1);
        s->_ended = true;
        s->adopted = true;
        insert_locked(store, s, now);
    }
    pthread_mutex_unlock(&store->lock);
}

uint64_t cg_mcp_sessions_adoptable_until(const cg_mcp_sessions *store, const char *id)
{
    return id_well_formed(id) ? (uint64_t)id_issued_at(id) + store->max_age_s : 0;
}

size_t cg_mcp_sessions_count(cg_mcp_sessions *store)
{
    pthread_mutex_lock(&store->lock);
    size_t n = store->count;
    pthread_mutex_unlock(&store->lock);
    return n;
}
