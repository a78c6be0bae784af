/*
 * Unit tests for studio/mlclient.h (src/studio/mlclient.c) against a tiny ML backend on
 * loopback (the loopback upstream of loopback.h): the route joined to a base URL with or
 * without a path prefix, User-Agent heartex/<version>, JSON bodies, basic auth only when
 * both user and password are set; and the failures worded as Python requests words them
 * (4xx/5xx with the server's reason, a 2xx that is not JSON, a read timeout, a refused
 * connection, a call cancelled while it waits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "loopback.h"

#include <jansson.h>

#include "studio/mlclient.h"
#include "studio/records.h"

/* Set by a test once it is done waiting for /slow. */
static atomic_int release_slow;

/* The backend's routes (any path prefix). /slow answers once release_slow is set (or after
 * 3 s). */
static void backend(void *ctx, const loopback_seen *rq, int *status, const char **type, char *body,
                    size_t cap)
{
    const char *route = strrchr(rq->target, '/');
    if (!strcmp(route, "/health")) {
        snprintf(body, cap, "{\"status\":\"UP\",\"model_class\":\"NB\"}");
    } else if (!strcmp(route, "/setup")) {
        snprintf(body, cap, "{\"model_version\":\"v3\"}");
    } else if (!strcmp(route, "/broken")) {
        *status = 500;
        snprintf(body, cap, "{\"error\":\"boom\"}");
    } else if (!strcmp(route, "/text")) {
        *type = "text/plain";
        snprintf(body, cap, "hello");
    } else if (!strcmp(route, "/slow")) {
        for (int i = 0; i < 300 && !atomic_load(&release_slow); i++) usleep(10 * 1000);
        snprintf(body, cap, "{}");
    } else {
        *status = 404;
        snprintf(body, cap, "{\"detail\":\"Not found.\"}");
    }
}

static int setup(void **state)
{
    loopback_upstream *u = calloc(1, sizeof *u);
    loopback_upstream_start(u, backend, NULL);
    *state = u;
    return 0;
}

static int teardown(void **state)
{
    loopback_upstream_stop(*state);
    free(*state);
    unsetenv("ML_TIMEOUT_HEALTH");
    return 0;
}

static void a_get_with_label_studios_headers(void **state)
{
    loopback_upstream *u = *state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", u->port);
    cg_studio_ml_target t = {url, NULL, NULL};
    cg_studio_ml_reply r;
    assert_int_equal(cg_studio_ml_call(&t, "GET", "health", NULL, CG_ML_HEALTH, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "UP");
    assert_string_equal(json_string_value(json_object_get(r.json, "model_class")), "NB");
    assert_string_equal(r.error, "");
    cg_studio_ml_reply_clear(&r);
    assert_null(r.json);
    assert_string_equal(u->last.method, "GET");
    assert_string_equal(u->last.target, "/health");
    assert_non_null(strcasestr(u->last.head, "\r\nUser-Agent: heartex/" CG_STUDIO_LS_VERSION));
    assert_null(strcasestr(u->last.head, "\r\nAuthorization:"));
}

static void a_post_under_a_path_prefix_with_basic_auth(void **state)
{
    loopback_upstream *u = *state;
    char url[64];
    cg_studio_ml_reply r;
    /* with and without a trailing slash: the route is joined with one '/' */
    for (int slash = 0; slash < 2; slash++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d/ml/nb%s", u->port, slash ? "/" : "");
        cg_studio_ml_target t = {url, "user", "s3cret"};
        assert_int_equal(
            cg_studio_ml_call(&t, "POST", "setup", "{\"project\":\"1.2\"}", CG_ML_SETUP, NULL, &r),
            0);
        assert_string_equal(json_string_value(json_object_get(r.json, "model_version")), "v3");
        cg_studio_ml_reply_clear(&r);
        assert_string_equal(u->last.method, "POST");
        assert_string_equal(u->last.target, "/ml/nb/setup");
        assert_string_equal(u->last.body, "{\"project\":\"1.2\"}");
        assert_non_null(strcasestr(u->last.head, "\r\nContent-Type: application/json"));
        /* base64("user:s3cret") */
        assert_non_null(strcasestr(u->last.head, "\r\nAuthorization: Basic dXNlcjpzM2NyZXQ="));
    }
    /* a user without a password: no basic auth */
    cg_studio_ml_target half = {url, "user", ""};
    assert_int_equal(cg_studio_ml_call(&half, "POST", "setup", NULL, CG_ML_SETUP, NULL, &r), 0);
    cg_studio_ml_reply_clear(&r);
    assert_null(strcasestr(u->last.head, "\r\nAuthorization:"));
    assert_string_equal(u->last.body, ""); /* a POST without a body sends an empty one */
}

static void failures_read_like_python_requests(void **state)
{
    loopback_upstream *u = *state;
    char url[64], want[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", u->port);
    cg_studio_ml_target t = {url, NULL, NULL};
    cg_studio_ml_reply r;

    assert_int_equal(cg_studio_ml_call(&t, "GET", "versions", NULL, CG_ML_SETUP, NULL, &r), -1);
    assert_int_equal(r.status, 404);
    assert_null(r.json);
    snprintf(want, sizeof want, "404 Client Error: Not Found for url: %s/versions", url);
    assert_string_equal(r.error, want);
    cg_studio_ml_reply_clear(&r);

    assert_int_equal(cg_studio_ml_call(&t, "POST", "broken", "{}", CG_ML_PREDICT, NULL, &r), -1);
    assert_int_equal(r.status, 500);
    snprintf(want, sizeof want, "500 Server Error: Internal Server Error for url: %s/broken", url);
    assert_string_equal(r.error, want);
    cg_studio_ml_reply_clear(&r);

    /* a 2xx that is not JSON */
    assert_int_equal(cg_studio_ml_call(&t, "GET", "text", NULL, CG_ML_SETUP, NULL, &r), -1);
    assert_int_equal(r.status, 200);
    assert_null(r.json);
    assert_true(strlen(r.error) > 0);
    cg_studio_ml_reply_clear(&r);

    /* a read timeout (ML_TIMEOUT_HEALTH) */
    atomic_store(&release_slow, 0);
    setenv("ML_TIMEOUT_HEALTH", "0.2", 1);
    assert_int_equal(cg_studio_ml_call(&t, "GET", "slow", NULL, CG_ML_HEALTH, NULL, &r), -1);
    unsetenv("ML_TIMEOUT_HEALTH");
    atomic_store(&release_slow, 1);
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want,
             "HTTPConnectionPool(host='127.0.0.1', port=%d): Read timed out. (read timeout=0.2)",
             u->port);
    assert_string_equal(r.error, want);
    cg_studio_ml_reply_clear(&r);
}

typedef struct canceller {
    atomic_int flag;
    pthread_t thread;
} canceller;

static void *cancel_soon(void *arg)
{
    usleep(100 * 1000);
    atomic_store(&((canceller *)arg)->flag, 1);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void a_call_is_cancelled_while_it_waits(void **state)
{
    loopback_upstream *u = *state;
    char url[64], want[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", u->port);
    cg_studio_ml_target t = {url, NULL, NULL};
    cg_studio_ml_reply r;
    atomic_store(&release_slow, 0);
    canceller c = {0};
    pthread_create(&c.thread, NULL, cancel_soon, &c);
    double t0 = now_s();
    int rc = cg_studio_ml_call(&t, "GET", "slow", NULL, CG_ML_PREDICT, &c.flag, &r);
    double took = now_s() - t0;
    atomic_store(&release_slow, 1);
    pthread_join(c.thread, NULL);
    assert_int_equal(rc, -1);
    assert_true(took < 2.9); /* "within about a second", before the backend answers at 3 s */
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want,
             "HTTPConnectionPool(host='127.0.0.1', port=%d): request cancelled (studio is "
             "stopping)",
             u->port);
    assert_string_equal(r.error, want);
    cg_studio_ml_reply_clear(&r);
}

static void refused_after_the_retries(void **state)
{
    /* a port nothing listens on: a freshly closed one of our own */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    int port = ntohs(a.sin_port);
    close(fd);
    char url[64], want[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/base", port);
    cg_studio_ml_target t = {url, NULL, NULL};
    cg_studio_ml_reply r;
    assert_int_equal(cg_studio_ml_call(&t, "GET", "health", NULL, CG_ML_HEALTH, NULL, &r), -1);
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want,
             "HTTPConnectionPool(host='127.0.0.1', port=%d): Max retries exceeded with url: "
             "/base/health (Caused by NewConnectionError('Failed to establish a new connection: "
             "[Errno 111] Connection refused'))",
             port);
    assert_string_equal(r.error, want);
    cg_studio_ml_reply_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_get_with_label_studios_headers),
        cmocka_unit_test(a_post_under_a_path_prefix_with_basic_auth),
        cmocka_unit_test(failures_read_like_python_requests),
        cmocka_unit_test(a_call_is_cancelled_while_it_waits),
        cmocka_unit_test(refused_after_the_retries),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
