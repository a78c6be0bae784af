/*
 * tests/unit/loopback.h — the client side of the unit tests that talk to a real server on
 * 127.0.0.1: one request on a new connection, read until the server closes it; and the one
 * loopback upstream (a blocking HTTP/1.1 server, a thread per connection) for the tests
 * whose server under test calls out. Header-only (static inline), included by the test programs
 * that need it; cmocka must be included first.
 */
#ifndef CG_TEST_LOOPBACK_H
#define CG_TEST_LOOPBACK_H

#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Sends request (which should say Connection: close) on a new connection and returns
 * everything read until the server closes it or timeout_s pass with nothing to read. The
 * answer lives in a static buffer (64 KiB) until the next call. */
static inline char *loopback_exchange(int port, const char *request, int timeout_s)
{
    static char buf[65536];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = timeout_s};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
    buf[n] = '\0';
    close(fd);
    return buf;
}

/* The body of an answer loopback_exchange returned ("" when it has none). */
static inline const char *loopback_body(const char *response)
{
    const char *b = strstr(response, "\r\n\r\n");
    return b ? b + 4 : "";
}

/* An answer taken apart: its status, its head (status line and headers) and its body as
 * JSON (NULL when it is not JSON; the caller json_decrefs it). */
typedef struct loopback_reply {
    int status;
    char head[2048];
    json_t *body;
} loopback_reply;

/* METHOD path with a JSON body (or none) and extra_headers (complete "Name: value\r\n"
 * lines, or NULL), Connection: close; the answer taken apart. */
static inline loopback_reply loopback_request(int port, const char *method, const char *path,
                                              const char *extra_headers, const char *body,
                                              int timeout_s)
{
    static char req[16384];
    snprintf(req, sizeof req,
             "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             method, path, extra_headers ? extra_headers : "", body ? strlen(body) : 0,
             body ? body : "");
    const char *answer = loopback_exchange(port, req, timeout_s);
    loopback_reply out = {0};
    sscanf(answer, "HTTP/1.1 %d", &out.status);
    const char *b = strstr(answer, "\r\n\r\n");
    size_t head_len = b ? (size_t)(b - answer) : strlen(answer);
    snprintf(out.head, sizeof out.head, "%.*s", (int)head_len, answer);
    out.body = b ? json_loads(b + 4, 0, NULL) : NULL;
    return out;
}

/* ---- the loopback upstream ------------------------------------------------------------- */

/* One request as the upstream received it (NUL-terminated; the body may be empty). */
typedef struct loopback_seen {
    char method[16];
    char target[1024];
    char head[4096]; /* the request line and headers */
    char body[8192];
} loopback_seen;

/* Fills *status and body (cap bytes; JSON unless *content_type says otherwise) for a
 * request. NULL handler: 200 with the request echoed as
 * {"method": ..., "target": ..., "body": ...}. */
typedef void (*loopback_answer)(void *ctx, const loopback_seen *rq, int *status,
                                const char **content_type, char *body, size_t cap);

#define LOOPBACK_MAX_CONNS 256

typedef struct loopback_upstream {
    int fd, port;
    pthread_t thread; /* accepts; each connection is served on a thread of its own */
    loopback_answer answer;
    void *ctx;
    atomic_int requests; /* answered so far */
    loopback_seen last;  /* the last request (read it once the answer has come back) */
    pthread_mutex_t mu;  /* guards last and conns */
    pthread_t conns[LOOPBACK_MAX_CONNS];
    int n_conns;
} loopback_upstream;

/* Reads one request from c into rq: the head, then Content-Length bytes of body. */
static inline bool loopback_read_request(int c, loopback_seen *rq)
{
    char buf[sizeof rq->head + sizeof rq->body];
    size_t n = 0;
    char *end = NULL;
    while (!end && n < sizeof buf - 1) {
        ssize_t r = read(c, buf + n, sizeof buf - 1 - n);
        if (r <= 0) return false;
        n += (size_t)r;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end) return false;
    size_t head_len = (size_t)(end - buf);
    snprintf(rq->head, sizeof rq->head, "%.*s", (int)head_len, buf);
    sscanf(buf, "%15s %1023s", rq->method, rq->target);
    const char *cl = strcasestr(rq->head, "\r\nContent-Length:");
    size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
    if (want > sizeof rq->body - 1) return false;
    size_t have = n - head_len - 4;
    while (have < want) {
        ssize_t r = read(c, buf + n, sizeof buf - 1 - n);
        if (r <= 0) return false;
        n += (size_t)r;
        have += (size_t)r;
    }
    memcpy(rq->body, end + 4, want);
    rq->body[want] = '\0';
    return true;
}

static inline const char *loopback_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Other";
    }
}

typedef struct loopback_conn {
    loopback_upstream *u;
    int fd;
} loopback_conn;

/* One connection: one request, its answer, close. */
static inline void *loopback_serve(void *arg)
{
    loopback_conn *lc = arg;
    loopback_upstream *u = lc->u;
    int c = lc->fd;
    free(lc);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    loopback_seen *rq = calloc(1, sizeof *rq);
    size_t cap = 16384;
    char *body = malloc(cap);
    if (rq && body && loopback_read_request(c, rq)) {
        int status = 200;
        const char *type = "application/json";
        body[0] = '\0';
        if (u->answer) {
            u->answer(u->ctx, rq, &status, &type, body, cap);
        } else {
            json_t *echo = json_pack("{s:s, s:s, s:s}", "method", rq->method, "target", rq->target,
                                     "body", rq->body);
            char *text = json_dumps(echo, JSON_COMPACT);
            snprintf(body, cap, "%s", text ? text : "{}");
            free(text);
            json_decref(echo);
        }
        pthread_mutex_lock(&u->mu);
        u->last = *rq;
        pthread_mutex_unlock(&u->mu);
        char head[256];
        int hl = snprintf(head, sizeof head,
                          "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                          "Connection: close\r\n\r\n",
                          status, loopback_reason(status), type, strlen(body));
        atomic_fetch_add(&u->requests, 1);
        /* MSG_NOSIGNAL: a client that gave up must not end the test with SIGPIPE */
        if (send(c, head, (size_t)hl, MSG_NOSIGNAL) == hl &&
            send(c, body, strlen(body), MSG_NOSIGNAL) < 0) {}
    }
    free(rq);
    free(body);
    close(c);
    return NULL;
}

static inline void *loopback_upstream_run(void *arg)
{
    loopback_upstream *u = arg;
    for (;;) {
        int c = accept4(u->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) return NULL; /* shut down */
        loopback_conn *lc = malloc(sizeof *lc);
        if (!lc) {
            close(c);
            continue;
        }
        *lc = (loopback_conn){u, c};
        pthread_mutex_lock(&u->mu);
        bool room = u->n_conns < LOOPBACK_MAX_CONNS &&
                    pthread_create(&u->conns[u->n_conns], NULL, loopback_serve, lc) == 0;
        if (room) u->n_conns++;
        pthread_mutex_unlock(&u->mu);
        if (!room) loopback_serve(lc); /* no thread to spare: serve it here */
    }
}

/* A listening socket on a kernel-picked port of 127.0.0.1: its fd, the port in *port. */
static inline int loopback_listen(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Starts u on a kernel-picked port of 127.0.0.1 (u->port); answer may be NULL (echo). */
static inline void loopback_upstream_start(loopback_upstream *u, loopback_answer answer, void *ctx)
{
    memset(u, 0, sizeof *u);
    u->answer = answer;
    u->ctx = ctx;
    pthread_mutex_init(&u->mu, NULL);
    u->fd = loopback_listen(&u->port);
    assert_int_equal(pthread_create(&u->thread, NULL, loopback_upstream_run, u), 0);
}

/* Stops u: accept returns once the socket is shut down; every thread is joined (a request
 * still being answered is answered first). */
static inline void loopback_upstream_stop(loopback_upstream *u)
{
    shutdown(u->fd, SHUT_RDWR);
    pthread_join(u->thread, NULL);
    close(u->fd);
    for (int i = 0; i < u->n_conns; i++) pthread_join(u->conns[i], NULL);
    pthread_mutex_destroy(&u->mu);
}

#endif
