/*
 * Unit tests for mlbackend/mlbackend.h through real requests on loopback: the routes of a
 * backend with an empty model directory (health, versions, setup, predict before any
 * training, webhook counting), its errors (unknown route, a body that is not JSON, a
 * config it cannot model), basic auth, bad start options and the command's usage errors.
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

#include "tempdir.h"

#include "loopback.h"

#include <jansson.h>

#include "mlbackend/mlbackend.h"

#define CFG                                                                                        \
    "<View><Text name=\\\"t\\\" value=\\\"$text\\\"/><Choices name=\\\"c\\\" "                     \
    "toName=\\\"t\\\"><Choice value=\\\"pos\\\"/><Choice value=\\\"neg\\\"/></Choices></View>"

typedef struct fixture {
    char dir[64];
    cg_mlbackend *b;
    int port;
} fixture;

static int start(fixture *f, const char *user, const char *pass)
{
    if (tempdir_make(f->dir, sizeof f->dir, "mlb") != 0) return -1;
    cg_mlbackend_options o = {.port = 0,
                              .model_dir = f->dir,
                              .basic_auth_user = user,
                              .basic_auth_pass = pass,
                              .train_wait_s = 1};
    char err[256];
    f->b = cg_mlbackend_start(&o, err, sizeof err);
    if (!f->b) {
        print_error("%s\n", err);
        return -1;
    }
    f->port = cg_mlbackend_port(f->b);
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    *state = f;
    return start(f, NULL, NULL);
}

static int setup_auth(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    *state = f;
    return start(f, "ann", "s3cret");
}

static int teardown(void **state)
{
    fixture *f = *state;
    cg_mlbackend_stop(f->b);
    int rc = tempdir_remove(f->dir);
    free(f);
    return rc;
}

typedef loopback_reply reply;

static reply request(int port, const char *method, const char *path, const char *extra_headers,
                     const char *body)
{
    return loopback_request(port, method, path, extra_headers, body, 10);
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void health_versions_and_errors(void **state)
{
    fixture *f = *state;
    reply r = request(f->port, "GET", "/health", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.body, "status"), "UP");
    assert_string_equal(str(r.body, "model_class"), "NaiveBayesTextClassifier");
    json_decref(r.body);
    r = request(f->port, "GET", "/versions", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.body, "versions")), 0);
    json_decref(r.body);
    r = request(f->port, "GET", "/nothing", NULL, NULL);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(str(r.body, "detail"), "no route GET /nothing"));
    json_decref(r.body);
    r = request(f->port, "POST", "/setup", NULL, "nope");
    assert_int_equal(r.status, 400);
    assert_int_equal(json_integer_value(json_object_get(r.body, "status")), 400);
    assert_non_null(strstr(str(r.body, "detail"), "the request body is not JSON"));
    json_decref(r.body);
}

static void setup_and_predict_before_training(void **state)
{
    fixture *f = *state;
    reply r = request(f->port, "POST", "/setup", NULL,
                      "{\"project\":\"1.1\",\"schema\":\"" CFG "\","
                      "\"hostname\":\"http://127.0.0.1:1\",\"access_token\":\"x\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.body, "model_version"), "untrained");
    json_decref(r.body);

    r = request(f->port, "POST", "/predict", NULL,
                "{\"tasks\":[{\"id\":1,\"data\":{\"text\":\"good\"}},{\"id\":2,\"data\":"
                "{\"text\":\"bad\"}}],\"label_config\":\"" CFG "\",\"project\":\"1.1\"}");
    assert_int_equal(r.status, 200);
    json_t *results = json_object_get(r.body, "results");
    assert_int_equal(json_array_size(results), 2); /* one prediction per task */
    json_t *p = json_array_get(results, 0);
    assert_string_equal(str(p, "model_version"), "untrained");
    assert_true(json_real_value(json_object_get(p, "score")) == 0.5); /* two labels */
    json_t *item = json_array_get(json_object_get(p, "result"), 0);
    assert_string_equal(str(item, "from_name"), "c");
    assert_string_equal(str(item, "to_name"), "t");
    assert_string_equal(str(item, "type"), "choices");
    const char *label = json_string_value(
        json_array_get(json_object_get(json_object_get(item, "value"), "choices"), 0));
    assert_true(!strcmp(label, "pos") || !strcmp(label, "neg"));
    json_decref(r.body);

    /* a config it cannot model: no results, the reason in detail */
    r = request(
        f->port, "POST", "/predict", NULL,
        "{\"tasks\":[{\"id\":1,\"data\":{\"text\":\"x\"}}],\"label_config\":"
        "\"<View><Text name=\\\"t\\\" value=\\\"$text\\\"/><Choices name=\\\"c\\\" "
        "toName=\\\"t\\\"><Choice value=\\\"a\\\"/></Choices></View>\",\"project\":\"1.1\"}");
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.body, "results")), 0);
    assert_string_equal(str(r.body, "model_version"), "unsupported-label-config");
    assert_non_null(strstr(str(r.body, "detail"), "needs at least two <Choice> values, it has 1"));
    json_decref(r.body);
}

static void webhook_counts_annotations(void **state)
{
    fixture *f = *state;
    const char *event = "{\"action\":\"ANNOTATION_CREATED\",\"project\":{\"id\":7}}";
    reply r = request(f->port, "POST", "/webhook", NULL, event);
    assert_int_equal(r.status, 201); /* as label-studio-ml answers */
    assert_string_equal(str(r.body, "status"), "ok");
    json_t *res = json_object_get(r.body, "result");
    assert_int_equal(json_integer_value(json_object_get(res, "annotations_since_training")), 1);
    assert_true(json_is_false(json_object_get(res, "training_started")));
    json_decref(r.body);
    r = request(f->port, "POST", "/webhook", NULL, event);
    res = json_object_get(r.body, "result");
    assert_int_equal(json_integer_value(json_object_get(res, "annotations_since_training")), 2);
    json_decref(r.body);
}

static void basic_auth_guards_every_route(void **state)
{
    fixture *f = *state;
    reply r = request(f->port, "GET", "/health", NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.head, "WWW-Authenticate: Basic"));
    json_decref(r.body);
    r = request(f->port, "GET", "/health", "Authorization: Basic YW5uOndyb25n\r\n", NULL);
    assert_int_equal(r.status, 401); /* ann:wrong */
    json_decref(r.body);
    r = request(f->port, "GET", "/health", "Authorization: Basic YW5uOnMzY3JldA==\r\n", NULL);
    assert_int_equal(r.status, 200); /* ann:s3cret */
    assert_string_equal(str(r.body, "status"), "UP");
    json_decref(r.body);
}

static void bad_options_and_usage(void **state)
{
    char err[256] = "";
    cg_mlbackend_options o = {.listen = "not-an-address", .port = 0, .model_dir = "/tmp"};
    assert_null(cg_mlbackend_start(&o, err, sizeof err));
    assert_non_null(strstr(err, "not-an-address"));
    cg_mlbackend_stop(NULL);
    char *argv[] = {"mlbackend", "--port", "70000", NULL};
    assert_int_equal(cg_mlbackend_main(3, argv), 2);
    char *argv2[] = {"mlbackend", "--no-such-flag", NULL};
    assert_int_equal(cg_mlbackend_main(2, argv2), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(health_versions_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(setup_and_predict_before_training, setup, teardown),
        cmocka_unit_test_setup_teardown(webhook_counts_annotations, setup, teardown),
        cmocka_unit_test_setup_teardown(basic_auth_guards_every_route, setup_auth, teardown),
        cmocka_unit_test(bad_options_and_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
