/*
 * redis_store.c — the Redis link for MCP instances. See redis_store.h.
 *
 * One thread, one cg_loop, two hiredis async connections: "cmd" writes (XADD to the log,
 * the ended-id set) and "reader" runs XREAD BLOCK on the log, applying what the other
 * instances wrote: ended sessions to the session store, replay streams and their events to
 * the local copy of the event buffer. Workers hand their writes to the thread through a
 * mutex-guarded queue and an eventfd on its loop; the thread answers a waiting worker
 * through an eventfd of the wait's own on the worker's loop. Nothing else crosses threads:
 * the session store and the local event buffer have their own locks.
 *
 * Why a thread of its own rather than a connection on each worker's loop: hiredis resolves
 * the host name with a blocking getaddrinfo when it connects, and a worker's loop may never
 * block; one link per process also means one reader per process, not per worker.
 *
 * Why a local copy of the event buffer: replay.h is synchronous (a GET with Last-Event-ID
 * replays at once, then polls for more), and a worker may not wait for Redis. Every
 * instance applies the log to its own in-memory buffer (same bounds: per stream, per
 * process, a window after the last event), so a reconnect anywhere finds the events there.
 * The log is one Redis stream, trimmed to about LOG_MAX entries and expiring LOG_TTL_S
 * after its last write; an instance reads it from its last entry after a reconnect (or
 * from its start on its first connect), so a short outage of the link loses nothing the
 * log still holds.
 *
 * hiredis callbacks may free the context they run for (a disconnect, a failed connect), so
 * a failure seen inside a callback only forgets the context and schedules the teardown on
 * a zero timer, which frees what is left from outside any callback.
 * Size: one thread, its two hiredis links and their callbacks, and the log format they share.
 */
#include "mcp/redis_store.h"

#include <errno.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define ENDED_KEY "capgate:mcp:ended" /* sorted set: id -> when it stops mattering */
#define LOG_KEY "capgate:mcp:log"     /* stream: what every instance applies */
#define MAX_ENDED 100000              /* ids kept in the set at most (newest win) */
#define LOG_MAX 1000                  /* log entries kept (about: MAXLEN ~) */
#define LOG_TTL_S 300                 /* the log goes this long after its last write */
#define READ_BLOCK_MS 2000            /* XREAD BLOCK */
#define READ_COUNT 200                /* entries per XREAD */
#define MAX_HELD 10000                /* ends kept while Redis is down */
#define MAX_QUEUED 10000              /* replay writes waiting for the link at most */
#define CONNECT_TIMEOUT_MS 2000
#define PING_EVERY_MS 5000 /* an unanswered ping this old means Redis hung */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct cg_redis_wait {
    atomic_int refs; /* the caller's and the link's */
    atomic_bool shared;
    int fd; /* eventfd on the caller's loop */
    cg_loop *loop;
    uint64_t timer;
    cg_redis_done_cb done;
    void *arg;
};

/* A write for the log, from a worker. */
typedef enum { OP_END, OP_OPEN, OP_EVENT, OP_FORGET } op_kind;

typedef struct log_op {
    op_kind kind;
    char sid[80]; /* the session (OP_END: the ended id) */
    char stream[CG_MCP_REPLAY_STREAM_LEN + 1];
    unsigned long long seq, until;
    bool last;
    cg_redis_wait *wait; /* OP_END */
    size_t len;
    struct log_op *next;
    char data[]; /* OP_EVENT */
} log_op;

struct cg_redis_store {
    cg_mcp_sessions *sessions;
    char host[256], user[128], password[256], display[300];
    int port, db;
    char origin[17]; /* this process, in the log entries it writes */

    pthread_t thread;
    cg_loop *loop;
    int queue_fd;
    pthread_mutex_t lock; /* guards queue, n_queued */
    log_op *queue, **queue_tail;
    size_t n_queued;
    pthread_rwlock_t replica_lock; /* guards the pointer (the buffer has its own lock) */
    void *replica;                 /* the local event buffer (in-memory backend), or NULL */

    /* the link's thread only */
    redisAsyncContext *cmd, *reader;
    bool cmd_ready, reader_ready, ping_outstanding, failing, stopping;
    char why[160];       /* the first reason of the current failure */
    char last_entry[48]; /* the last log entry applied ("0" before any) */
    uint64_t reader_ms;  /* when the reader last heard from Redis */
    unsigned backoff_ms;
    uint64_t connect_timer, ping_timer, retry_timer;
    bool was_up, reported_down;
    log_op *held, **held_tail; /* ends made while down */
    size_t n_held;

    atomic_bool up;
};

/* --- waits: one eventfd on the caller's loop ---------------------------------------------- */

static void wait_release(cg_redis_wait *w)
{
    if (atomic_fetch_sub(&w->refs, 1) == 1) {
        close(w->fd);
        free(w);
    }
}

static void wait_finish(cg_redis_wait *w, bool shared)
{
    cg_loop_io_remove(w->loop, w->fd);
    cg_loop_timer_cancel(w->loop, w->timer);
    cg_redis_done_cb done = w->done;
    void *arg = w->arg;
    wait_release(w);
    done(arg, shared);
}

static void on_wait_fd(cg_loop *loop, int fd, unsigned events, void *arg)
{
    cg_redis_wait *w = arg;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno == EAGAIN) return;
    wait_finish(w, atomic_load(&w->shared));
}

static void on_wait_timeout(cg_loop *loop, void *arg)
{
    cg_redis_wait *w = arg;
    w->timer = 0;
    wait_finish(w, false);
}

void cg_redis_wait_cancel(cg_redis_wait *w)
{
    if (!w) return;
    cg_loop_io_remove(w->loop, w->fd);
    cg_loop_timer_cancel(w->loop, w->timer);
    wait_release(w);
}

/* The link's side: the outcome is known. */
static void wait_signal(cg_redis_wait *w, bool shared)
{
    if (!w) return;
    atomic_store(&w->shared, shared);
    uint64_t one = 1;
    if (write(w->fd, &one, sizeof one) < 0) { /* a full counter still wakes the caller */
    }
    wait_release(w);
}

/* --- the hiredis adapter for cg_loop ------------------------------------------------------ */

typedef struct loop_ev {
    redisAsyncContext *ac;
    cg_loop *loop;
    int fd;
    unsigned events;
    bool busy; /* a handler runs: hiredis may free the context meanwhile */
    bool dead; /* it did: free this once the handler is over */
} loop_ev;

static void ev_io(cg_loop *loop, int fd, unsigned events, void *arg)
{
    loop_ev *e = arg;
    e->busy = true;
    if ((events & CG_LOOP_READ) && (e->events & CG_LOOP_READ)) redisAsyncHandleRead(e->ac);
    if (!e->dead && (events & CG_LOOP_WRITE) && (e->events & CG_LOOP_WRITE))
        redisAsyncHandleWrite(e->ac);
    e->busy = false;
    if (e->dead) free(e);
}

static void ev_update(loop_ev *e, unsigned events)
{
    e->events = events;
    if (events) cg_loop_io_set(e->loop, e->fd, events, ev_io, e);
    else cg_loop_io_remove(e->loop, e->fd);
}

static void ev_add_read(void *p)
{
    loop_ev *e = p;
    ev_update(e, e->events | CG_LOOP_READ);
}
static void ev_del_read(void *p)
{
    loop_ev *e = p;
    ev_update(e, e->events & ~CG_LOOP_READ);
}
static void ev_add_write(void *p)
{
    loop_ev *e = p;
    ev_update(e, e->events | CG_LOOP_WRITE);
}
static void ev_del_write(void *p)
{
    loop_ev *e = p;
    ev_update(e, e->events & ~CG_LOOP_WRITE);
}

static void ev_cleanup(void *p)
{
    loop_ev *e = p;
    cg_loop_io_remove(e->loop, e->fd);
    e->events = 0;
    if (e->busy) e->dead = true;
    else free(e);
}

static int ev_attach(redisAsyncContext *ac, cg_loop *loop)
{
    loop_ev *e = calloc(1, sizeof *e);
    if (!e) return -1;
    e->ac = ac;
    e->loop = loop;
    e->fd = ac->c.fd;
    ac->ev.data = e;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    return 0;
}

/* --- the URL ------------------------------------------------------------------------------ */

/* Copies n bytes of a URL's user or password into out (size cap), decoding %XX. -1 when
 * it does not fit or an escape is malformed. */
static int url_decode(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int hi = OPENSSL_hexchar2int((unsigned char)in[i + 1]),
                lo = OPENSSL_hexchar2int((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (o + 1 >= cap) return -1;
        out[o++] = c;
    }
    out[o] = 0;
    return 0;
}

static int parse_url(cg_redis_store *rs, const char *url, char *err, size_t errlen)
{
    if (!strncmp(url, "rediss://", 9)) {
        snprintf(err, errlen, "CAPGATE_REDIS_URL: rediss:// (TLS) is not supported; use redis://");
        return -1;
    }
    if (strncmp(url, "redis://", 8)) {
        snprintf(err, errlen,
                 "CAPGATE_REDIS_URL: expected redis://[[user]:password@]host[:port][/db]");
        return -1;
    }
    const char *p = url + 8, *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon) colon = p - 1; /* redis://password@host */
        size_t ul = colon >= p ? (size_t)(colon - p) : 0, pl = (size_t)(at - colon - 1);
        if (url_decode(p, ul, rs->user, sizeof rs->user) < 0 ||
            url_decode(colon + 1, pl, rs->password, sizeof rs->password) < 0) {
            snprintf(err, errlen,
                     "CAPGATE_REDIS_URL: user or password too long, or a bad %%XX escape in it");
            return -1;
        }
        p = at + 1;
    }
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof rs->host) {
        snprintf(err, errlen, "CAPGATE_REDIS_URL: no host");
        return -1;
    }
    memcpy(rs->host, p, hl);
    p += hl;
    rs->port = 6379;
    char *end;
    if (*p == ':') {
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535 || (*end && *end != '/')) {
            snprintf(err, errlen, "CAPGATE_REDIS_URL: bad port");
            return -1;
        }
        rs->port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1]) {
        long db = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end || db < 0 || db > 65535) {
            snprintf(err, errlen, "CAPGATE_REDIS_URL: bad database number");
            return -1;
        }
        rs->db = (int)db;
    } else if (*p && strcmp(p, "/")) {
        snprintf(err, errlen, "CAPGATE_REDIS_URL: unexpected text after the host");
        return -1;
    }
    snprintf(rs->display, sizeof rs->display, "redis://%s:%d/%d", rs->host, rs->port, rs->db);
    return 0;
}

/* --- the link ----------------------------------------------------------------------------- */

static void link_connect(cg_redis_store *rs);
static void flush_held(cg_redis_store *rs);
static void read_log(cg_redis_store *rs);

static unsigned long long unix_now(void)
{
    return (unsigned long long)time(NULL);
}

static void note_failure(cg_redis_store *rs, const char *why)
{
    if (!rs->why[0]) snprintf(rs->why, sizeof rs->why, "%s", why);
}

static void on_fail_timer(cg_loop *loop, void *arg);

/* Something went wrong: tear the link down (from outside any hiredis callback). */
static void link_fail(cg_redis_store *rs, const char *why)
{
    note_failure(rs, why);
    if (rs->failing) return;
    rs->failing = true;
    cg_loop_timer_add(rs->loop, 0, on_fail_timer, rs);
}

static void on_retry(cg_loop *loop, void *arg)
{
    cg_redis_store *rs = arg;
    rs->retry_timer = 0;
    link_connect(rs);
}

static void on_fail_timer(cg_loop *loop, void *arg)
{
    cg_redis_store *rs = arg;
    redisAsyncContext *cmd = rs->cmd, *reader = rs->reader;
    rs->cmd = rs->reader = NULL; /* callbacks for them are ignored from here on */
    rs->cmd_ready = rs->reader_ready = rs->ping_outstanding = false;
    atomic_store(&rs->up, false);
    cg_loop_timer_cancel(rs->loop, rs->connect_timer);
    cg_loop_timer_cancel(rs->loop, rs->ping_timer);
    rs->connect_timer = rs->ping_timer = 0;
    if (cmd) redisAsyncFree(cmd); /* pending callbacks run with no reply */
    if (reader) redisAsyncFree(reader);
    if (!rs->reported_down) {
        rs->reported_down = true;
        cg_log(CG_LOG_WARN, "redis",
               "%s %s (%s): MCP session ends and resumable streams are per instance until it "
               "is back; retrying",
               rs->was_up ? "lost" : "cannot reach", rs->display, rs->why);
    }
    rs->failing = false;
    rs->why[0] = 0;
    if (rs->stopping) return;
    rs->backoff_ms = rs->backoff_ms ? rs->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (rs->backoff_ms > BACKOFF_MAX_MS) rs->backoff_ms = BACKOFF_MAX_MS;
    rs->retry_timer = cg_loop_timer_add(rs->loop, (long)rs->backoff_ms, on_retry, rs);
}

static bool reply_ok(const redisReply *r)
{
    return r && r->type != REDIS_REPLY_ERROR;
}

static const char *reply_why(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && r->str ? r->str : "connection closed";
}

static void on_ping(redisAsyncContext *ac, void *reply, void *priv)
{
    cg_redis_store *rs = ac->data;
    if (ac != rs->cmd) return;
    if (!reply_ok(reply)) link_fail(rs, reply_why(reply));
    else rs->ping_outstanding = false;
}

static void on_ping_timer(cg_loop *loop, void *arg)
{
    cg_redis_store *rs = arg;
    rs->ping_timer = 0;
    if (!rs->cmd) return;
    if (rs->ping_outstanding || cg_loop_now(loop) - rs->reader_ms > READ_BLOCK_MS + PING_EVERY_MS) {
        link_fail(rs, "no answer within 5 s");
        return;
    }
    rs->ping_outstanding = true;
    redisAsyncCommand(rs->cmd, on_ping, NULL, "PING");
    rs->ping_timer = cg_loop_timer_add(rs->loop, PING_EVERY_MS, on_ping_timer, rs);
}

/* Both connections answer: read the ended ids recorded while this instance was away (or
 * before it started), then say the link is up (on_ended_set). */
static void on_ended_set(redisAsyncContext *ac, void *reply, void *priv);

static void became_ready(cg_redis_store *rs)
{
    if (!rs->cmd_ready || !rs->reader_ready) return;
    char now[32];
    snprintf(now, sizeof now, "%llu", unix_now());
    redisAsyncCommand(rs->cmd, NULL, NULL, "ZREMRANGEBYSCORE %s -inf %s", ENDED_KEY, now);
    redisAsyncCommand(rs->cmd, on_ended_set, NULL, "ZRANGEBYSCORE %s %s +inf", ENDED_KEY, now);
}

static void on_ended_set(redisAsyncContext *ac, void *reply, void *priv)
{
    cg_redis_store *rs = ac->data;
    redisReply *r = reply;
    if (ac != rs->cmd) return;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        link_fail(rs, reply_why(r));
        return;
    }
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            cg_mcp_sessions_mark_ended(rs->sessions, r->element[i]->str);
    cg_loop_timer_cancel(rs->loop, rs->connect_timer);
    rs->connect_timer = 0;
    rs->backoff_ms = 0;
    atomic_store(&rs->up, true);
    cg_log(CG_LOG_INFO, "redis",
           "%s %s: MCP session ends and resumable streams are shared with every instance using it",
           rs->reported_down ? "back on" : "connected to", rs->display);
    rs->was_up = true;
    rs->reported_down = false;
    rs->reader_ms = cg_loop_now(rs->loop);
    rs->ping_timer = cg_loop_timer_add(rs->loop, PING_EVERY_MS, on_ping_timer, rs);
    flush_held(rs);
    read_log(rs);
}

/* The PING that ends a connection's set-up, on the command or the reader connection (a
 * context of an earlier link is ignored): the link is ready once both have answered. */
static void on_ready(redisAsyncContext *ac, void *reply, void *priv)
{
    cg_redis_store *rs = ac->data;
    if (ac != rs->cmd && ac != rs->reader) return;
    if (!reply_ok(reply)) {
        link_fail(rs, reply_why(reply));
        return;
    }
    if (ac == rs->cmd) rs->cmd_ready = true;
    else rs->reader_ready = true;
    became_ready(rs);
}

/* AUTH and SELECT answers: an error (a wrong password) fails the link; Redis' message
 * never holds the password. */
static void on_setup(redisAsyncContext *ac, void *reply, void *priv)
{
    cg_redis_store *rs = ac->data;
    if ((ac == rs->cmd || ac == rs->reader) && !reply_ok(reply)) link_fail(rs, reply_why(reply));
}

/* --- applying the log --------------------------------------------------------------------- */

/* One entry's fields, by name (NULL when absent). */
typedef struct entry {
    const redisReply *o, *t, *a, *s, *q, *l, *d;
} entry;

static void entry_fields(const redisReply *fields, entry *e)
{
    memset(e, 0, sizeof *e);
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || k->len != 1) continue;
        switch (k->str[0]) {
        case 'o': e->o = v; break;
        case 't': e->t = v; break;
        case 'a': e->a = v; break;
        case 's': e->s = v; break;
        case 'q': e->q = v; break;
        case 'l': e->l = v; break;
        case 'd': e->d = v; break;
        default: break;
        }
    }
}

static void apply(cg_redis_store *rs, const entry *e)
{
    if (!e->o || !e->t || !e->a || !strcmp(e->o->str, rs->origin)) return; /* ours: applied */
    const char *t = e->t->str;
    if (!strcmp(t, "end")) {
        cg_mcp_sessions_mark_ended(rs->sessions, e->a->str);
        return;
    }
    bool stream = e->s && e->s->len == CG_MCP_REPLAY_STREAM_LEN;
    const cg_mcp_replay_ops *mem = cg_mcp_replay_memory_ops();
    pthread_rwlock_rdlock(&rs->replica_lock);
    if (!rs->replica) {
        /* the buffer is gone (shutting down) */
    } else if (!strcmp(t, "forget")) {
        mem->forget_session(rs->replica, e->a->str);
    } else if (!strcmp(t, "open") && stream) {
        mem->open(rs->replica, e->a->str, e->s->str);
    } else if (!strcmp(t, "ev") && stream && e->q && e->d) {
        mem->append(rs->replica, e->s->str, strtoull(e->q->str, NULL, 10), e->d->str, e->d->len,
                    e->l && e->l->str[0] == '1');
    }
    pthread_rwlock_unlock(&rs->replica_lock);
}

static void on_log(redisAsyncContext *ac, void *reply, void *priv)
{
    cg_redis_store *rs = ac->data;
    redisReply *r = reply;
    if (ac != rs->reader) return;
    if (!reply_ok(r)) {
        link_fail(rs, reply_why(r));
        return;
    }
    rs->reader_ms = cg_loop_now(rs->loop);
    /* nil: nothing new within the block time; else [[key, [[id, [field, value, ...]], ...]]] */
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
        r->element[0]->element[1]->type == REDIS_REPLY_ARRAY) {
        const redisReply *entries = r->element[0]->element[1];
        for (size_t i = 0; i < entries->elements; i++) {
            const redisReply *en = entries->element[i];
            if (en->type != REDIS_REPLY_ARRAY || en->elements != 2 ||
                en->element[0]->type != REDIS_REPLY_STRING)
                continue;
            snprintf(rs->last_entry, sizeof rs->last_entry, "%s", en->element[0]->str);
            if (en->element[1]->type != REDIS_REPLY_ARRAY) continue;
            entry e;
            entry_fields(en->element[1], &e);
            apply(rs, &e);
        }
    }
    read_log(rs);
}

static void read_log(cg_redis_store *rs)
{
    if (!rs->reader || rs->failing) return;
    redisAsyncCommand(rs->reader, on_log, NULL, "XREAD COUNT %d BLOCK %d STREAMS %s %s", READ_COUNT,
                      READ_BLOCK_MS, LOG_KEY, rs->last_entry);
}

/* --- connections -------------------------------------------------------------------------- */

static void on_connect(const redisAsyncContext *ac, int status)
{
    cg_redis_store *rs = ac->data;
    if (status == REDIS_OK || (ac != rs->cmd && ac != rs->reader)) return;
    /* hiredis frees the context after this returns */
    note_failure(rs, ac->errstr[0] ? ac->errstr : "connect failed");
    if (ac == rs->cmd) rs->cmd = NULL;
    else rs->reader = NULL;
    link_fail(rs, "connect failed");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    cg_redis_store *rs = ac->data;
    if (ac != rs->cmd && ac != rs->reader) return;
    if (ac == rs->cmd) rs->cmd = NULL;
    else rs->reader = NULL;
    link_fail(rs, status == REDIS_OK ? "closed" : ac->errstr[0] ? ac->errstr : "connection lost");
}

static void on_connect_timeout(cg_loop *loop, void *arg)
{
    cg_redis_store *rs = arg;
    rs->connect_timer = 0;
    link_fail(rs, "no answer within 2 s");
}

static redisAsyncContext *open_one(cg_redis_store *rs)
{
    redisAsyncContext *ac = redisAsyncConnect(rs->host, rs->port);
    if (!ac) return NULL;
    if (ac->err) {
        note_failure(rs, ac->errstr);
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = rs;
    if (ev_attach(ac, rs->loop) < 0) {
        redisAsyncFree(ac);
        return NULL;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* queued now, written once connected */
    if (rs->password[0] && rs->user[0])
        redisAsyncCommand(ac, on_setup, NULL, "AUTH %s %s", rs->user, rs->password);
    else if (rs->password[0]) redisAsyncCommand(ac, on_setup, NULL, "AUTH %s", rs->password);
    if (rs->db) redisAsyncCommand(ac, on_setup, NULL, "SELECT %d", rs->db);
    redisAsyncCommand(ac, on_ready, NULL, "PING");
    return ac;
}

static void link_connect(cg_redis_store *rs)
{
    if (rs->stopping) return;
    rs->cmd = open_one(rs);
    rs->reader = rs->cmd ? open_one(rs) : NULL;
    if (!rs->cmd || !rs->reader) {
        link_fail(rs, "cannot create a connection");
        return;
    }
    rs->connect_timer = cg_loop_timer_add(rs->loop, CONNECT_TIMEOUT_MS, on_connect_timeout, rs);
}

/* --- writes ------------------------------------------------------------------------------- */

static void on_written(redisAsyncContext *ac, void *reply, void *priv)
{
    wait_signal(priv, reply_ok(reply));
}

#define XADD_HEAD "XADD " LOG_KEY " MAXLEN ~ %d * o %s t %s"

static void send_op(cg_redis_store *rs, log_op *op)
{
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", LOG_TTL_S);
    switch (op->kind) {
    case OP_END: {
        char until[32], keep[32];
        snprintf(until, sizeof until, "%llu", op->until);
        snprintf(keep, sizeof keep, "%d", -(MAX_ENDED + 1));
        redisAsyncCommand(rs->cmd, NULL, NULL, "ZADD %s %s %s", ENDED_KEY, until, op->sid);
        redisAsyncCommand(rs->cmd, NULL, NULL, "ZREMRANGEBYRANK %s 0 %s", ENDED_KEY, keep);
        if (redisAsyncCommand(rs->cmd, on_written, op->wait, XADD_HEAD " a %s", LOG_MAX, rs->origin,
                              "end", op->sid) != REDIS_OK)
            wait_signal(op->wait, false);
        break;
    }
    case OP_OPEN:
        redisAsyncCommand(rs->cmd, NULL, NULL, XADD_HEAD " a %s s %s", LOG_MAX, rs->origin, "open",
                          op->sid, op->stream);
        break;
    case OP_EVENT: {
        char seq[24];
        snprintf(seq, sizeof seq, "%llu", op->seq);
        redisAsyncCommand(rs->cmd, NULL, NULL, XADD_HEAD " a %s s %s q %s l %s d %b", LOG_MAX,
                          rs->origin, "ev", op->sid, op->stream, seq, op->last ? "1" : "0",
                          op->data, op->len);
        break;
    }
    case OP_FORGET:
        redisAsyncCommand(rs->cmd, NULL, NULL, XADD_HEAD " a %s", LOG_MAX, rs->origin, "forget",
                          op->sid);
        break;
    }
    redisAsyncCommand(rs->cmd, NULL, NULL, "EXPIRE %s %s", LOG_KEY, ttl);
    free(op);
}

/* Keeps an end for later (Redis is down); the oldest goes when too many are kept. Replay
 * writes are dropped: a stream is per instance while Redis is away. */
static void hold(cg_redis_store *rs, log_op *op)
{
    wait_signal(op->wait, false);
    op->wait = NULL;
    if (op->kind != OP_END) {
        free(op);
        return;
    }
    op->next = NULL;
    *rs->held_tail = op;
    rs->held_tail = &op->next;
    if (++rs->n_held > MAX_HELD) {
        log_op *old = rs->held;
        rs->held = old->next;
        if (!rs->held) rs->held_tail = &rs->held;
        free(old);
        rs->n_held--;
    }
}

static void flush_held(cg_redis_store *rs)
{
    while (rs->held && rs->cmd) {
        log_op *op = rs->held;
        rs->held = op->next;
        rs->n_held--;
        send_op(rs, op);
    }
    if (!rs->held) rs->held_tail = &rs->held;
}

static void on_queue(cg_loop *loop, int fd, unsigned events, void *arg)
{
    cg_redis_store *rs = arg;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno == EAGAIN) return;
    pthread_mutex_lock(&rs->lock);
    log_op *ops = rs->queue;
    rs->queue = NULL;
    rs->queue_tail = &rs->queue;
    rs->n_queued = 0;
    pthread_mutex_unlock(&rs->lock);
    bool up = atomic_load(&rs->up) && rs->cmd;
    while (ops) {
        log_op *op = ops;
        ops = op->next;
        if (up) send_op(rs, op);
        else hold(rs, op);
    }
}

/* Queues op for the link's thread; replay writes are dropped when too many wait. */
static void enqueue(cg_redis_store *rs, log_op *op)
{
    pthread_mutex_lock(&rs->lock);
    if (op->kind != OP_END && rs->n_queued >= MAX_QUEUED) {
        pthread_mutex_unlock(&rs->lock);
        free(op);
        return;
    }
    op->next = NULL;
    *rs->queue_tail = op;
    rs->queue_tail = &op->next;
    rs->n_queued++;
    pthread_mutex_unlock(&rs->lock);
    uint64_t one = 1;
    if (write(rs->queue_fd, &one, sizeof one) < 0) { /* a full counter still wakes the link */
    }
}

static log_op *new_op(op_kind kind, const char *sid, size_t data_len)
{
    log_op *op = calloc(1, sizeof *op + data_len);
    if (!op) return NULL;
    op->kind = kind;
    snprintf(op->sid, sizeof op->sid, "%s", sid);
    return op;
}

cg_redis_wait *cg_redis_store_end_session(cg_redis_store *rs, const char *id, cg_loop *loop,
                                          long timeout_ms, cg_redis_done_cb done, void *arg)
{
    if (!rs || !id || strlen(id) != CG_MCP_SESSION_ID_LEN) return NULL;
    log_op *op = new_op(OP_END, id, 0);
    if (!op) return NULL;
    op->until = cg_mcp_sessions_adoptable_until(rs->sessions, id);
    cg_redis_wait *w = NULL;
    if (done && loop && atomic_load(&rs->up) && (w = calloc(1, sizeof *w))) {
        atomic_init(&w->refs, 2);
        w->loop = loop;
        w->done = done;
        w->arg = arg;
        w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->fd < 0 || cg_loop_io_set(loop, w->fd, CG_LOOP_READ, on_wait_fd, w) < 0 ||
            !(w->timer = cg_loop_timer_add(loop, timeout_ms, on_wait_timeout, w))) {
            if (w->fd >= 0) {
                cg_loop_io_remove(loop, w->fd);
                close(w->fd);
            }
            free(w);
            w = NULL;
        }
    }
    op->wait = w;
    enqueue(rs, op);
    return w;
}

/* --- the shared event buffer: a local copy, written through to the log -------------------- */

static int shared_open(void *self, const char *sid, const char *stream)
{
    cg_redis_store *rs = self;
    const cg_mcp_replay_ops *mem = cg_mcp_replay_memory_ops();
    pthread_rwlock_rdlock(&rs->replica_lock);
    int rc = rs->replica ? mem->open(rs->replica, sid, stream) : -1;
    pthread_rwlock_unlock(&rs->replica_lock);
    log_op *op;
    if (rc == 0 && atomic_load(&rs->up) && (op = new_op(OP_OPEN, sid, 0))) {
        memcpy(op->stream, stream, sizeof op->stream);
        enqueue(rs, op);
    }
    return rc;
}

static int shared_append(void *self, const char *stream, unsigned long long seq, const char *data,
                         size_t len, bool last)
{
    cg_redis_store *rs = self;
    const cg_mcp_replay_ops *mem = cg_mcp_replay_memory_ops();
    pthread_rwlock_rdlock(&rs->replica_lock);
    int rc = rs->replica ? mem->append(rs->replica, stream, seq, data, len, last) : -1;
    pthread_rwlock_unlock(&rs->replica_lock);
    log_op *op;
    /* an event of a stream the others never heard of (opened while Redis was down) is
     * ignored there */
    if (rc == 0 && atomic_load(&rs->up) && (op = new_op(OP_EVENT, "", len))) {
        memcpy(op->stream, stream, sizeof op->stream);
        op->seq = seq;
        op->last = last;
        op->len = len;
        memcpy(op->data, data, len);
        enqueue(rs, op);
    }
    return rc;
}

static cg_mcp_replay_status shared_after(void *self, const char *sid, const char *stream,
                                         unsigned long long seq, cg_mcp_replay_fn fn, void *ctx)
{
    cg_redis_store *rs = self;
    pthread_rwlock_rdlock(&rs->replica_lock);
    cg_mcp_replay_status st = rs->replica ? cg_mcp_replay_memory_ops()->after(rs->replica, sid,
                                                                              stream, seq, fn, ctx)
                                          : CG_MCP_REPLAY_UNKNOWN;
    pthread_rwlock_unlock(&rs->replica_lock);
    return st;
}

static void shared_forget(void *self, const char *sid)
{
    cg_redis_store *rs = self;
    pthread_rwlock_rdlock(&rs->replica_lock);
    if (rs->replica) cg_mcp_replay_memory_ops()->forget_session(rs->replica, sid);
    pthread_rwlock_unlock(&rs->replica_lock);
    log_op *op;
    if (atomic_load(&rs->up) && (op = new_op(OP_FORGET, sid, 0))) enqueue(rs, op);
}

static void shared_free(void *self)
{
    cg_redis_store *rs = self;
    pthread_rwlock_wrlock(&rs->replica_lock);
    void *replica = rs->replica;
    rs->replica = NULL;
    pthread_rwlock_unlock(&rs->replica_lock);
    if (replica) cg_mcp_replay_memory_ops()->free(replica);
}

static const cg_mcp_replay_ops shared_ops = {shared_open, shared_append, shared_after,
                                             shared_forget, shared_free};

cg_mcp_replay *cg_redis_store_replay(cg_redis_store *rs, const cg_mcp_replay_limits *lim)
{
    void *replica = cg_mcp_replay_memory_new(lim);
    if (!replica) return NULL;
    pthread_rwlock_wrlock(&rs->replica_lock);
    bool taken = rs->replica != NULL;
    if (!taken) rs->replica = replica;
    pthread_rwlock_unlock(&rs->replica_lock);
    if (taken) {
        cg_mcp_replay_memory_ops()->free(replica);
        return NULL;
    }
    return cg_mcp_replay_wrap(&shared_ops, rs);
}

/* --- lifecycle ---------------------------------------------------------------------------- */

static void on_stop(cg_loop *loop, void *arg)
{
    cg_redis_store *rs = arg;
    rs->stopping = true;
    cg_loop_timer_cancel(loop, rs->retry_timer);
    cg_loop_timer_cancel(loop, rs->connect_timer);
    cg_loop_timer_cancel(loop, rs->ping_timer);
    redisAsyncContext *cmd = rs->cmd, *reader = rs->reader;
    rs->cmd = rs->reader = NULL;
    if (cmd) redisAsyncFree(cmd); /* pending callbacks run with no reply */
    if (reader) redisAsyncFree(reader);
    cg_loop_break(loop);
}

static void *link_main(void *arg)
{
    cg_redis_store *rs = arg;
    link_connect(rs);
    cg_loop_run(rs->loop);
    return NULL;
}

cg_redis_store *cg_redis_store_start(const char *url, cg_mcp_sessions *sessions, char *err,
                                     size_t errlen)
{
    cg_redis_store *rs = calloc(1, sizeof *rs);
    if (!rs) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rs->sessions = sessions;
    rs->queue_tail = &rs->queue;
    rs->held_tail = &rs->held;
    rs->queue_fd = -1;
    snprintf(rs->last_entry, sizeof rs->last_entry, "0");
    atomic_init(&rs->up, false);
    if (parse_url(rs, url, err, errlen) < 0) {
        explicit_bzero(rs->password, sizeof rs->password);
        free(rs);
        return NULL;
    }
    unsigned char raw[8];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        snprintf(err, errlen, "redis: no random bytes");
        free(rs);
        return NULL;
    }
    for (size_t i = 0; i < sizeof raw; i++) snprintf(rs->origin + 2 * i, 3, "%02x", raw[i]);
    char why[160];
    if (!(rs->loop = cg_loop_create(why, sizeof why))) {
        snprintf(err, errlen, "redis: %s", why);
        free(rs);
        return NULL;
    }
    cg_loop_on_stop(rs->loop, on_stop, rs);
    rs->queue_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rs->queue_fd < 0 || pthread_mutex_init(&rs->lock, NULL) != 0 ||
        pthread_rwlock_init(&rs->replica_lock, NULL) != 0 ||
        cg_loop_io_set(rs->loop, rs->queue_fd, CG_LOOP_READ, on_queue, rs) < 0 ||
        pthread_create(&rs->thread, NULL, link_main, rs) != 0) {
        snprintf(err, errlen, "redis: cannot start the link: %s", strerror(errno));
        if (rs->queue_fd >= 0) close(rs->queue_fd);
        cg_loop_free(rs->loop);
        free(rs);
        return NULL;
    }
    return rs;
}

void cg_redis_store_stop(cg_redis_store *rs)
{
    if (!rs) return;
    cg_loop_request_stop(rs->loop);
    pthread_join(rs->thread, NULL);
    on_queue(rs->loop, rs->queue_fd, 0, rs); /* whatever came late is released */
    while (rs->held) {
        log_op *op = rs->held;
        rs->held = op->next;
        free(op);
    }
    if (rs->replica) cg_mcp_replay_memory_ops()->free(rs->replica);
    cg_loop_io_remove(rs->loop, rs->queue_fd);
    close(rs->queue_fd);
    cg_loop_free(rs->loop);
    pthread_mutex_destroy(&rs->lock);
    pthread_rwlock_destroy(&rs->replica_lock);
    explicit_bzero(rs->password, sizeof rs->password);
    free(rs);
}

bool cg_redis_store_up(const cg_redis_store *rs)
{
    return rs && atomic_load(&rs->up);
}

const char *cg_redis_store_display(const cg_redis_store *rs)
{
    return rs->display;
}
