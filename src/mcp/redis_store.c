/*
 * redis_store.c — the Redis link for MCP instances. See redis_store.h.
 *
 * One thread, one cg_loop, two hiredis async connections: "cmd" for commands and "sub",
 * which only listens to the channel of session ends (a subscribed connection can send
 * nothing else). Workers hand their ends to the thread through a mutex-guarded queue and an
 * eventfd on its loop; the thread answers a waiting worker through an eventfd of the
 * wait's own on the worker's loop. Nothing else crosses threads: the session store has its
 * own lock.
 *
 * Why a thread of its own rather than a connection on each worker's loop: hiredis resolves
 * the host name with a blocking getaddrinfo when it connects, and a worker's loop may never
 * block; one link per process also means one subscription per process, not per worker.
 *
 * hiredis callbacks may free the context they run for (a disconnect, a failed connect), so
 * a failure seen inside a callback only forgets the context and schedules link_fail on a
 * zero timer; link_fail frees what is left from outside any callback.
 */
#include "mcp/redis_store.h"

#include <errno.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define ENDED_KEY "capgate:mcp:ended"       /* sorted set: id -> when it stops mattering */
#define ENDED_CHANNEL "capgate:mcp:ended"   /* pub/sub: one message per ended id */
#define MAX_ENDED 100000                    /* ids kept in the set at most (newest win) */
#define MAX_HELD 10000                      /* ends kept while Redis is down */
#define CONNECT_TIMEOUT_MS 2000
#define PING_EVERY_MS 5000                  /* an unanswered ping this old means Redis hung */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct cg_redis_wait {
    atomic_int refs;            /* the caller's and the link's */
    atomic_bool shared;
    int fd;                     /* eventfd on the caller's loop */
    cg_loop *loop;
    uint64_t timer;
    cg_redis_done_cb done;
    void *arg;
};

typedef struct end_op {
    char id[CG_MCP_SESSION_ID_LEN + 1];
    unsigned long long until;   /* unix seconds */
    cg_redis_wait *wait;
    struct end_op *next;
} end_op;

struct cg_redis_store {
    cg_mcp_sessions *sessions;
    char host[256], user[128], password[256], display[300];
    int port, db;

    pthread_t thread;
    cg_loop *loop;
    int queue_fd;
    pthread_mutex_t lock;       /* guards queue */
    end_op *queue, **queue_tail;

    /* the link's thread only */
    redisAsyncContext *cmd, *sub;
    bool cmd_ready, sub_ready, ping_outstanding, failing, stopping;
    char why[160];              /* the first reason of the current failure */
    unsigned backoff_ms;
    uint64_t connect_timer, ping_timer, retry_timer;
    bool was_up, reported_down;
    end_op *held, **held_tail;  /* ends made while down */
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
    if (write(w->fd, &one, sizeof one) < 0) { /* a full counter still wakes the caller */ }
    wait_release(w);
}

/* --- the hiredis adapter for cg_loop ------------------------------------------------------ */

typedef struct loop_ev {
    redisAsyncContext *ac;
    cg_loop *loop;
    int fd;
    unsigned events;
    bool busy;                  /* a handler runs: hiredis may free the context meanwhile */
    bool dead;                  /* it did: free this once the handler is over */
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

static void ev_add_read(void *p) { loop_ev *e = p; ev_update(e, e->events | CG_LOOP_READ); }
static void ev_del_read(void *p) { loop_ev *e = p; ev_update(e, e->events & ~CG_LOOP_READ); }
static void ev_add_write(void *p) { loop_ev *e = p; ev_update(e, e->events | CG_LOOP_WRITE); }
static void ev_del_write(void *p) { loop_ev *e = p; ev_update(e, e->events & ~CG_LOOP_WRITE); }

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

static int parse_url(cg_redis_store *rs, const char *url, char *err, size_t errlen)
{
    if (!strncmp(url, "rediss://", 9)) {
        snprintf(err, errlen, "CAPGATE_REDIS_URL: rediss:// (TLS) is not supported; use redis://");
        return -1;
    }
    if (strncmp(url, "redis://", 8)) {
        snprintf(err, errlen, "CAPGATE_REDIS_URL: expected redis://[[user]:password@]host[:port][/db]");
        return -1;
    }
    const char *p = url + 8, *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon) colon = p - 1;  /* redis://password@host */
        size_t ul = colon >= p ? (size_t)(colon - p) : 0, pl = (size_t)(at - colon - 1);
        if (ul >= sizeof rs->user || pl >= sizeof rs->password) {
            snprintf(err, errlen, "CAPGATE_REDIS_URL: user or password too long");
            return -1;
        }
        memcpy(rs->user, p, ul);
        memcpy(rs->password, colon + 1, pl);
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
static void send_end(cg_redis_store *rs, end_op *op);

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
    redisAsyncContext *cmd = rs->cmd, *sub = rs->sub;
    rs->cmd = rs->sub = NULL;   /* callbacks for them are ignored from here on */
    rs->cmd_ready = rs->sub_ready = rs->ping_outstanding = false;
    atomic_store(&rs->up, false);
    cg_loop_timer_cancel(rs->loop, rs->connect_timer);
    cg_loop_timer_cancel(rs->loop, rs->ping_timer);
    rs->connect_timer = rs->ping_timer = 0;
    if (cmd) redisAsyncFree(cmd);
    if (sub) redisAsyncFree(sub);
    if (!rs->reported_down) {
        rs->reported_down = true;
        cg_log(CG_LOG_WARN, "redis",
               "%s %s (%s): MCP session ends are per instance until it is back; retrying",
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

static void on_ping(redisAsyncContext *ac, void *reply, void *priv)
{
    cg_redis_store *rs = ac->data;
    if (ac != rs->cmd) return;
    if (!reply_ok(reply)) {
        link_fail(rs, reply ? ((redisReply *)reply)->str : "connection closed");
        return;
    }
    rs->ping_outstanding = false;
}

static void on_ping_timer(cg_loop *loop, void *arg)
{
    cg_redis_store *rs = arg;
    rs->ping_timer = 0;
    if (!rs->cmd) return;
    if (rs->ping_outstanding) {
        link_fail(rs, "no answer to PING within 5 s");
        return;
    }
    rs->ping_outstanding = true;
    redisAsyncCommand(rs->cmd, on_ping, NULL, "PING");
    rs->ping_timer = cg_loop_timer_add(rs->loop, PING_EVERY_MS, on_ping_timer, rs);
}

/* The ended ids another instance recorded while this one was away. */
static void on_ended_set(redisAsyncContext *ac, void *reply, void *priv)
{
    cg_redis_store *rs = ac->data;
    redisReply *r = reply;
    if (ac != rs->cmd || !r || r->type != REDIS_REPLY_ARRAY) return;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            cg_mcp_sessions_mark_ended(rs->sessions, r->element[i]->str);
}

static void became_ready(cg_redis_store *rs)
{
    if (!rs->cmd_ready || !rs->sub_ready) return;
    cg_loop_timer_cancel(rs->loop, rs->connect_timer);
    rs->connect_timer = 0;
    rs->backoff_ms = 0;
    /* subscribed first, then read: no end can fall between the two */
    char now[32];
    snprintf(now, sizeof now, "%llu", unix_now());
    redisAsyncCommand(rs->cmd, NULL, NULL, "ZREMRANGEBYSCORE %s -inf %s", ENDED_KEY, now);
    redisAsyncCommand(rs->cmd, on_ended_set, NULL, "ZRANGEBYSCORE %s %s +inf", ENDED_KEY, now);
    atomic_store(&rs->up, true);
    cg_log(CG_LOG_INFO, "redis", "%s %s: MCP session ends are shared with every instance using it",
           rs->reported_down ? "back on" : "connected to", rs->display);
    rs->was_up = true;
    rs->reported_down = false;
    rs->ping_timer = cg_loop_timer_add(rs->loop, PING_EVERY_MS, on_ping_timer, rs);
    flush_held(rs);
}

static void on_cmd_ready(redisAsyncContext *ac, void *reply, void *priv)
{
    cg_redis_store *rs = ac->data;
    if (ac != rs->cmd) return;
    if (!reply_ok(reply)) {
        link_fail(rs, reply ? ((redisReply *)reply)->str : "connection closed");
        return;
    }
    rs->cmd_ready = true;
    became_ready(rs);
}

/* AUTH and SELECT answers: an error (a wrong password) fails the link; Redis' message
 * never holds the password. */
static void on_setup(redisAsyncContext *ac, void *reply, void *priv)
{
    cg_redis_store *rs = ac->data;
    if ((ac == rs->cmd || ac == rs->sub) && !reply_ok(reply))
        link_fail(rs, reply ? ((redisReply *)reply)->str : "connection closed");
}

static void on_message(redisAsyncContext *ac, void *reply, void *priv)
{
    cg_redis_store *rs = ac->data;
    redisReply *r = reply;
    if (ac != rs->sub) return;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        if (r && r->type == REDIS_REPLY_ERROR) link_fail(rs, r->str);
        return;
    }
    const char *kind = r->element[0]->str;
    if (!strcmp(kind, "subscribe")) {
        rs->sub_ready = true;
        became_ready(rs);
    } else if (!strcmp(kind, "message") && r->element[2]->type == REDIS_REPLY_STRING) {
        cg_mcp_sessions_mark_ended(rs->sessions, r->element[2]->str);
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    cg_redis_store *rs = ac->data;
    if (status == REDIS_OK || (ac != rs->cmd && ac != rs->sub)) return;
    /* hiredis frees the context after this returns */
    note_failure(rs, ac->errstr[0] ? ac->errstr : "connect failed");
    if (ac == rs->cmd) rs->cmd = NULL;
    else rs->sub = NULL;
    link_fail(rs, "connect failed");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    cg_redis_store *rs = ac->data;
    if (ac != rs->cmd && ac != rs->sub) return;
    if (ac == rs->cmd) rs->cmd = NULL;
    else rs->sub = NULL;
    link_fail(rs, status == REDIS_OK ? "closed" : ac->errstr[0] ? ac->errstr : "connection lost");
}

static void on_connect_timeout(cg_loop *loop, void *arg)
{
    cg_redis_store *rs = arg;
    rs->connect_timer = 0;
    link_fail(rs, "no answer within 2 s");
}

static redisAsyncContext *open_one(cg_redis_store *rs, bool subscriber)
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
    else if (rs->password[0])
        redisAsyncCommand(ac, on_setup, NULL, "AUTH %s", rs->password);
    if (subscriber) {
        redisAsyncCommand(ac, on_message, NULL, "SUBSCRIBE %s", ENDED_CHANNEL);
    } else {
        if (rs->db) redisAsyncCommand(ac, on_setup, NULL, "SELECT %d", rs->db);
        redisAsyncCommand(ac, on_cmd_ready, NULL, "PING");
    }
    return ac;
}

static void link_connect(cg_redis_store *rs)
{
    if (rs->stopping) return;
    rs->cmd = open_one(rs, false);
    rs->sub = rs->cmd ? open_one(rs, true) : NULL;
    if (!rs->cmd || !rs->sub) {
        link_fail(rs, "cannot create a connection");
        return;
    }
    rs->connect_timer = cg_loop_timer_add(rs->loop, CONNECT_TIMEOUT_MS, on_connect_timeout, rs);
}

/* --- session ends ------------------------------------------------------------------------- */

static void on_published(redisAsyncContext *ac, void *reply, void *priv)
{
    wait_signal(priv, reply_ok(reply));
}

static void send_end(cg_redis_store *rs, end_op *op)
{
    char until[32], keep[32];
    snprintf(until, sizeof until, "%llu", op->until);
    snprintf(keep, sizeof keep, "%d", -(MAX_ENDED + 1));
    redisAsyncCommand(rs->cmd, NULL, NULL, "ZADD %s %s %s", ENDED_KEY, until, op->id);
    redisAsyncCommand(rs->cmd, NULL, NULL, "ZREMRANGEBYRANK %s 0 %s", ENDED_KEY, keep);
    if (redisAsyncCommand(rs->cmd, on_published, op->wait, "PUBLISH %s %s", ENDED_CHANNEL, op->id) != REDIS_OK)
        wait_signal(op->wait, false);
    free(op);
}

/* Keeps an end for later (Redis is down); the oldest goes when too many are kept. */
static void hold(cg_redis_store *rs, end_op *op)
{
    wait_signal(op->wait, false);
    op->wait = NULL;
    op->next = NULL;
    if (!rs->held) rs->held_tail = &rs->held;
    *rs->held_tail = op;
    rs->held_tail = &op->next;
    if (++rs->n_held > MAX_HELD) {
        end_op *old = rs->held;
        rs->held = old->next;
        free(old);
        rs->n_held--;
    }
}

static void flush_held(cg_redis_store *rs)
{
    while (rs->held && rs->cmd) {
        end_op *op = rs->held;
        rs->held = op->next;
        rs->n_held--;
        send_end(rs, op);
    }
}

static void on_queue(cg_loop *loop, int fd, unsigned events, void *arg)
{
    cg_redis_store *rs = arg;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno == EAGAIN) return;
    pthread_mutex_lock(&rs->lock);
    end_op *ops = rs->queue;
    rs->queue = NULL;
    rs->queue_tail = &rs->queue;
    pthread_mutex_unlock(&rs->lock);
    bool up = atomic_load(&rs->up) && rs->cmd;
    while (ops) {
        end_op *op = ops;
        ops = op->next;
        if (up) send_end(rs, op);
        else hold(rs, op);
    }
}

cg_redis_wait *cg_redis_store_end_session(cg_redis_store *rs, const char *id, cg_loop *loop,
                                          long timeout_ms, cg_redis_done_cb done, void *arg)
{
    if (!rs || !id || strlen(id) != CG_MCP_SESSION_ID_LEN) return NULL;
    end_op *op = calloc(1, sizeof *op);
    if (!op) return NULL;
    memcpy(op->id, id, CG_MCP_SESSION_ID_LEN + 1);
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
    pthread_mutex_lock(&rs->lock);
    *rs->queue_tail = op;
    rs->queue_tail = &op->next;
    pthread_mutex_unlock(&rs->lock);
    uint64_t one = 1;
    if (write(rs->queue_fd, &one, sizeof one) < 0) { /* a full counter still wakes the link */ }
    return w;
}

/* --- lifecycle ---------------------------------------------------------------------------- */

static void on_stop(cg_loop *loop, void *arg)
{
    cg_redis_store *rs = arg;
    rs->stopping = true;
    cg_loop_timer_cancel(loop, rs->retry_timer);
    cg_loop_timer_cancel(loop, rs->connect_timer);
    cg_loop_timer_cancel(loop, rs->ping_timer);
    redisAsyncContext *cmd = rs->cmd, *sub = rs->sub;
    rs->cmd = rs->sub = NULL;
    if (cmd) redisAsyncFree(cmd);   /* pending PUBLISH callbacks run with no reply */
    if (sub) redisAsyncFree(sub);
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
    atomic_init(&rs->up, false);
    if (parse_url(rs, url, err, errlen) < 0) {
        free(rs);
        return NULL;
    }
    char why[160];
    if (!(rs->loop = cg_loop_create(why, sizeof why))) {
        snprintf(err, errlen, "redis: %s", why);
        free(rs);
        return NULL;
    }
    cg_loop_on_stop(rs->loop, on_stop, rs);
    rs->queue_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rs->queue_fd < 0 || pthread_mutex_init(&rs->lock, NULL) != 0 ||
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
    on_queue(rs->loop, rs->queue_fd, 0, rs);   /* whatever came late is released */
    while (rs->held) {
        end_op *op = rs->held;
        rs->held = op->next;
        free(op);
    }
    cg_loop_io_remove(rs->loop, rs->queue_fd);
    close(rs->queue_fd);
    cg_loop_free(rs->loop);
    pthread_mutex_destroy(&rs->lock);
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
