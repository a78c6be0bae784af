/* Unit tests for src/rest: the OpenAPI document generated from the shipped capability. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "rest/rest.h"
#include "spec/spec.h"

#define SPEC_FILE "capabilities/label-studio-ml.yaml"

static json_t *document(void)
{
    cg_spec *spec = NULL;
    assert_int_equal(cg_spec_load(SPEC_FILE, &spec, NULL), CG_SPEC_OK);
    cg_buf b = CG_BUF_INIT;
    assert_int_equal(cg_rest_openapi(spec, &spec->rest[0], "http://127.0.0.1:8080", &b), 0);
    json_error_t err;
    json_t *doc = json_loadb(b.data, b.len, 0, &err);
    assert_non_null(doc);
    cg_buf_free(&b);
    cg_spec_free(spec);
    return doc;
}

static void openapi_is_31_with_every_operation(void **state)
{
    json_t *doc = document();
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_t *paths = json_object_get(doc, "paths");
    size_t n = 0;
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item) n += json_object_size(item);
    assert_int_equal(n, 9);
    assert_non_null(json_object_get(json_object_get(paths, "/v1/api/ml/{id}"), "patch"));
    json_decref(doc);
}

static void openapi_operation_ids_are_unique_and_tagged(void **state)
{
    json_t *doc = document();
    json_t *seen = json_object();
    const char *path, *method;
    json_t *item, *op;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        json_object_foreach(item, method, op) {
            const char *id = json_string_value(json_object_get(op, "operationId"));
            assert_non_null(id);
            assert_null(json_object_get(seen, id));
            json_object_set_new(seen, id, json_true());
            assert_int_equal(json_array_size(json_object_get(op, "tags")), 1);
            assert_non_null(json_object_get(json_object_get(op, "responses"), "2XX"));
        }
    }
    json_decref(seen);
    json_decref(doc);
}

static void openapi_types_parameters_and_hides_the_credential(void **state)
{
    json_t *doc = document();
    json_t *predict = json_object_get(json_object_get(json_object_get(doc, "paths"),
                                                      "/v1/api/ml/{id}/predict"), "post");
    json_t *params = json_object_get(predict, "parameters");
    assert_int_equal(json_array_size(params), 2);
    json_t *id = json_array_get(params, 0), *batch = json_array_get(params, 1);
    assert_string_equal(json_string_value(json_object_get(id, "in")), "path");
    assert_true(json_is_true(json_object_get(id, "required")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(id, "schema"), "type")), "integer");
    assert_string_equal(json_string_value(json_object_get(batch, "name")), "batch_size");
    assert_string_equal(json_string_value(json_object_get(batch, "in")), "query");
    /* Authorization is a security scheme, not a parameter */
    assert_non_null(json_object_get(json_object_get(json_object_get(doc, "components"),
                                                    "securitySchemes"), "upstreamAuthorization"));
    json_t *create = json_object_get(json_object_get(json_object_get(doc, "paths"), "/v1/api/ml"), "post");
    assert_null(json_object_get(create, "parameters"));
    assert_non_null(json_object_get(json_object_get(json_object_get(create, "requestBody"), "content"),
                                    "application/json"));
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(openapi_is_31_with_every_operation),
        cmocka_unit_test(openapi_operation_ids_are_unique_and_tagged),
        cmocka_unit_test(openapi_types_parameters_and_hides_the_credential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
