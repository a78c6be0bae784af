/*
 * fuzz_h1_server.c — libFuzzer target for capgate's HTTP/1.1 server (src/net/h1_server.c),
 * through a real loopback connection: the input is sent as raw bytes by a client, which then
 * shuts down its sending side; the server parses, dispatches and answers on a real cg_loop
 * until it closes the connection.
 *
 * The handlers exercise every way of answering: a path starting "/h" is answered from
 * on_head (before the body), "/l" later from a loop timer (the path an upstream call
 * takes), "/s" as a streamed (chunked) answer, anything else from on_body, echoing the body
 * and a query parameter. ASan checks
 * the parser's in-place slicing, the body/pipelining buffer moves and the chunked decoder.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>

#include "loopback.h"
#include "net/h1_server.h"
#include "net/loop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cg_loop *loop;
static cg_h1s *server;
static size_t received;

static void respond_echo(cg_h1s_request *rq)
{
    size_t len;
    const char *body = cg_h1s_body(rq, &len);
    const char *q = cg_h1s_query(rq, "project");
    static const cg_h1s_header hdr[] = {{"Content-Type", "text/plain"}, {"X-Q", NULL}};
    cg_h1s_header h[2] = {hdr[0], {"X-Q", q}};
    char *copy = len ? malloc(len) : NULL;
    if (copy) memcpy(copy, body, len);
    cg_h1s_respond(rq, cg_h1s_body_too_large(rq) ? 413 : 200, h, q ? 2 : 1, copy, copy ? len : 0,
                   free);
}

/* The body back as a streamed answer, in two chunks. */
static void stream_echo(cg_h1s_request *rq)
{
    size_t len;
    const char *body = cg_h1s_body(rq, &len);
    static const cg_h1s_header hdr[] = {{"Content-Type", "text/event-stream"}};
    if (cg_h1s_stream_begin(rq, 200, hdr, 1) < 0) return;
    cg_h1s_stream_write(rq, body, len / 2);
    cg_h1s_stream_write(rq, body ? body + len / 2 : NULL, len - len / 2);
    cg_h1s_stream_end(rq);
}

static void on_later(cg_loop *l, void *arg)
{
    respond_echo(arg);
}

static void on_head(void *ctx, cg_h1s_request *rq)
{
    const char *p = cg_h1s_path(rq);
    (void)cg_h1s_header_value(rq, "Content-Type");
    if (!strncmp(p, "/h", 2)) cg_h1s_respond(rq, 404, NULL, 0, "no", 2, NULL);
}

static uint64_t pending_timer;

static void on_body(void *ctx, cg_h1s_request *rq)
{
    if (!strncmp(cg_h1s_path(rq), "/l", 2)) {
        pending_timer = cg_loop_timer_add(loop, 0, on_later, rq);
        cg_h1s_set_data(rq, &pending_timer);
    } else if (!strncmp(cg_h1s_path(rq), "/s", 2)) {
        stream_echo(rq);
    } else {
        respond_echo(rq);
    }
}

static void on_end(void *ctx, cg_h1s_request *rq)
{
    /* the connection may die while a late answer is pending */
    if (cg_h1s_data(rq) == &pending_timer) cg_loop_timer_cancel(loop, pending_timer);
}

static void on_client(cg_loop *l, int fd, unsigned events, void *arg)
{
    char buf[65536];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            received += (size_t)n;
            continue;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) cg_loop_break(l);
        return;
    }
}

static void on_deadline(cg_loop *l, void *arg)
{
    cg_loop_break(l);
}

static void init(void)
{
    if (server) return;
    loop = cg_loop_create(NULL, 0);
    static const cg_h1s_handlers h = {on_head, on_body, on_end, NULL};
    cg_h1s_options o = {.address = "127.0.0.1", .port = 0, .max_body = 4096, .idle_timeout_s = 5};
    char err[256];
    server = loop ? cg_h1s_start(loop, &o, &h, NULL, err, sizeof err) : NULL;
    if (!server) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    int fd = loopback_connect(cg_h1s_port(server));
    loopback_send_input(fd, data, size);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    if (cg_loop_io_set(loop, fd, CG_LOOP_READ, on_client, NULL) < 0) abort();
    uint64_t t = cg_loop_timer_add(loop, 2000, on_deadline, NULL);
    cg_loop_run(loop);
    cg_loop_timer_cancel(loop, t);
    cg_loop_io_remove(loop, fd);
    loopback_close(fd);
    return 0;
}
