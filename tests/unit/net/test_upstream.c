/* Unit tests for src/net/upstream.c: failure reporting (refused connections, after the
 * retries of idempotent calls) and cancellation, against a port nobody listens on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/loop.h"
#include "net/upstream.h"

typedef struct up_result {
    cg_upstream_result result;
    int attempts;
    int calls;
} up_result;

static void on_up_done(void *arg, cg_upstream_response *res)
{
    up_result *r = arg;
    r->result = res->result;
    r->attempts = res->attempts;
    r->calls++;
}

static void stop_when_done(cg_loop *l, void *arg)
{
    up_result *r = arg;
    if (r->calls) cg_loop_break(l);
    else cg_loop_timer_add(l, 5, stop_when_done, r);
}

/* A port nobody listens on: bind, read the port, close. */
static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

static void upstream_reports_refused_connections_after_retrying_idempotent_calls(void **state)
{
    cg_loop *l = cg_loop_create(NULL, 0);
    cg_upstream_config cfg = {.retries = 2, .retry_backoff_ms = 5};
    cg_upstream *up = cg_upstream_create(l, &cfg, NULL, 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", closed_port());
    up_result get = {0}, post = {0};
    cg_upstream_request req = {.method = "GET", .url = url, .idempotent = true};
    assert_non_null(cg_upstream_submit(up, &req, on_up_done, &get));
    assert_int_equal(get.calls, 0); /* never inside submit */
    req.method = "POST";
    req.idempotent = false;
    req.body = "{}";
    req.body_len = 2;
    assert_non_null(cg_upstream_submit(up, &req, on_up_done, &post));
    cg_loop_timer_add(l, 5, stop_when_done, &get);
    cg_loop_run(l);
    if (!post.calls) {
        cg_loop_timer_add(l, 5, stop_when_done, &post);
        cg_loop_run(l);
    }
    assert_int_equal(get.result, CG_UPSTREAM_UNREACHABLE);
    assert_int_equal(get.attempts, 3);
    assert_int_equal(post.result, CG_UPSTREAM_UNREACHABLE);
    assert_int_equal(post.attempts, 1);
    assert_int_equal(cg_upstream_pending(up), 0);
    cg_upstream_free(up);
    cg_loop_free(l);
}

static void break_loop(cg_loop *l, void *arg)
{
    cg_loop_break(l);
}

static void upstream_cancel_suppresses_the_callback(void **state)
{
    cg_loop *l = cg_loop_create(NULL, 0);
    cg_upstream_config cfg = {.max_in_flight = 1};
    cg_upstream *up = cg_upstream_create(l, &cfg, NULL, 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", closed_port());
    up_result a = {0}, b = {0};
    cg_upstream_request req = {.method = "GET", .url = url};
    cg_upstream_transfer *ta = cg_upstream_submit(up, &req, on_up_done, &a);
    cg_upstream_transfer *tb = cg_upstream_submit(up, &req, on_up_done, &b); /* queued */
    assert_int_equal(cg_upstream_pending(up), 2);
    cg_upstream_cancel(tb);
    assert_int_equal(cg_upstream_pending(up), 1);
    cg_upstream_cancel(ta);
    assert_int_equal(cg_upstream_pending(up), 0);
    cg_loop_timer_add(l, 50, break_loop, NULL);
    cg_loop_run(l);
    assert_int_equal(a.calls + b.calls, 0);
    cg_upstream_free(up);
    cg_loop_free(l);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(upstream_reports_refused_connections_after_retrying_idempotent_calls),
        cmocka_unit_test(upstream_cancel_suppresses_the_callback),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
