/* Unit tests for src/net/h1_server.c, capgate's own HTTP/1.1 server, through real
 * sockets: the server runs on a loop in a thread of its own; each test is the client, with
 * blocking sockets and receive timeouts. Covered here: streamed answers (chunked framing,
 * HTTP/1.0 close-delimited framing, keep-alive and pipelining after a stream, HEAD, a peer
 * that hangs up mid-stream, a stream that outlives the idle timeout while an idle
 * connection does not) and prompt refusals of request lines that cannot be HTTP/1.x. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "net/h1_server.h"
#include "net/loop.h"

#define IDLE_S 1

/* What the handlers saw; written on the loop thread, read by the test after a wait. */
typedef struct seen {
    atomic_int ends;            /* on_end calls */
    atomic_int write_after_end; /* what cg_h1s_stream_write returned after end (expect -1) */
    atomic_int respond_after_begin;
    atomic_int rejects;
} seen;

typedef struct fixture {
    cg_loop *loop;
    cg_h1s *server;
    int port;
    pthread_t thread;
    seen seen;
    cg_h1s_request *forever; /* the /forever stream while it is open */
    uint64_t forever_timer;
} fixture;

static const cg_h1s_header sse_type[] = {{"Content-Type", "text/event-stream"}};

/* ---- the server side ------------------------------------------------------------------ */

static void on_head(void *ctx, cg_h1s_request *rq) {}

static void later_world(cg_loop *loop, void *arg)
{
    cg_h1s_stream_write(arg, "world!", 6);
}

static void later_end(cg_loop *loop, void *arg)
{
    cg_h1s_request *rq = arg;
    cg_h1s_stream_end(rq);
}

static void later_late(cg_loop *loop, void *arg)
{
    cg_h1s_request *rq = arg;
    cg_h1s_stream_write(rq, "late", 4);
    cg_h1s_stream_end(rq);
}

static void forever_tick(cg_loop *loop, void *arg)
{
    fixture *f = arg;
    f->forever_timer = 0;
    if (!f->forever) return;
    if (cg_h1s_stream_write(f->forever, "x", 1) < 0) return; /* over: on_end cleared it */
    f->forever_timer = cg_loop_timer_add(loop, 20, forever_tick, f);
}

static void on_body(void *ctx, cg_h1s_request *rq)
{
    fixture *f = ctx;
    const char *path = cg_h1s_path(rq);
    if (!strcmp(path, "/plain")) {
        static const cg_h1s_header t[] = {{"Content-Type", "text/plain"}};
        cg_h1s_respond(rq, 200, t, 1, "ok", 2, NULL);
    } else if (!strcmp(path, "/stream")) {
        /* "hello" from inside the handler, "world!" and the end later, from the loop */
        cg_h1s_stream_begin(rq, 200, sse_type, 1);
        cg_h1s_stream_write(rq, "hello", 5);
        atomic_store(&f->seen.respond_after_begin, cg_h1s_respond(rq, 200, NULL, 0, NULL, 0, NULL));
        cg_loop_timer_add(f->loop, 30, later_world, rq);
        cg_loop_timer_add(f->loop, 60, later_end, rq);
    } else if (!strcmp(path, "/quiet")) {
        /* silent for longer than the idle timeout, then one more chunk and the end */
        cg_h1s_stream_begin(rq, 200, sse_type, 1);
        cg_h1s_stream_write(rq, "a", 1);
        cg_loop_timer_add(f->loop, IDLE_S * 2500, later_late, rq);
    } else if (!strcmp(path, "/forever")) {
        cg_h1s_stream_begin(rq, 200, sse_type, 1);
        f->forever = rq;
        f->forever_timer = cg_loop_timer_add(f->loop, 20, forever_tick, f);
    } else if (!strcmp(path, "/ended")) {
        cg_h1s_stream_begin(rq, 200, sse_type, 1);
        cg_h1s_stream_write(rq, "z", 1);
        cg_h1s_stream_end(rq);
        atomic_store(&f->seen.write_after_end, cg_h1s_stream_write(rq, "y", 1));
    } else {
        cg_h1s_respond(rq, 404, NULL, 0, NULL, 0, NULL);
    }
}

static void on_end(void *ctx, cg_h1s_request *rq)
{
    fixture *f = ctx;
    if (f->forever == rq) {
        f->forever = NULL;
        cg_loop_timer_cancel(f->loop, f->forever_timer);
        f->forever_timer = 0;
    }
    atomic_fetch_add(&f->seen.ends, 1);
}

static void on_reject(void *ctx, int status)
{
    fixture *f = ctx;
    atomic_fetch_add(&f->seen.rejects, 1);
}

static void *run_loop(void *arg)
{
    fixture *f = arg;
    cg_loop_run(f->loop);
    return NULL;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->loop = cg_loop_create(NULL, 0);
    cg_h1s_options o = {
        .address = "127.0.0.1", .port = 0, .max_body = 1024, .idle_timeout_s = IDLE_S};
    static const cg_h1s_handlers h = {on_head, on_body, on_end, on_reject};
    char err[200];
    f->server = cg_h1s_start(f->loop, &o, &h, f, err, sizeof err);
    if (!f->server) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    f->port = cg_h1s_port(f->server);
    pthread_create(&f->thread, NULL, run_loop, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cg_loop_request_stop(f->loop); /* no stop callback: the loop returns */
    pthread_join(f->thread, NULL);
    cg_h1s_stop(f->server);
    cg_loop_free(f->loop);
    free(f);
    return 0;
}

/* ---- the client side ------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads until needle has arrived (then returns the bytes so far), the peer closes
 * (*closed), or 5 s pass. */
static size_t read_until(int fd, char *buf, size_t cap, const char *needle, bool *closed)
{
    size_t len = 0;
    *closed = false;
    buf[0] = '\0';
    while (len < cap - 1) {
        if (needle && strstr(buf, needle)) break;
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0) {
            *closed = n == 0;
            break;
        }
        len += (size_t)n;
        buf[len] = '\0';
    }
    return len;
}

static void wait_ends(fixture *f, int n)
{
    for (int i = 0; i < 300 && atomic_load(&f->seen.ends) < n; i++) usleep(10000);
    assert_int_equal(atomic_load(&f->seen.ends), n);
}

/* ---- streamed answers ------------------------------------------------------------------- */

static void stream_is_chunked_and_the_connection_serves_on(void **state)
{
    fixture *f = *state;
    int fd = connect_to(f->port);
    send_all(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", 33);
    char buf[4096];
    bool closed;
    read_until(fd, buf, sizeof buf, "0\r\n\r\n", &closed);
    assert_false(closed);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "Transfer-Encoding: chunked\r\n"));
    assert_non_null(strstr(buf, "Content-Type: text/event-stream\r\n"));
    assert_null(strstr(buf, "Content-Length"));
    assert_null(strstr(buf, "Connection: close"));
    const char *body = strstr(buf, "\r\n\r\n") + 4;
    assert_string_equal(body, "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n");
    assert_int_equal(atomic_load(&f->seen.respond_after_begin), -1);
    wait_ends(f, 1);
    /* the same connection takes the next request */
    send_all(fd, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n", 32);
    read_until(fd, buf, sizeof buf, "\r\n\r\nok", &closed);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "Content-Length: 2\r\n"));
    close(fd);
}

static void pipelined_request_waits_for_the_stream(void **state)
{
    fixture *f = *state;
    int fd = connect_to(f->port);
    const char both[] =
        "GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /plain HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fd, both, sizeof both - 1);
    char buf[4096];
    bool closed;
    read_until(fd, buf, sizeof buf, "\r\n\r\nok", &closed);
    char *stream_end = strstr(buf, "0\r\n\r\n");
    char *second = strstr(buf, "Content-Length: 2");
    assert_non_null(stream_end);
    assert_non_null(second);
    assert_true(stream_end < second); /* in order, never interleaved */
    close(fd);
}

static void stream_for_http10_is_close_delimited(void **state)
{
    fixture *f = *state;
    int fd = connect_to(f->port);
    send_all(fd, "GET /stream HTTP/1.0\r\n\r\n", 24);
    char buf[4096];
    bool closed;
    read_until(fd, buf, sizeof buf, NULL, &closed);
    assert_true(closed);
    assert_non_null(strstr(buf, "Connection: close\r\n"));
    assert_null(strstr(buf, "Transfer-Encoding"));
    assert_null(strstr(buf, "Content-Length"));
    assert_string_equal(strstr(buf, "\r\n\r\n") + 4, "helloworld!");
    close(fd);
}

static void stream_for_head_sends_the_head_only(void **state)
{
    fixture *f = *state;
    int fd = connect_to(f->port);
    send_all(fd, "HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /plain HTTP/1.1\r\nHost: x\r\n\r\n",
             66);
    char buf[4096];
    bool closed;
    read_until(fd, buf, sizeof buf, "\r\n\r\nok", &closed);
    assert_non_null(strstr(buf, "Transfer-Encoding: chunked\r\n"));
    assert_null(strstr(buf, "hello"));
    /* the second answer follows the first head directly */
    char *first_end = strstr(buf, "\r\n\r\n");
    assert_true(!strncmp(first_end + 4, "HTTP/1.1 200 OK\r\n", 17));
    close(fd);
}

static void write_after_end_is_refused(void **state)
{
    fixture *f = *state;
    atomic_store(&f->seen.write_after_end, 99);
    int fd = connect_to(f->port);
    send_all(fd, "GET /ended HTTP/1.1\r\nHost: x\r\n\r\n", 32);
    char buf[1024];
    bool closed;
    read_until(fd, buf, sizeof buf, "0\r\n\r\n", &closed);
    assert_string_equal(strstr(buf, "\r\n\r\n") + 4, "1\r\nz\r\n0\r\n\r\n");
    assert_int_equal(atomic_load(&f->seen.write_after_end), -1);
    close(fd);
}

static void peer_hanging_up_ends_the_stream(void **state)
{
    fixture *f = *state;
    int fd = connect_to(f->port);
    send_all(fd, "GET /forever HTTP/1.1\r\nHost: x\r\n\r\n", 34);
    char buf[4096];
    bool closed;
    read_until(fd, buf, sizeof buf, "1\r\nx\r\n1\r\nx\r\n", &closed);
    assert_false(closed);
    assert_int_equal(atomic_load(&f->seen.ends), 0);
    double t0 = now_s();
    close(fd);
    wait_ends(f, 1);                    /* on_end ran: the handler's timer stopped */
    assert_true(now_s() - t0 < IDLE_S); /* seen at once, not at the idle sweep */
}

static void open_stream_outlives_the_idle_timeout(void **state)
{
    fixture *f = *state;
    int idle = connect_to(f->port); /* control: an idle connection is closed */
    int fd = connect_to(f->port);
    send_all(fd, "GET /quiet HTTP/1.1\r\nHost: x\r\n\r\n", 32);
    char buf[4096];
    bool closed;
    read_until(fd, buf, sizeof buf, "1\r\na\r\n", &closed);
    assert_false(closed);
    double t0 = now_s();
    read_until(fd, buf, sizeof buf, "0\r\n\r\n", &closed);
    assert_false(closed);
    assert_true(now_s() - t0 > IDLE_S * 2);
    assert_string_equal(buf, "4\r\nlate\r\n0\r\n\r\n");
    char one;
    assert_int_equal(recv(idle, &one, 1, 0), 0); /* closed by the sweep long ago */
    close(idle);
    close(fd);
}

/* ---- prompt refusals ----------------------------------------------------------------- */

/* Sends bytes that cannot start an HTTP/1.x request; expects a 400 well before the idle
 * timeout, and the connection closed. */
static void expect_prompt_400(fixture *f, const char *bytes, size_t n)
{
    int fd = connect_to(f->port);
    double t0 = now_s();
    send_all(fd, bytes, n);
    char buf[2048];
    bool closed;
    read_until(fd, buf, sizeof buf, NULL, &closed);
    assert_true(closed);
    assert_true(now_s() - t0 < IDLE_S * 0.5);
    assert_true(!strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26));
    assert_non_null(strstr(buf, "Content-Type: application/problem+json\r\n"));
    assert_non_null(strstr(buf, "\"status\":400"));
    close(fd);
}

static void request_line_without_version_is_refused_at_once(void **state)
{
    expect_prompt_400(*state, "GET /\r\n", 7);
    expect_prompt_400(*state, "GET /index.html\n", 16);
}

static void tls_client_hello_is_refused_at_once(void **state)
{
    /* the start of a TLS 1.2 ClientHello record */
    static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xaa\xbb";
    expect_prompt_400(*state, hello, sizeof hello - 1);
}

static void binary_bytes_are_refused_at_once(void **state)
{
    expect_prompt_400(*state, "GET\x01/ HTTP/1.1", 14);
    expect_prompt_400(*state, "GET /a\x7f", 7);
    expect_prompt_400(*state, "\x00\x00\x00\x00", 4);
}

static void partial_but_plausible_line_waits(void **state)
{
    fixture *f = *state;
    int fd = connect_to(f->port);
    send_all(fd, "GET /plain HTTP/1.", 18);
    usleep(200000);
    send_all(fd, "1\r\nHost: x\r\n\r\n", 14);
    char buf[1024];
    bool closed;
    read_until(fd, buf, sizeof buf, "\r\n\r\nok", &closed);
    assert_true(!strncmp(buf, "HTTP/1.1 200 OK\r\n", 17));
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(stream_is_chunked_and_the_connection_serves_on, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(pipelined_request_waits_for_the_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(stream_for_http10_is_close_delimited, setup, teardown),
        cmocka_unit_test_setup_teardown(stream_for_head_sends_the_head_only, setup, teardown),
        cmocka_unit_test_setup_teardown(write_after_end_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(peer_hanging_up_ends_the_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(open_stream_outlives_the_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(request_line_without_version_is_refused_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(tls_client_hello_is_refused_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(binary_bytes_are_refused_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(partial_but_plausible_line_waits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
