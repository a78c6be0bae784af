/*
 * Unit tests for src/common/http_client.c against a real loopback server: a one-shot
 * server thread that records the request and sends canned bytes (or nothing), so each
 * outcome (answer, refused, body over the cap, read timeout, cancel) is produced for real.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "one_shot.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/http_client.h"

typedef one_shot server;

static void url_of(const server *sv, char *url, size_t n)
{
    snprintf(url, n, "http://127.0.0.1:%d/api/x?y=1", sv->port);
}

static void an_answer_arrives_with_status_reason_and_body(void **state)
{
    server sv;
    one_shot_start(&sv,
                   "HTTP/1.1 404 NOT FOUND\r\nContent-Length: 5\r\nConnection: close\r\n\r\nnope!");
    char url[128];
    url_of(&sv, url, sizeof url);
    static const char *const headers[] = {"X-Test: yes", NULL};
    cg_http_request_spec rq = {.url = url,
                               .body = "{\"a\":1}",
                               .headers = headers,
                               .user_agent = "unit/1",
                               .timeout_ms = 5000};
    cg_http_answer a;
    assert_int_equal(cg_http_fetch(&rq, &a), 0);
    one_shot_stop(&sv);
    assert_int_equal(a.outcome, CG_HTTP_OK);
    assert_int_equal(a.status, 404);
    assert_string_equal(a.reason, "NOT FOUND");
    assert_string_equal(a.body.data, "nope!");
    assert_non_null(strstr(sv.request, "POST /api/x?y=1 HTTP/1.1\r\n"));
    assert_non_null(strstr(sv.request, "X-Test: yes\r\n"));
    assert_non_null(strstr(sv.request, "User-Agent: unit/1\r\n"));
    assert_null(strstr(sv.request, "Expect:"));
    assert_non_null(strstr(sv.request, "\r\n\r\n{\"a\":1}"));
    cg_http_answer_free(&a);
}

static void a_closed_port_is_refused(void **state)
{
    server sv;
    one_shot_start(&sv, "");
    char url[128];
    url_of(&sv, url, sizeof url);
    one_shot_stop(&sv); /* nothing listens there any more */
    cg_http_request_spec rq = {.url = url, .connect_retries = 1, .timeout_ms = 2000};
    cg_http_answer a;
    assert_int_equal(cg_http_fetch(&rq, &a), -1);
    assert_int_equal(a.outcome, CG_HTTP_REFUSED);
    assert_int_equal(a.status, 0);
    assert_true(a.what[0] != '\0');
    cg_http_answer_free(&a);
}

static void a_body_over_the_cap_is_too_large(void **state)
{
    server sv;
    one_shot_start(&sv,
                   "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789");
    char url[128];
    url_of(&sv, url, sizeof url);
    cg_http_request_spec rq = {.url = url, .max_body = 4, .timeout_ms = 5000};
    cg_http_answer a;
    assert_int_equal(cg_http_fetch(&rq, &a), -1);
    one_shot_stop(&sv);
    assert_int_equal(a.outcome, CG_HTTP_TOO_LARGE);
    cg_http_answer_free(&a);
}

static void silence_is_a_read_timeout(void **state)
{
    server sv;
    one_shot_start(&sv, NULL);
    char url[128];
    url_of(&sv, url, sizeof url);
    cg_http_request_spec rq = {.url = url, .connect_timeout_ms = 1000, .timeout_ms = 400};
    cg_http_answer a;
    assert_int_equal(cg_http_fetch(&rq, &a), -1);
    assert_int_equal(a.outcome, CG_HTTP_READ_TIMEOUT);
    cg_http_answer_free(&a);
    one_shot_stop(&sv);
}

static void a_set_cancel_flag_stops_the_call(void **state)
{
    server sv;
    one_shot_start(&sv, NULL);
    char url[128];
    url_of(&sv, url, sizeof url);
    atomic_int cancel = 1;
    cg_http_request_spec rq = {.url = url, .timeout_ms = 10000, .cancel = &cancel};
    cg_http_answer a;
    assert_int_equal(cg_http_fetch(&rq, &a), -1);
    assert_int_equal(a.outcome, CG_HTTP_CANCELLED);
    cg_http_answer_free(&a);
    one_shot_stop(&sv);
}

static void url_parts_fill_in_the_default_port(void **state)
{
    char scheme[16], host[256], port[16], path[1024];
    cg_http_url_parts("https://ml.example/a/b?c", scheme, host, port, path);
    assert_string_equal(scheme, "https");
    assert_string_equal(host, "ml.example");
    assert_string_equal(port, "443");
    assert_string_equal(path, "/a/b");
    cg_http_url_parts("not a url", scheme, host, port, path);
    assert_string_equal(host, "?");
    assert_string_equal(path, "/");
}

int main(void)
{
    cg_http_client_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_answer_arrives_with_status_reason_and_body),
        cmocka_unit_test(a_closed_port_is_refused),
        cmocka_unit_test(a_body_over_the_cap_is_too_large),
        cmocka_unit_test(silence_is_a_read_timeout),
        cmocka_unit_test(a_set_cancel_flag_stops_the_call),
        cmocka_unit_test(url_parts_fill_in_the_default_port),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cg_http_client_cleanup();
    return rc;
}
