/* Unit tests for src/engine/call.c: the operation call's checks, all of which happen before
 * anything is sent, so no server is needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "engine/call.h"
#include "net/loop.h"
#include "spec/spec.h"

#define SPEC_FILE "capabilities/label-studio-ml.yaml"

typedef struct fake_request {
    const char *names[4];
    const char *values[4];
} fake_request;

static bool fake_lookup(void *ctx, const cg_argument *arg, const char **value, size_t *len)
{
    fake_request *r = ctx;
    for (int i = 0; i < 4 && r->names[i]; i++)
        if (!strcmp(r->names[i], arg->name)) {
            *value = r->values[i];
            *len = strlen(r->values[i]);
            return true;
        }
    return false;
}

static void never_done(void *arg, cg_call_result *res)
{
    fail();
}

static const cg_call *rest_call(const cg_spec *spec, const char *path, const char *method)
{
    for (size_t i = 0; i < spec->rest[0].n_resources; i++)
        if (!strcmp(spec->rest[0].resources[i].path, path))
            for (size_t k = 0; k < spec->rest[0].resources[i].n_ops; k++)
                if (!strcmp(spec->rest[0].resources[i].ops[k].method, method))
                    return &spec->rest[0].resources[i].ops[k].call;
    return NULL;
}

static void call_refuses_bad_values_before_sending(void **state)
{
    cg_spec *spec = NULL;
    assert_int_equal(cg_spec_load(SPEC_FILE, &spec, NULL), CG_SPEC_OK);
    cg_loop *l = cg_loop_create(NULL, 0);
    cg_engine *e = cg_engine_create(l, spec, NULL, NULL, NULL, 0);
    assert_non_null(e);
    cg_call_job *job;
    cg_call_result now;

    fake_request bad_id = {{"id"}, {"12abc"}};
    assert_int_equal(cg_call_start(e, rest_call(spec, "/v1/api/ml/{id}", "GET"), fake_lookup,
                                   &bad_id, "Token t", never_done, NULL, &job, &now),
                     -1);
    assert_int_equal(now.error, CG_CALL_BAD_ARGUMENT);
    assert_string_equal(now.argument, "id");
    assert_int_equal(cg_call_error_status(&now), 400);

    fake_request bad_batch = {{"id", "batch_size"}, {"3", "ten"}};
    assert_int_equal(cg_call_start(e, rest_call(spec, "/v1/api/ml/{id}/predict", "POST"),
                                   fake_lookup, &bad_batch, "Token t", never_done, NULL, &job,
                                   &now),
                     -1);
    assert_string_equal(now.argument, "batch_size");

    fake_request missing_id = {{NULL}, {NULL}};
    assert_int_equal(cg_call_start(e, rest_call(spec, "/v1/api/ml/{id}", "DELETE"), fake_lookup,
                                   &missing_id, "Token t", never_done, NULL, &job, &now),
                     -1);
    assert_int_equal(now.error, CG_CALL_BAD_ARGUMENT);

    fake_request bad_json = {{"body"}, {"{\"a\":"}};
    assert_int_equal(cg_call_start(e, rest_call(spec, "/v1/api/ml", "POST"), fake_lookup, &bad_json,
                                   "Token t", never_done, NULL, &job, &now),
                     -1);
    assert_string_equal(now.argument, "body");

    fake_request ok = {{"id"}, {"3"}};
    assert_int_equal(cg_call_start(e, rest_call(spec, "/v1/api/ml/{id}", "GET"), fake_lookup, &ok,
                                   "Token a\r\nX-Evil: 1", never_done, NULL, &job, &now),
                     -1);
    assert_int_equal(now.error, CG_CALL_BAD_ARGUMENT);
    assert_string_equal(now.argument, "Authorization");

    unsetenv("LABEL_STUDIO_API_KEY");
    assert_int_equal(cg_call_start(e, rest_call(spec, "/v1/api/ml/{id}", "GET"), fake_lookup, &ok,
                                   NULL, never_done, NULL, &job, &now),
                     -1);
    assert_int_equal(now.error, CG_CALL_NO_CREDENTIALS);
    assert_int_equal(cg_call_error_status(&now), 401);
    assert_non_null(strstr(now.message, "LABEL_STUDIO_API_KEY"));
    assert_int_equal(cg_engine_pending(e), 0);

    cg_engine_free(e);
    cg_loop_free(l);
    cg_spec_free(spec);
}

static void call_error_statuses_map_once(void **state)
{
    cg_call_result r = {.error = CG_CALL_UNREACHABLE};
    assert_int_equal(cg_call_error_status(&r), 502);
    r.error = CG_CALL_BAD_GATEWAY;
    assert_int_equal(cg_call_error_status(&r), 502);
    r.error = CG_CALL_TIMEOUT;
    assert_int_equal(cg_call_error_status(&r), 504);
    r.error = CG_CALL_OVERLOADED;
    assert_int_equal(cg_call_error_status(&r), 503);
    r.error = CG_CALL_CREDENTIALS_REFUSED;
    assert_int_equal(cg_call_error_status(&r), 401);
    r.error = CG_CALL_OK;
    r.status = 204;
    assert_int_equal(cg_call_error_status(&r), 204);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(call_refuses_bad_values_before_sending),
        cmocka_unit_test(call_error_statuses_map_once),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
