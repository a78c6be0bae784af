/* Unit tests for src/net/h1_json.c through real sockets: a cg_h1j server runs on a loop in a
 * thread of its own and each test is a blocking client. Covered: a JSON answer (no-store), a
 * problem+json answer naming the path as its instance, the 413 for a body over the limit
 * (the route never runs), out of memory while building an answer (a fixed 500 problem), and
 * the done callback after each request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loop_thread.h"
#include "loopback.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "net/h1_json.h"
#include "net/loop.h"

typedef struct fixture {
    cg_loop *loop;
    cg_h1j_server http;
    pthread_t thread;
    atomic_int routed, done;
} fixture;

/* /json → {"ok":true}; /oom → a NULL document; anything else → 404 problem+json. */
static void route(void *ctx, cg_h1s_request *rq)
{
    fixture *f = ctx;
    atomic_fetch_add(&f->routed, 1);
    if (!strcmp(cg_h1s_path(rq), "/json")) cg_h1j_send(rq, 200, NULL, json_pack("{s:b}", "ok", 1));
    else if (!strcmp(cg_h1s_path(rq), "/oom")) cg_h1j_send(rq, 200, NULL, NULL);
    else cg_h1j_problem(rq, 404, "not-found", "Not Found", "no such thing");
}

static void done(void *ctx, cg_h1s_request *rq)
{
    fixture *f = ctx;
    atomic_fetch_add(&f->done, 1);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    f->loop = cg_loop_create(err, sizeof err);
    f->http = (cg_h1j_server){
        .too_large = "at most 16 bytes", .route = route, .done = done, .ctx = f};
    if (!f->loop || cg_h1j_start(&f->http, f->loop, NULL, 0, 16, 5, err, sizeof err) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    loop_thread_start(f->loop, &f->thread);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    loop_thread_stop(f->loop, f->thread);
    cg_h1s_stop(f->http.h1);
    cg_loop_free(f->loop);
    free(f);
    return 0;
}

static char *exchange(int port, const char *request)
{
    return loopback_exchange(port, request, 2);
}

static void json_answer_is_not_cached(void **state)
{
    fixture *f = *state;
    char *r = exchange(f->http.port, "GET /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 200 "));
    assert_non_null(strstr(r, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(r, "Cache-Control: no-store\r\n"));
    assert_string_equal(loopback_body(r), "{\"ok\":true}");
}

static void problem_names_the_path(void **state)
{
    fixture *f = *state;
    char *r = exchange(f->http.port, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 404 "));
    assert_non_null(strstr(r, "Content-Type: application/problem+json\r\n"));
    assert_string_equal(loopback_body(r),
                        "{\"type\":\"urn:capgate:problem:not-found\",\"title\":"
                        "\"Not Found\",\"status\":404,\"detail\":\"no such thing\","
                        "\"instance\":\"/nope\"}");
}

static void body_over_the_limit_is_413_without_routing(void **state)
{
    fixture *f = *state;
    char *r = exchange(f->http.port, "POST /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                     "Content-Length: 17\r\n\r\n0123456789abcdefg");
    assert_non_null(strstr(r, "HTTP/1.1 413 "));
    assert_non_null(strstr(loopback_body(r), "\"detail\":\"at most 16 bytes\""));
    assert_int_equal(atomic_load(&f->routed), 0);
}

static void out_of_memory_still_answers(void **state)
{
    fixture *f = *state;
    char *r = exchange(f->http.port, "GET /oom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 500 "));
    assert_string_equal(loopback_body(r), "{\"title\":\"Internal Server Error\",\"status\":500,"
                                          "\"detail\":\"out of memory\"}");
    exchange(f->http.port, "GET /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    for (int i = 0; i < 100 && atomic_load(&f->done) < 2; i++) usleep(10000);
    assert_int_equal(atomic_load(&f->done), 2); /* the done callback ran after each */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(json_answer_is_not_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(problem_names_the_path, setup, teardown),
        cmocka_unit_test_setup_teardown(body_over_the_limit_is_413_without_routing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(out_of_memory_still_answers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
