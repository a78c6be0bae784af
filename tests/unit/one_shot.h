/*
 * tests/unit/one_shot.h — the server side of the unit tests of capgate's blocking HTTP
 * clients: a loopback listener whose thread takes one connection, records the request and
 * answers with canned bytes, status line and headers included (or holds the connection
 * without answering), so each outcome of a client call is produced for real. (loopback.h's
 * upstream answers well-formed requests through a handler; this one sends what it is
 * given.) Header-only (static inline); cmocka must be included first.
 */
#ifndef CG_TEST_ONE_SHOT_H
#define CG_TEST_ONE_SHOT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "loopback.h"

typedef struct one_shot {
    int fd;
    int port;
    const char *answer; /* NULL: read the request, then hold the connection open (2 s) */
    char request[8192]; /* what the client sent, NUL-terminated */
    size_t request_len;
    pthread_t thread;
} one_shot;

/* Whether the request read so far is whole: its head and as much body as Content-Length
 * says. (Anything else ends when the client stops sending for 300 ms.) */
static inline bool one_shot_request_done(const one_shot *s)
{
    const char *end = strstr(s->request, "\r\n\r\n");
    if (!end) return false;
    const char *cl = strcasestr(s->request, "\r\nContent-Length:");
    size_t body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
    return s->request_len >= (size_t)(end + 4 - s->request) + body;
}

static inline void *one_shot_serve(void *arg)
{
    one_shot *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0) return NULL;
    struct timeval tv = {0, 300 * 1000};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n;
    while (s->request_len < sizeof s->request - 1 && !one_shot_request_done(s) &&
           (n = read(c, s->request + s->request_len, sizeof s->request - 1 - s->request_len)) > 0) {
        s->request_len += (size_t)n;
        s->request[s->request_len] = '\0';
    }
    if (s->answer) (void)!write(c, s->answer, strlen(s->answer));
    else sleep(2); /* longer than any test waits */
    close(c);
    return NULL;
}

/* Listens on a port of the kernel's choice (s->port) and serves one connection with
 * answer on a thread of its own. */
static inline void one_shot_start(one_shot *s, const char *answer)
{
    memset(s, 0, sizeof *s);
    s->answer = answer;
    s->fd = loopback_listen(&s->port);
    assert_int_equal(pthread_create(&s->thread, NULL, one_shot_serve, s), 0);
}

/* Waits for the connection to be served (at once when none came) and closes the port:
 * nothing listens there afterwards. */
static inline void one_shot_stop(one_shot *s)
{
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

#endif
