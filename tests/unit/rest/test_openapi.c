/*
 * Unit tests for the OpenAPI document of a REST adapter (src/rest/openapi.c, declared in
 * rest.h): the shipped capability's document, and small specs in memory for what the
 * document says about parameters, bodies, capgate's own problem responses and security.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spec_fixture.h"

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
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        json_object_foreach(item, method, op)
        {
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
    json_t *predict = json_object_get(
        json_object_get(json_object_get(doc, "paths"), "/v1/api/ml/{id}/predict"), "post");
    json_t *params = json_object_get(predict, "parameters");
    assert_int_equal(json_array_size(params), 2);
    json_t *id = json_array_get(params, 0), *batch = json_array_get(params, 1);
    assert_string_equal(json_string_value(json_object_get(id, "in")), "path");
    assert_true(json_is_true(json_object_get(id, "required")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(id, "schema"), "type")),
                        "integer");
    assert_string_equal(json_string_value(json_object_get(batch, "name")), "batch_size");
    assert_string_equal(json_string_value(json_object_get(batch, "in")), "query");
    /* Authorization is a security scheme, not a parameter */
    assert_non_null(
        json_object_get(json_object_get(json_object_get(doc, "components"), "securitySchemes"),
                        "upstreamAuthorization"));
    json_t *create = json_object_get(json_object_get(json_object_get(doc, "paths"), "/v1/api/ml"),
                                     "post");
    assert_null(json_object_get(create, "parameters"));
    assert_non_null(json_object_get(
        json_object_get(json_object_get(create, "requestBody"), "content"), "application/json"));
    json_decref(doc);
}

static const char SMALL[] =
    "naftiko: 1.0.0-alpha2\n"
    "info: {label: Notes, description: openapi unit test}\n"
    "capability:\n"
    "  consumes:\n"
    "  - type: http\n"
    "    namespace: notes\n"
    "    baseUri: http://localhost:8000\n"
    "    resources:\n"
    "    - name: note\n"
    "      path: /notes/{id}\n"
    "      operations:\n"
    "      - name: get\n"
    "        method: GET\n"
    "        inputParameters:\n"
    "        - {name: id, in: path, type: integer, required: true, description: Note id}\n"
    "        - {name: limit, in: query, type: integer}\n"
    "        - {name: X-Trace, in: header, type: string, required: true}\n"
    "      - name: put\n"
    "        method: PUT\n"
    "        inputParameters:\n"
    "        - {name: id, in: path, type: integer, required: true}\n"
    "        - {name: note, in: body, type: object, required: true}\n"
    "  exposes:\n"
    "  - type: rest\n"
    "    namespace: notes-rest\n"
    "    port: 8080\n"
    "%s"
    "    resources:\n"
    "    - path: /v1/notes/{id}\n"
    "      name: note\n"
    "      description: One note.\n"
    "      operations:\n"
    "      - {method: GET, name: read, call: notes.get, with: {id: notes-rest.id, limit: "
    "notes-rest.limit, X-Trace: notes-rest.X-Trace}}\n"
    "      - {method: PUT, name: write, call: notes.put, with: {id: notes-rest.id, note: "
    "notes-rest.note}}\n";

static json_t *small_document(const char *inbound)
{
    char text[4096];
    int n = snprintf(text, sizeof text, SMALL, inbound);
    cg_spec *spec = spec_fixture_load("notes.yaml", text, (size_t)n);
    assert_non_null(spec);
    cg_buf b = CG_BUF_INIT;
    assert_int_equal(cg_rest_openapi(spec, &spec->rest[0], "http://127.0.0.1:4321", &b), 0);
    json_t *doc = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(doc);
    cg_buf_free(&b);
    cg_spec_free(spec);
    return doc;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static json_t *op_of(json_t *doc, const char *path, const char *method)
{
    json_t *op = json_object_get(json_object_get(json_object_get(doc, "paths"), path), method);
    assert_non_null(op);
    return op;
}

static void openapi_small_spec_info_and_parameters(void **state)
{
    json_t *doc = small_document("");
    assert_string_equal(str(json_object_get(doc, "info"), "title"), "Notes");
    assert_string_equal(str(json_object_get(doc, "info"), "description"), "openapi unit test");
    assert_string_equal(str(json_array_get(json_object_get(doc, "servers"), 0), "url"),
                        "http://127.0.0.1:4321");
    json_t *tag = json_array_get(json_object_get(doc, "tags"), 0);
    assert_string_equal(str(tag, "name"), "note");
    assert_string_equal(str(tag, "description"), "One note.");

    json_t *get = op_of(doc, "/v1/notes/{id}", "get");
    assert_string_equal(str(get, "operationId"), "read");
    json_t *params = json_object_get(get, "parameters");
    assert_int_equal(json_array_size(params), 3);
    json_t *id = json_array_get(params, 0); /* path placeholders first */
    assert_string_equal(str(id, "name"), "id");
    assert_string_equal(str(id, "in"), "path");
    assert_string_equal(str(id, "description"), "Note id");
    assert_string_equal(str(json_object_get(id, "schema"), "type"), "integer");
    json_t *limit = json_array_get(params, 1), *trace = json_array_get(params, 2);
    assert_string_equal(str(limit, "in"), "query");
    assert_true(json_is_false(json_object_get(limit, "required")));
    assert_string_equal(str(trace, "name"), "X-Trace");
    assert_string_equal(str(trace, "in"), "header");
    assert_true(json_is_true(json_object_get(trace, "required")));
    assert_null(json_object_get(get, "requestBody"));
    json_t *responses = json_object_get(get, "responses");
    assert_null(json_object_get(responses, "413")); /* no body, no body problems */
    assert_null(json_object_get(responses, "401")); /* no credentials anywhere */
    assert_null(json_object_get(get, "security"));
    assert_null(json_object_get(json_object_get(doc, "components"), "securitySchemes"));

    json_t *put = op_of(doc, "/v1/notes/{id}", "put");
    json_t *rb = json_object_get(put, "requestBody");
    assert_true(json_is_true(json_object_get(rb, "required")));
    assert_string_equal(
        str(json_object_get(json_object_get(json_object_get(rb, "content"), "application/json"),
                            "schema"),
            "type"),
        "object");
    assert_int_equal(json_array_size(json_object_get(put, "parameters")), 1);
    json_decref(doc);
}

static void openapi_problem_responses(void **state)
{
    json_t *doc = small_document("");
    json_t *responses = json_object_get(op_of(doc, "/v1/notes/{id}", "put"), "responses");
    struct {
        const char *status, *ref;
    } want[] = {
        {"400", "BadRequest"},           {"404", "NotFound"},
        {"405", "MethodNotAllowed"},     {"413", "TooLarge"},
        {"415", "UnsupportedMediaType"}, {"502", "BadGateway"},
        {"503", "Unavailable"},          {"504", "GatewayTimeout"},
    };
    json_t *defs = json_object_get(json_object_get(doc, "components"), "responses");
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char ref[96];
        snprintf(ref, sizeof ref, "#/components/responses/%s", want[i].ref);
        assert_string_equal(str(json_object_get(responses, want[i].status), "$ref"), ref);
        /* every referenced response exists and is a problem+json */
        json_t *def = json_object_get(defs, want[i].ref);
        json_t *media = json_object_get(json_object_get(def, "content"),
                                        "application/problem+json");
        assert_string_equal(str(json_object_get(media, "schema"), "$ref"),
                            "#/components/schemas/Problem");
    }
    json_t *problem = json_object_get(
        json_object_get(json_object_get(doc, "components"), "schemas"), "Problem");
    json_t *req = json_object_get(problem, "required");
    assert_int_equal(json_array_size(req), 3);
    assert_string_equal(json_string_value(json_array_get(req, 2)), "status");
    assert_non_null(json_object_get(json_object_get(problem, "properties"), "invalid-params"));
    json_decref(doc);
}

static void openapi_inbound_security_on_every_operation(void **state)
{
    json_t *doc = small_document("    authentication: {type: bearer, token: 'fixed-token'}\n");
    json_t *scheme = json_object_get(
        json_object_get(json_object_get(doc, "components"), "securitySchemes"), "inbound");
    assert_string_equal(str(scheme, "type"), "http");
    assert_string_equal(str(scheme, "scheme"), "bearer");
    const char *methods[] = {"get", "put"};
    for (size_t i = 0; i < 2; i++) {
        json_t *op = op_of(doc, "/v1/notes/{id}", methods[i]);
        json_t *sec = json_object_get(op, "security");
        assert_int_equal(json_array_size(sec), 1);
        assert_non_null(json_object_get(json_array_get(sec, 0), "inbound"));
        assert_string_equal(str(json_object_get(json_object_get(op, "responses"), "401"), "$ref"),
                            "#/components/responses/Unauthorized");
    }
    char *text = json_dumps(doc, 0);
    assert_null(strstr(text, "fixed-token")); /* the secret is never in the document */
    free(text);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(openapi_is_31_with_every_operation),
        cmocka_unit_test(openapi_operation_ids_are_unique_and_tagged),
        cmocka_unit_test(openapi_types_parameters_and_hides_the_credential),
        cmocka_unit_test(openapi_small_spec_info_and_parameters),
        cmocka_unit_test(openapi_problem_responses),
        cmocka_unit_test(openapi_inbound_security_on_every_operation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
