/*
 * tests/unit/loopback.h — the client side of the unit tests that talk to a real server on
 * 127.0.0.1: one request on a new connection, read until the server closes it. Header-only
 * (static inline), included by the test programs that need it; cmocka must be included first.
 */
#ifndef CG_TEST_LOOPBACK_H
#define CG_TEST_LOOPBACK_H

#include <jansson.h>
#include <netinet/in.h>
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

#endif
