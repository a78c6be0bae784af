/*
 * h1.c — plain HTTP/1.1 client connections on the worker's loop. See h1.h.
 *
 * A connection (h1_conn) is registered in the loop once, when it is opened, and stays
 * registered until it is closed: while it waits in the idle pool it is watched for
 * readability (which can only mean the server closed it, so it is closed), while a request
 * runs it is watched for whatever the state needs (writable while connecting or while a
 * large request drains, readable otherwise). The registration is only touched when the
 * wanted events change, so a reused connection costs no epoll_ctl at all.
 *
 * A request on a reused connection that fails before a single response byte arrives (the
 * server closed the idle connection just as we used it) is sent once more on a fresh
 * connection when it is idempotent, or when not one byte of it was sent. A non-idempotent
 * request (POST train, predict, ...) is never sent twice: the server may have read it before
 * it reset the connection. Instead, a pooled connection is checked with a peek before such a
 * request uses it, so one the server has already closed is dropped first (one recv per
 * non-idempotent request). Every other failure is reported to upstream.c, which decides
 * about retries.
 *
 * Response parsing is strict and bounded: the head must fit in 64 KiB, Content-Length is
 * digits only, chunk sizes are hex with no overflow, the body stops at max_response.
 * Size: one client state machine (addresses, pool, request, response parsing) that every
 * call goes through; its parts share the connection and call structs.
 */
#include "net/h1.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEAD (64 * 1024)

typedef enum { C_CONNECTING, C_SENDING, C_READING, C_IDLE } conn_state;
typedef enum {
    P_HEAD,
    P_LENGTH,
    P_CHUNK_SIZE,
    P_CHUNK_DATA,
    P_CHUNK_CRLF,
    P_TRAILERS,
    P_EOF,
    P_DONE
} parse_state;

typedef struct h1_conn {
    cg__h1 *h;
    int fd;
    conn_state state;
    unsigned watched; /* CG_LOOP_* events registered */
    bool reused;
    char key[128]; /* the URL's authority */
    cg__h1_call *call;
    cg_buf in;
    size_t got; /* response bytes received on this request */
    parse_state ps;
    int status;
    char *content_type;
    char *www_auth; /* a 401's WWW-Authenticate (the Digest one when several) */
    bool close_after;
    unsigned long long remaining;
    struct h1_conn *next_idle;
} h1_conn;

struct cg__h1_call {
    cg__h1 *h;
    h1_conn *conn;
    cg__h1_cb cb;
    void *arg;
    cg_buf req; /* the request bytes */
    size_t sent;
    bool head;       /* HEAD: no response body */
    bool idempotent; /* may be sent again after a stale keep-alive connection */
    bool stale_retried;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char key[128];
    long connect_timeout_ms;
    uint64_t total_timer, connect_timer, fail_timer;
    cg_buf body;
    size_t max_response;
    cg__h1_outcome pending; /* a failure found inside cg__h1_start, reported later */
    bool starting;          /* inside cg__h1_start */
    bool too_large;
    char error[160];
};

/* The last origin ("http://host:port") parsed: a worker's calls mostly go to one or two,
 * so the address is worked out (inet_pton, strtol) once, not twice per call. */
typedef struct origin_cache {
    char origin[136]; /* as written in the URL */
    size_t origin_len;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char authority[128];
} origin_cache;

struct cg__h1 {
    cg_loop *loop;
    origin_cache last;
    size_t max_response;
    int max_idle;
    h1_conn *idle;
    int n_idle;
    h1_conn **open; /* every open connection, for cg__h1_free */
    size_t n_open, cap_open;
};

/* ---- addresses ------------------------------------------------------------------ */

/* Parses http://HOST[:PORT]/PATH. host goes into addr; path points into url. */
static bool parse_url(const char *url, struct sockaddr_storage *addr, socklen_t *len,
                      char *authority, size_t alen, const char **path)
{
    if (strncmp(url, "http://", 7)) return false;
    const char *p = url + 7, *host = p, *host_end;
    if (*p == '[') {
        host_end = strchr(p, ']');
        if (!host_end) return false;
        host++;
        p = host_end + 1;
    } else {
        p += strcspn(p, ":/?#");
        host_end = p;
    }
    long port = 80;
    if (*p == ':') {
        char *end;
        errno = 0;
        port = strtol(p + 1, &end, 10);
        if (errno || end == p + 1 || port < 1 || port > 65535) return false;
        p = end;
    }
    if (*p && *p != '/') return false; /* a query straight after the authority: curl */
    size_t hl = (size_t)(host_end - host);
    char h[64];
    if (hl == 0 || hl >= sizeof h) return false;
    memcpy(h, host, hl);
    h[hl] = '\0';
    if (!strcasecmp(h, "localhost")) strcpy(h, "127.0.0.1");
    memset(addr, 0, sizeof *addr);
    struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;
    if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
    } else if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
    } else {
        return false; /* a name: needs DNS, so curl */
    }
    size_t n = (size_t)(p - (url + 7));
    if (n >= alen) return false;
    memcpy(authority, url + 7, n);
    authority[n] = '\0';
    *path = *p ? p : "/";
    return true;
}

/* parse_url through h's cache of the last origin. authority has room for 128 bytes. */
static bool parse_url_cached(cg__h1 *h, const char *url, struct sockaddr_storage *addr,
                             socklen_t *len, char *authority, const char **path)
{
    size_t n = strncmp(url, "http://", 7) ? 0 : 7 + strcspn(url + 7, "/?#");
    origin_cache *o = &h->last;
    if (n && n == o->origin_len && !memcmp(url, o->origin, n)) {
        if (url[n] && url[n] != '/') return false;
        *addr = o->addr;
        *len = o->addrlen;
        memcpy(authority, o->authority, strlen(o->authority) + 1);
        *path = url[n] ? url + n : "/";
        return true;
    }
    if (!parse_url(url, addr, len, authority, sizeof o->authority, path)) return false;
    if (n < sizeof o->origin) {
        memcpy(o->origin, url, n);
        o->origin_len = n;
        o->addr = *addr;
        o->addrlen = *len;
        memcpy(o->authority, authority, strlen(authority) + 1);
    }
    return true;
}

bool cg__h1_supports(cg__h1 *h, const char *url)
{
    struct sockaddr_storage a;
    socklen_t l;
    char auth[128];
    const char *path;
    return parse_url_cached(h, url, &a, &l, auth, &path);
}

/* ---- connections ---------------------------------------------------------------- */

static void on_conn_event(cg_loop *loop, int fd, unsigned events, void *arg);

static void watch(h1_conn *c, unsigned events)
{
    if (c->watched == events) return;
    if (cg_loop_io_set(c->h->loop, c->fd, events, on_conn_event, c) == 0) c->watched = events;
}

static void conn_close(h1_conn *c)
{
    cg__h1 *h = c->h;
    if (c->state == C_IDLE) {
        for (h1_conn **p = &h->idle; *p; p = &(*p)->next_idle)
            if (*p == c) {
                *p = c->next_idle;
                h->n_idle--;
                break;
            }
    }
    for (size_t i = 0; i < h->n_open; i++)
        if (h->open[i] == c) {
            h->open[i] = h->open[--h->n_open];
            break;
        }
    cg_loop_io_remove(h->loop, c->fd);
    close(c->fd);
    cg_buf_free(&c->in);
    free(c->content_type);
    free(c->www_auth);
    free(c);
}

static h1_conn *conn_open(cg__h1 *h, const struct sockaddr_storage *addr, socklen_t len,
                          const char *key, int *err)
{
    if (h->n_open == h->cap_open) {
        size_t cap = h->cap_open ? h->cap_open * 2 : 32;
        h1_conn **o = realloc(h->open, cap * sizeof *o);
        if (!o) {
            *err = ENOMEM;
            return NULL;
        }
        h->open = o;
        h->cap_open = cap;
    }
    h1_conn *c = calloc(1, sizeof *c);
    if (!c) {
        *err = ENOMEM;
        return NULL;
    }
    c->h = h;
    snprintf(c->key, sizeof c->key, "%s", key);
    c->fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        *err = errno;
        free(c);
        return NULL;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    h->open[h->n_open++] = c;
    c->state = C_SENDING;
    if (connect(c->fd, (const struct sockaddr *)addr, len) < 0) {
        if (errno != EINPROGRESS) {
            *err = errno;
            conn_close(c);
            return NULL;
        }
        c->state = C_CONNECTING;
    }
    return c;
}

/* An idle connection owes us nothing: a peek that finds anything but "no data yet" means the
 * server closed or reset it (or sent bytes it should not have). */
static bool idle_alive(h1_conn *c)
{
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Takes a pooled connection to key. check: peek at it first and close it when dead. */
static h1_conn *idle_take(cg__h1 *h, const char *key, bool check)
{
    for (h1_conn **p = &h->idle; *p;) {
        h1_conn *c = *p;
        if (strcmp(c->key, key)) {
            p = &c->next_idle;
            continue;
        }
        if (check && !idle_alive(c)) {
            conn_close(c); /* unlinks it: *p is now the next one */
            continue;
        }
        *p = c->next_idle;
        h->n_idle--;
        c->next_idle = NULL;
        c->reused = true;
        return c;
    }
    return NULL;
}

/* ---- completing a call ---------------------------------------------------------- */

static void call_free(cg__h1_call *call)
{
    cg_loop *loop = call->h->loop;
    cg_loop_timer_cancel(loop, call->total_timer);
    cg_loop_timer_cancel(loop, call->connect_timer);
    cg_loop_timer_cancel(loop, call->fail_timer);
    cg_buf_free(&call->req);
    cg_buf_free(&call->body);
    free(call);
}

/* Reports the outcome and frees the call. The connection is kept or closed first. */
static void complete(cg__h1_call *call, cg__h1_outcome *o, bool keep_conn)
{
    h1_conn *c = call->conn;
    char *ct = NULL, *wa = NULL;
    if (c) {
        c->call = NULL;
        call->conn = NULL;
        ct = c->content_type;
        c->content_type = NULL;
        wa = c->www_auth;
        c->www_auth = NULL;
        cg__h1 *h = c->h;
        if (keep_conn && h->n_idle < h->max_idle) {
            c->state = C_IDLE;
            c->reused = false;
            cg_buf_reset(&c->in);
            watch(c, CG_LOOP_READ);
            c->next_idle = h->idle;
            h->idle = c;
            h->n_idle++;
        } else {
            conn_close(c);
        }
    }
    if (o->result == CG_UPSTREAM_OK) {
        o->content_type = ct;
        o->www_authenticate = wa;
    }
    o->body = &call->body;
    call->cb(call->arg, o);
    free(ct);
    free(wa);
    call_free(call);
}

static void on_fail_due(cg_loop *loop, void *arg);

/* Ends the call with an error: what + detail. Inside cg__h1_start the report waits for
 * the next loop iteration (callbacks never run inside start). */
static void fail(cg__h1_call *call, cg_upstream_result r, bool connect_failed, const char *what,
                 const char *detail)
{
    snprintf(call->error, sizeof call->error, "%s%s", what, detail ? detail : "");
    cg__h1_outcome o = {.result = r, .connect_failed = connect_failed, .error = call->error};
    if (call->starting) {
        if (call->conn) {
            call->conn->call = NULL;
            conn_close(call->conn);
            call->conn = NULL;
        }
        call->pending = o;
        if (!call->fail_timer)
            call->fail_timer = cg_loop_timer_add(call->h->loop, 0, on_fail_due, call);
        return;
    }
    complete(call, &o, false);
}

static void send_request(cg__h1_call *call);
static bool start_on(cg__h1_call *call, h1_conn *c);

/* The reused connection died before any response byte: once, try a fresh connection, when
 * the request may be sent twice or none of it was sent. */
static bool retry_stale(cg__h1_call *call)
{
    h1_conn *c = call->conn;
    if (!c || !c->reused || c->got > 0 || call->stale_retried) return false;
    if (!call->idempotent && call->sent > 0) return false;
    call->stale_retried = true;
    c->call = NULL;
    call->conn = NULL;
    conn_close(c);
    int err = 0;
    h1_conn *fresh = conn_open(call->h, &call->addr, call->addrlen, call->key, &err);
    if (!fresh) return false;
    return start_on(call, fresh);
}

/* ---- response parsing ----------------------------------------------------------- */

static bool header_named(const char *line, size_t n, const char *name, size_t k, const char **value,
                         size_t *vlen)
{
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k)) return false;
    const char *v = line + k + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
    *value = v;
    *vlen = (size_t)(end - v);
    return true;
}

/* header_named with a literal name, its length known at compile time */
#define HEADER_IS(line, n, literal, value, vlen)                                                   \
    header_named(line, n, literal, sizeof literal - 1, value, vlen)

static bool contains_token(const char *v, size_t n, const char *token)
{
    size_t k = strlen(token);
    for (size_t i = 0; i + k <= n; i++)
        if (!strncasecmp(v + i, token, k)) return true;
    return false;
}

/* Parses the head at the start of c->in (complete, ending at head_len). 0 or -1. */
static int parse_head(h1_conn *c, size_t head_len, bool head_request)
{
    const char *s = c->in.data, *end = s + head_len;
    if (head_len < 12 || strncmp(s, "HTTP/1.", 7) || (s[7] != '0' && s[7] != '1') || s[8] != ' ' ||
        s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9')
        return -1;
    c->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    c->close_after = s[7] == '0';
    bool chunked = false, has_length = false;
    unsigned long long length = 0;
    free(c->content_type);
    c->content_type = NULL;
    free(c->www_auth);
    c->www_auth = NULL;
    const char *line = memchr(s, '\n', head_len);
    while (line && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) break;
        size_t n = (size_t)(eol - line);
        if (n && line[n - 1] == '\r') n--;
        if (n == 0) break;
        const char *v;
        size_t vl;
        if (HEADER_IS(line, n, "Content-Length", &v, &vl)) {
            unsigned long long x = 0;
            if (vl == 0 || vl > 18) return -1;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9') return -1;
                x = x * 10 + (unsigned)(v[i] - '0');
            }
            if (has_length && x != length) return -1;
            has_length = true;
            length = x;
        } else if (HEADER_IS(line, n, "Transfer-Encoding", &v, &vl)) {
            if (contains_token(v, vl, "chunked")) chunked = true;
            else c->close_after = true; /* some other coding: the body ends at close */
        } else if (HEADER_IS(line, n, "Connection", &v, &vl)) {
            if (contains_token(v, vl, "close")) c->close_after = true;
            else if (contains_token(v, vl, "keep-alive")) c->close_after = false;
        } else if (HEADER_IS(line, n, "Content-Type", &v, &vl)) {
            c->content_type = strndup(v, vl);
        } else if (c->status == 401 && HEADER_IS(line, n, "WWW-Authenticate", &v, &vl) &&
                   (!c->www_auth || (strncasecmp(c->www_auth, "Digest", 6) && vl >= 6 &&
                                     !strncasecmp(v, "Digest", 6)))) {
            free(c->www_auth);
            c->www_auth = strndup(v, vl);
        }
        line = eol;
    }
    if (c->status < 200) c->ps = P_HEAD; /* 1xx: another head follows */
    else if (head_request || c->status == 204 || c->status == 304) c->ps = P_DONE;
    else if (chunked) c->ps = P_CHUNK_SIZE;
    else if (has_length) {
        c->remaining = length;
        c->ps = length ? P_LENGTH : P_DONE;
    } else {
        c->ps = P_EOF;
        c->close_after = true;
    }
    return 0;
}

/* Where "\r\n\r\n" starts in [d, d + n), or NULL (memchr: faster than memmem here). */
static const char *blank_line(const char *d, size_t n)
{
    for (const char *p = d, *end = d + n; (p = memchr(p, '\r', (size_t)(end - p))); p++)
        if (end - p >= 4 && p[1] == '\n' && p[2] == '\r' && p[3] == '\n') return p;
    return NULL;
}

/* Consumes what it can from c->in. 1 when the response is complete, 0 when more is
 * needed, -1 on a malformed or oversized response. */
static int parse(h1_conn *c, cg__h1_call *call)
{
    size_t off = 0;
    int rc = 0;
    while (rc == 0) {
        const char *d = c->in.data + off;
        size_t avail = c->in.len - off;
        if (c->ps == P_HEAD) {
            const char *e = blank_line(d, avail);
            if (!e) {
                if (avail > MAX_HEAD) rc = -1;
                break;
            }
            size_t hl = (size_t)(e - d) + 4;
            /* parse_head reads from c->in.data: move the head to the front first */
            if (off) {
                memmove(c->in.data, d, avail);
                c->in.len = avail;
                c->in.data[avail] = '\0';
                off = 0;
            }
            if (parse_head(c, hl, call->head) < 0) rc = -1;
            /* a declared length: the body's room in one step (a bounded guess: the length
             * is the peer's word) */
            if (rc == 0 && c->ps == P_LENGTH && !call->body.cap)
                cg_buf_reserve(&call->body,
                               c->remaining < (1u << 20) ? (size_t)c->remaining : (1u << 20));
            off += hl;
        } else if (c->ps == P_LENGTH || c->ps == P_CHUNK_DATA || c->ps == P_EOF) {
            size_t take = avail;
            if (c->ps != P_EOF && take > c->remaining) take = (size_t)c->remaining;
            if (take && cg_buf_append(&call->body, d, take) < 0) {
                call->too_large = true;
                rc = -1;
            }
            off += take;
            if (c->ps != P_EOF) c->remaining -= take;
            if (c->ps == P_LENGTH && c->remaining == 0) c->ps = P_DONE;
            else if (c->ps == P_CHUNK_DATA && c->remaining == 0) c->ps = P_CHUNK_CRLF;
            else break;
        } else if (c->ps == P_CHUNK_SIZE || c->ps == P_TRAILERS) {
            const char *nl = memchr(d, '\n', avail);
            if (!nl) {
                if (avail > 4096) rc = -1;
                break;
            }
            size_t n = (size_t)(nl - d);
            off += n + 1;
            if (n && d[n - 1] == '\r') n--;
            if (c->ps == P_TRAILERS) {
                if (n == 0) c->ps = P_DONE;
                continue;
            }
            unsigned long long size = 0;
            size_t i = 0;
            for (; i < n && d[i] != ';' && d[i] != ' '; i++) {
                int v = (d[i] >= '0' && d[i] <= '9')   ? d[i] - '0'
                        : (d[i] >= 'a' && d[i] <= 'f') ? d[i] - 'a' + 10
                        : (d[i] >= 'A' && d[i] <= 'F') ? d[i] - 'A' + 10
                                                       : -1;
                if (v < 0 || size > (1ULL << 40)) {
                    rc = -1;
                    break;
                }
                size = size * 16 + (unsigned)v;
            }
            if (rc || i == 0) {
                rc = -1;
                break;
            }
            c->remaining = size;
            c->ps = size ? P_CHUNK_DATA : P_TRAILERS;
        } else if (c->ps == P_CHUNK_CRLF) {
            if (avail < 2) break;
            if (d[0] != '\r' || d[1] != '\n') rc = -1;
            off += 2;
            c->ps = P_CHUNK_SIZE;
        } else {                              /* P_DONE */
            if (avail) c->close_after = true; /* bytes beyond the response: do not reuse */
            rc = 1;
        }
    }
    if (rc >= 0 && off) {
        size_t left = c->in.len - off;
        memmove(c->in.data, c->in.data + off, left);
        c->in.len = left;
        c->in.data[left] = '\0';
    }
    return rc;
}

/* ---- I/O -------------------------------------------------------------------------- */

static void on_readable(h1_conn *c)
{
    cg__h1_call *call = c->call;
    char buf[16384];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {
            if (retry_stale(call)) return;
            if (n == 0 && c->ps == P_EOF) {
                cg__h1_outcome o = {.result = CG_UPSTREAM_OK, .status = c->status};
                complete(call, &o, false);
            } else if (c->got == 0) {
                fail(call, CG_UPSTREAM_UNREACHABLE, false, "upstream closed the connection",
                     n < 0 ? ": connection reset" : " without answering");
            } else {
                fail(call, CG_UPSTREAM_BAD_RESPONSE, false,
                     "upstream closed the connection mid-response", NULL);
            }
            return;
        }
        c->got += (size_t)n;
        if (cg_buf_append(&c->in, buf, (size_t)n) < 0) {
            fail(call, CG_UPSTREAM_INTERNAL, false, "out of memory", NULL);
            return;
        }
        int rc = parse(c, call);
        if (rc < 0) {
            if (call->too_large)
                fail(call, CG_UPSTREAM_BAD_RESPONSE, false,
                     "upstream response larger than the limit", NULL);
            else
                fail(call, CG_UPSTREAM_BAD_RESPONSE, false, "malformed HTTP response from upstream",
                     NULL);
            return;
        }
        if (rc == 1) {
            cg__h1_outcome o = {.result = CG_UPSTREAM_OK, .status = c->status};
            complete(call, &o, !c->close_after && c->in.len == 0);
            return;
        }
        if ((size_t)n < sizeof buf) return; /* drained: wait for the next event */
    }
}

static void send_request(cg__h1_call *call)
{
    h1_conn *c = call->conn;
    while (call->sent < call->req.len) {
        ssize_t n = send(c->fd, call->req.data + call->sent, call->req.len - call->sent,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            watch(c, CG_LOOP_WRITE);
            return;
        }
        if (n < 0) {
            if (retry_stale(call)) return;
            fail(call, CG_UPSTREAM_UNREACHABLE, false, "sending to upstream: ", strerror(errno));
            return;
        }
        call->sent += (size_t)n;
    }
    c->state = C_READING;
    watch(c, CG_LOOP_READ);
}

static void on_connect_due(cg_loop *loop, void *arg)
{
    cg__h1_call *call = arg;
    call->connect_timer = 0;
    if (call->conn && call->conn->state == C_CONNECTING)
        fail(call, CG_UPSTREAM_TIMEOUT, false, "connecting to upstream timed out", NULL);
}

static void on_conn_event(cg_loop *loop, int fd, unsigned events, void *arg)
{
    h1_conn *c = arg;
    cg__h1_call *call = c->call;
    if (c->state == C_IDLE || !call) { /* the server closed an idle connection */
        conn_close(c);
        return;
    }
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            fail(call, CG_UPSTREAM_UNREACHABLE, true,
                 "could not connect to upstream: ", strerror(err));
            return;
        }
        cg_loop_timer_cancel(loop, call->connect_timer);
        call->connect_timer = 0;
        c->state = C_SENDING;
    }
    if (c->state == C_SENDING) send_request(call);
    else if (events & CG_LOOP_READ) on_readable(c);
}

static void on_total_due(cg_loop *loop, void *arg)
{
    cg__h1_call *call = arg;
    call->total_timer = 0;
    fail(call, CG_UPSTREAM_TIMEOUT, false, "operation timed out",
         " (no complete answer from upstream)");
}

static void on_fail_due(cg_loop *loop, void *arg)
{
    cg__h1_call *call = arg;
    call->fail_timer = 0;
    complete(call, &call->pending, false);
}

/* Runs call on connection c (fresh or idle). false when it could not even start. */
static bool start_on(cg__h1_call *call, h1_conn *c)
{
    call->conn = c;
    c->call = call;
    c->got = 0;
    c->ps = P_HEAD;
    c->status = 0;
    c->close_after = false;
    cg_buf_reset(&c->in);
    cg_buf_reset(&call->body);
    call->sent = 0;
    if (c->state == C_CONNECTING) {
        watch(c, CG_LOOP_WRITE);
        call->connect_timer = cg_loop_timer_add(c->h->loop, call->connect_timeout_ms,
                                                on_connect_due, call);
        return c->watched == CG_LOOP_WRITE;
    }
    c->state = C_SENDING;
    if (!c->watched) watch(c, CG_LOOP_READ);
    if (!c->watched) return false;
    send_request(call); /* may finish the call only through retry/fail, never inline OK */
    return true;
}

/* ---- public ----------------------------------------------------------------------- */

cg__h1 *cg__h1_create(cg_loop *loop, int max_idle, size_t max_response)
{
    cg__h1 *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->loop = loop;
    h->max_idle = max_idle > 0 ? max_idle : 64;
    h->max_response = max_response;
    return h;
}

void cg__h1_free(cg__h1 *h)
{
    if (!h) return;
    while (h->n_open) {
        h1_conn *c = h->open[h->n_open - 1];
        if (c->call) {
            cg__h1_call *call = c->call;
            c->call = NULL;
            call->conn = NULL;
            call_free(call);
        }
        conn_close(c);
    }
    free(h->open);
    free(h);
}

cg__h1_call *cg__h1_start(cg__h1 *h, const char *method, const char *url,
                          const cg_upstream_header *headers, size_t n_headers, const char *body,
                          size_t body_len, bool has_body, bool idempotent, const char *user_agent,
                          long connect_timeout_ms, long timeout_ms, cg__h1_cb cb, void *arg)
{
    cg__h1_call *call = calloc(1, sizeof *call);
    if (!call) return NULL;
    call->h = h;
    call->cb = cb;
    call->arg = arg;
    call->head = !strcmp(method, "HEAD");
    call->idempotent = idempotent;
    call->connect_timeout_ms = connect_timeout_ms;
    call->max_response = h->max_response;
    call->body.max = h->max_response;
    char authority[128];
    const char *path;
    if (!parse_url_cached(h, url, &call->addr, &call->addrlen, authority, &path)) {
        free(call);
        return NULL;
    }
    memcpy(call->key, authority, strlen(authority) + 1); /* both 128 bytes */
    /* the request head, by appends (no printf on the per-call path); any failure is -1 */
    cg_buf *q = &call->req;
    int rc = cg_buf_reserve(q, 256 + (has_body ? body_len : 0)); /* one allocation, mostly */
    rc |= cg_buf_append_str(q, method) | cg_buf_append(q, " ", 1) | cg_buf_append_str(q, path) |
          cg_buf_append_str(q, " HTTP/1.1\r\nHost: ") | cg_buf_append_str(q, authority) |
          cg_buf_append_str(q, "\r\nUser-Agent: ") | cg_buf_append_str(q, user_agent) |
          cg_buf_append_str(q, "\r\nAccept: */*\r\n");
    for (size_t i = 0; i < n_headers; i++)
        rc |= cg_buf_append_str(q, headers[i].name) | cg_buf_append(q, ": ", 2) |
              cg_buf_append_str(q, headers[i].value) | cg_buf_append(q, "\r\n", 2);
    bool wants_length = has_body || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
                        !strcmp(method, "PATCH");
    if (wants_length)
        rc |= cg_buf_append_str(q, "Content-Length: ") |
              cg_buf_append_uint(q, has_body ? body_len : 0) | cg_buf_append(q, "\r\n", 2);
    rc |= cg_buf_append(q, "\r\n", 2);
    if (rc == 0 && has_body && body_len) rc = cg_buf_append(&call->req, body, body_len);
    if (rc < 0) {
        call_free(call);
        return NULL;
    }
    call->total_timer = cg_loop_timer_add(h->loop, timeout_ms, on_total_due, call);
    call->starting = true;
    h1_conn *c = idle_take(h, call->key, !idempotent);
    int err = 0;
    if (!c) c = conn_open(h, &call->addr, call->addrlen, call->key, &err);
    if (!c)
        fail(call, CG_UPSTREAM_UNREACHABLE, true,
             "could not connect to upstream: ", strerror(err ? err : EIO));
    else if (!start_on(call, c) && !call->fail_timer)
        fail(call, CG_UPSTREAM_INTERNAL, false, "could not watch the upstream connection", NULL);
    call->starting = false;
    return call;
}

void cg__h1_cancel(cg__h1_call *call)
{
    if (!call) return;
    if (call->conn) {
        h1_conn *c = call->conn;
        c->call = NULL;
        call->conn = NULL;
        conn_close(c);
    }
    call_free(call);
}
