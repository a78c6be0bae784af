/* Unit tests for src/mlbackend/lsclient.c, against a one-shot HTTP server on loopback: the
 * export request it sends (path, credentials), the body it returns, and errors that never
 * show the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "one_shot.h"

#include "mlbackend/lsclient.h"

static void export_sends_the_legacy_key_and_returns_the_body(void **state)
{
    one_shot s;
    one_shot_start(&s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                       "Content-Length: 15\r\nConnection: close\r\n\r\n[{\"id\": 1}, {}]");
    char url[64], err[256] = "";
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    cg_buf out = CG_BUF_INIT;
    assert_int_equal(cg_lsclient_export(url, "abc123", 7, 5, NULL, &out, err, sizeof err), 0);
    one_shot_stop(&s);
    assert_string_equal(out.data, "[{\"id\": 1}, {}]");
    assert_non_null(strstr(s.request, "GET /api/projects/7/export?exportType=JSON HTTP/1.1\r\n"));
    assert_non_null(strstr(s.request, "Authorization: Token abc123\r\n"));
    cg_buf_free(&out);
}

static void export_errors_name_the_status_not_the_key(void **state)
{
    one_shot s;
    one_shot_start(
        &s, "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
            "Content-Length: 27\r\nConnection: close\r\n\r\n{\"detail\": \"Invalid token\"}");
    char url[64], err[256] = "";
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    cg_buf out = CG_BUF_INIT;
    assert_int_equal(cg_lsclient_export(url, "secret-key-42", 7, 5, NULL, &out, err, sizeof err),
                     -1);
    one_shot_stop(&s);
    assert_non_null(strstr(err, "401"));
    assert_null(strstr(err, "secret-key-42"));
    cg_buf_free(&out);
}

static void export_to_a_closed_port_fails_without_the_key(void **state)
{
    one_shot s;
    one_shot_start(&s, "");
    one_shot_stop(&s); /* nothing listens there now */
    char url[64], err[256] = "";
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    cg_buf out = CG_BUF_INIT;
    assert_int_equal(cg_lsclient_export(url, "secret-key-42", 7, 5, NULL, &out, err, sizeof err),
                     -1);
    assert_true(err[0] != 0);
    assert_null(strstr(err, "secret-key-42"));
    cg_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(export_sends_the_legacy_key_and_returns_the_body),
        cmocka_unit_test(export_errors_name_the_status_not_the_key),
        cmocka_unit_test(export_to_a_closed_port_fails_without_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
