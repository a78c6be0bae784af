/*
 * Unit tests for common/httpd.h through real requests on loopback: what the handler sees
 * (method, decoded path, query, headers case-insensitively, body, peer address), what the
 * client gets (status, content type, extra headers, the header limit), bodies over the limit
 * refused with 413 before the handler runs, and the start-up errors (bad address, port in
 * use).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "loopback.h"

#include <jansson.h>

#include "common/httpd.h"

#define MAX_BODY 64

typedef struct fixture {
    cg_httpd *d;
    int calls; /* handler runs (only the test thread reads it, after the answer) */
} fixture;

static void handler(void *ctx, const cg_http_request *req, cg_http_response *res)
{
    fixture *f = ctx;
    __atomic_add_fetch(&f->calls, 1, __ATOMIC_SEQ_CST);
    if (!strcmp(req->path, "/empty")) {
        res->status = 204;
        return;
    }
    if (!strcmp(req->path, "/text")) {
        res->content_type = "text/plain";
        cg_buf_append_str(&res->body, "plain words");
        return;
    }
    if (!strcmp(req->path, "/headers")) {
        int ok = 0;
        char name[16];
        for (int i = 0; i < CG_HTTP_MAX_EXTRA_HEADERS + 1; i++) {
            snprintf(name, sizeof name, "X-H%d", i);
            if (cg_http_response_header(res, name, "v") == 0) ok++;
        }
        char json[64];
        snprintf(json, sizeof json, "{\"added\":%d}", ok);
        cg_http_response_json(res, 201, json);
        return;
    }
    const char *q = cg_http_query(req, "q"), *h = cg_http_header(req, "x-test");
    json_t *o = json_pack("{s:s, s:s, s:s%, s:s?, s:s?, s:s?, s:s}", "method", req->method, "path",
                          req->path, "body", req->body, req->body_len, "q", q, "nul",
                          cg_http_query(req, "nul"), "x-test", h, "remote", req->remote_addr);
    char *text = json_dumps(o, JSON_COMPACT);
    cg_http_response_json(res, 200, text);
    cg_http_response_header(res, "X-Handled", "yes");
    free(text);
    json_decref(o);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    f->d = cg_httpd_start(NULL, 0, MAX_BODY, handler, f, err, sizeof err);
    if (!f->d) {
        print_error("%s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cg_httpd_stop(f->d);
    free(f);
    return 0;
}

static char *exchange(int port, const char *request)
{
    return loopback_exchange(port, request, 5);
}

static json_t *json_body(const char *response)
{
    json_t *j = json_loads(loopback_body(response), 0, NULL);
    if (!j) fail_msg("not JSON: %s", response);
    return j;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void test_get_with_query_and_header(void **state)
{
    fixture *f = *state;
    char *r = exchange(cg_httpd_port(f->d),
                       "GET /a%20b/c?q=one%20two&nul=x%00y HTTP/1.1\r\nHost: t\r\n"
                       "X-TEST: Shouted\r\nConnection: close\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.1 200", 12) == 0);
    assert_non_null(strstr(r, "Content-Type: application/json"));
    assert_non_null(strstr(r, "X-Handled: yes"));
    json_t *j = json_body(r);
    assert_string_equal(str(j, "method"), "GET");
    assert_string_equal(str(j, "path"), "/a b/c");
    assert_string_equal(str(j, "q"), "one two");
    assert_string_equal(str(j, "nul"), "x%00y"); /* %00 stays encoded: no cut strings */
    assert_string_equal(str(j, "x-test"), "Shouted");
    assert_string_equal(str(j, "remote"), "127.0.0.1");
    assert_string_equal(str(j, "body"), "");
    json_decref(j);
}

static void test_post_body(void **state)
{
    fixture *f = *state;
    char *r = exchange(cg_httpd_port(f->d),
                       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                       "Content-Length: 13\r\nConnection: close\r\n\r\n{\"a\":[1,2,3]}");
    json_t *j = json_body(r);
    assert_string_equal(str(j, "method"), "POST");
    assert_string_equal(str(j, "body"), "{\"a\":[1,2,3]}");
    assert_true(json_is_null(json_object_get(j, "q"))); /* no such query argument */
    json_decref(j);
}

static void test_body_over_the_limit_is_413(void **state)
{
    fixture *f = *state;
    int before = __atomic_load_n(&f->calls, __ATOMIC_SEQ_CST);
    char req[512], body[MAX_BODY + 2];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    snprintf(req, sizeof req,
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             strlen(body), body);
    char *r = exchange(cg_httpd_port(f->d), req);
    assert_true(strncmp(r, "HTTP/1.1 413", 12) == 0);
    assert_string_equal(loopback_body(r), "{\"detail\":\"Request body too large.\"}");
    assert_int_equal(__atomic_load_n(&f->calls, __ATOMIC_SEQ_CST), before); /* not run */
    /* exactly the limit is fine */
    body[MAX_BODY] = '\0';
    snprintf(req, sizeof req,
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
             "Connection: close\r\n\r\n%s",
             MAX_BODY, body);
    r = exchange(cg_httpd_port(f->d), req);
    assert_true(strncmp(r, "HTTP/1.1 200", 12) == 0);
    assert_int_equal(__atomic_load_n(&f->calls, __ATOMIC_SEQ_CST), before + 1);
}

static void test_status_content_type_and_header_limit(void **state)
{
    fixture *f = *state;
    int port = cg_httpd_port(f->d);
    char *r = exchange(port, "GET /empty HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.1 204", 12) == 0);
    assert_null(strstr(r, "Content-Type")); /* no body, no content type */
    r = exchange(port, "GET /text HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_non_null(strstr(r, "Content-Type: text/plain"));
    assert_string_equal(loopback_body(r), "plain words");
    r = exchange(port, "GET /headers HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.1 201", 12) == 0);
    char want[32];
    snprintf(want, sizeof want, "{\"added\":%d}", CG_HTTP_MAX_EXTRA_HEADERS);
    assert_string_equal(loopback_body(r), want);
    assert_non_null(strstr(r, "X-H7: v"));
    assert_null(strstr(r, "X-H8"));
}

static void test_start_errors(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    assert_true(cg_httpd_port(f->d) > 0);
    assert_null(cg_httpd_start("::1", 0, 0, handler, f, err, sizeof err));
    assert_non_null(strstr(err, "invalid listen address '::1'"));
    err[0] = 0;
    assert_null(cg_httpd_start("127.0.0.1", cg_httpd_port(f->d), 0, handler, f, err, sizeof err));
    char want[64];
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:%d", cg_httpd_port(f->d));
    assert_non_null(strstr(err, want));
    cg_httpd_stop(NULL); /* fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_with_query_and_header),
        cmocka_unit_test(test_post_body),
        cmocka_unit_test(test_body_over_the_limit_is_413),
        cmocka_unit_test(test_status_content_type_and_header_limit),
        cmocka_unit_test(test_start_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
