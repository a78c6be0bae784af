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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/http_client.h"

typedef struct server {
    int fd;
    int port;
    const char *answer; /* NULL: accept, read, then hold the connection open */
    char request[8192];
    size_t request_len;
    pthread_t thread;
} server;

static void *serve_once(void *arg)
{
    server *sv = arg;
    int c = accept(sv->fd, NULL, NULL);
    if (c < 0) return NULL;
    struct timeval tv = {0, 300 * 1000};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n;
    while (sv->request_len < sizeof sv->request - 1 &&
           (n = read(c, sv->request + sv->request_len, sizeof sv->request - 1 - sv->request_len)) >
               0)
        sv->request_len += (size_t)n;
    sv->request[sv->request_len] = '\0';
    if (sv->answer) (void)!write(c, sv->answer, strlen(sv->answer));
    else sleep(2); /* longer than any test waits */
    close(c);
    return NULL;
}

static void start(server *sv, const char *answer)
{
    memset(sv, 0, sizeof *sv);
    sv->answer = answer;
    sv->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(sv->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(sv->fd, 4), 0);
    socklen_t len = sizeof a;
    getsockname(sv->fd, (struct sockaddr *)&a, &len);
    sv->port = ntohs(a.sin_port);
    pthread_create(&sv->thread, NULL, serve_once, sv);
}

static void stop(server *sv)
{
    shutdown(sv->fd, SHUT_RDWR);
    pthread_join(sv->thread, NULL);
    close(sv->fd);
}

static void url_of(const server *sv, char *url, size_t n)
{
    snprintf(url, n, "http://127.0.0.1:%d/api/x?y=1", sv->port);
}

static void an_answer_arrives_with_status_reason_and_body(void **state)
{
    server sv;
    start(&sv, "HTTP/1.1 404 NOT FOUND\r\nContent-Length: 5\r\nConnection: close\r\n\r\nnope!");
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
    stop(&sv);
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
    start(&sv, "");
    char url[128];
    url_of(&sv, url, sizeof url);
    stop(&sv); /* nothing listens there any more */
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
    start(&sv, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789");
    char url[128];
    url_of(&sv, url, sizeof url);
    cg_http_request_spec rq = {.url = url, .max_body = 4, .timeout_ms = 5000};
    cg_http_answer a;
    assert_int_equal(cg_http_fetch(&rq, &a), -1);
    stop(&sv);
    assert_int_equal(a.outcome, CG_HTTP_TOO_LARGE);
    cg_http_answer_free(&a);
}

static void silence_is_a_read_timeout(void **state)
{
    server sv;
    start(&sv, NULL);
    char url[128];
    url_of(&sv, url, sizeof url);
    cg_http_request_spec rq = {.url = url, .connect_timeout_ms = 1000, .timeout_ms = 400};
    cg_http_answer a;
    assert_int_equal(cg_http_fetch(&rq, &a), -1);
    assert_int_equal(a.outcome, CG_HTTP_READ_TIMEOUT);
    cg_http_answer_free(&a);
    stop(&sv);
}

static void a_set_cancel_flag_stops_the_call(void **state)
{
    server sv;
    start(&sv, NULL);
    char url[128];
    url_of(&sv, url, sizeof url);
    atomic_int cancel = 1;
    cg_http_request_spec rq = {.url = url, .timeout_ms = 10000, .cancel = &cancel};
    cg_http_answer a;
    assert_int_equal(cg_http_fetch(&rq, &a), -1);
    assert_int_equal(a.outcome, CG_HTTP_CANCELLED);
    cg_http_answer_free(&a);
    stop(&sv);
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
