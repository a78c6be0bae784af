/*
 * test_shape.c — output trees loaded from specs, answers shaped from documents (nested
 * objects, arrays of objects, missing mappings, coercion, maxLength, static values, mocks),
 * the outputSchema derived from them, and the loader's errors for malformed outputs.
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

#include "engine/shape.h"
#include "mcp/tool_schema.h"
#include "spec/spec.h"

static const char *head =
    "naftiko: 1.0.0-alpha2\n"
    "info:\n  label: Shapes\n  description: shaping tests\n"
    "capability:\n"
    "  consumes:\n"
    "  - type: http\n    namespace: reg\n    baseUri: http://localhost:1\n"
    "    resources:\n    - name: ship\n      path: /ships\n      operations:\n"
    "      - name: get\n        method: GET\n"
    "  exposes:\n"
    "  - type: mcp\n    namespace: tools\n    port: 9999\n    tools:\n"
    "    - name: t\n      description: d\n";

/* Loads head + tool_tail; fails the test with the loader's messages when it does not load. */
static cg_spec *load(const char *tool_tail)
{
    char text[8192];
    snprintf(text, sizeof text, "%s%s", head, tool_tail);
    cg_spec *spec = spec_fixture_load("t.yaml", text, strlen(text));
    assert_non_null(spec);
    return spec;
}

/* The loader's messages for a tool tail that must not load. */
static char *load_errors(const char *tool_tail)
{
    char text[8192];
    snprintf(text, sizeof text, "%s%s", head, tool_tail);
    cg_spec *spec = NULL;
    cg_buf errs = CG_BUF_INIT;
    assert_int_equal(cg_spec_load_string("t.yaml", text, strlen(text), &spec, &errs),
                     CG_SPEC_EINVALID);
    return cg_buf_steal(&errs);
}

static int render(void *ctx, const cg_template *t, cg_buf *out)
{
    /* every variable reads as "<name>!" so the test sees what was substituted */
    for (size_t i = 0; i < t->n_parts; i++) {
        cg_buf_append(out, t->parts[i].text, t->parts[i].len);
        if (t->parts[i].is_variable) cg_buf_append_str(out, "!");
    }
    return 0;
}

static char *shape(const cg_spec *spec, const char *doc_text)
{
    json_t *doc = doc_text ? json_loads(doc_text, JSON_DECODE_ANY, NULL) : NULL;
    if (doc_text) assert_non_null(doc);
    json_t *out;
    char err[200];
    const cg_call *call = &spec->mcp[0].tools[0].call;
    if (cg_shape_answer(call, doc, render, NULL, &out, err, sizeof err) < 0)
        fail_msg("shape: %s", err);
    char *s = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(out);
    json_decref(doc);
    return s;
}

#define EXPECT_EQ(got, want)                                                                       \
    do {                                                                                           \
        char *g_ = (got);                                                                          \
        if (strcmp(g_, want)) fail_msg("got  %s\nwant %s", g_, want);                              \
        free(g_);                                                                                  \
    } while (0)

static const char *ship =
    "{\"imo_number\":\"IMO-1\",\"vessel_name\":\"Northern Star\",\"year_built\":2015,"
    "\"gross_tonnage\":\"42000\",\"dimensions\":{\"length_overall\":229},\"extra\":1}";

static void test_nested_object(void **state)
{
    cg_spec *spec = load(
        "      call: reg.get\n"
        "      outputParameters:\n"
        "      - type: object\n"
        "        properties:\n"
        "          imo: {type: string, mapping: $.imo_number}\n"
        "          name: {type: string, mapping: $.vessel_name}\n"
        "          missing: {type: string, mapping: $.nowhere}\n"
        "          specs:\n"
        "            type: object\n"
        "            properties:\n"
        "              yearBuilt: {type: number, mapping: $.year_built}\n"
        "              tonnage: {type: number, mapping: $.gross_tonnage}\n"
        "              length: {type: integer, mapping: $.dimensions.length_overall}\n"
        "              label: {type: string, mapping: $.year_built}\n");
    assert_true(cg_shape_needed(&spec->mcp[0].tools[0].call));
    EXPECT_EQ(shape(spec, ship),
              "{\"imo\":\"IMO-1\",\"name\":\"Northern Star\",\"missing\":null,\"specs\":"
              "{\"yearBuilt\":2015,\"tonnage\":42000,\"length\":229,\"label\":\"2015\"}}");
    /* the same outputs over a body that has none of it: nulls, no crash */
    EXPECT_EQ(shape(spec, "[1,2]"),
              "{\"imo\":null,\"name\":null,\"missing\":null,\"specs\":{\"yearBuilt\":null,"
              "\"tonnage\":null,\"length\":null,\"label\":null}}");
    EXPECT_EQ(shape(spec, "\"just text\""), "null");
    cg_spec_free(spec);
}

static void test_array_items(void **state)
{
    cg_spec *spec = load(
        "      call: reg.get\n"
        "      outputParameters:\n"
        "      - type: array\n"
        "        mapping: $.\n"
        "        items:\n"
        "          type: object\n"
        "          properties:\n"
        "            imo: {type: string, mapping: $.imo_number}\n"
        "            short: {type: string, mapping: $.vessel_name, maxLength: 5}\n");
    EXPECT_EQ(shape(spec, "[{\"imo_number\":\"A\",\"vessel_name\":\"Ångström Star\"},{}]"),
              "[{\"imo\":\"A\",\"short\":\"Ångst\"},{\"imo\":null,\"short\":null}]");
    EXPECT_EQ(shape(spec, "{\"not\":\"an array\"}"), "null");
    cg_spec_free(spec);

    spec = load("      call: reg.get\n"
                "      outputParameters:\n"
                "      - type: array\n        mapping: $.list[*].id\n"
                "        items: {type: string}\n");
    EXPECT_EQ(shape(spec, "{\"list\":[{\"id\":1},{\"id\":\"b\"},{\"x\":0}]}"), "[\"1\",\"b\"]");
    cg_spec_free(spec);
}

static void test_passthrough(void **state)
{
    cg_spec *spec = load("      call: reg.get\n"
                         "      outputParameters:\n      - name: result\n        type: object\n"
                         "        value: $.\n");
    const cg_call *call = &spec->mcp[0].tools[0].call;
    assert_false(cg_shape_needed(call)); /* alpha1 `value: $.`: a mapping, passed through */
    json_t *schema = cg_mcp_output_schema(call);
    assert_string_equal(json_string_value(json_object_get(schema, "type")), "object");
    assert_null(json_object_get(schema, "required"));
    json_decref(schema);
    cg_spec_free(spec);
}

static void test_several_named_outputs(void **state)
{
    cg_spec *spec = load("      call: reg.get\n"
                         "      outputParameters:\n"
                         "      - {name: id, type: string, mapping: $.imo_number}\n"
                         "      - {name: built, type: boolean, mapping: $.flag}\n"
                         "      - {name: fixed, type: string, value: 'v-{{x}}'}\n");
    EXPECT_EQ(shape(spec, "{\"imo_number\":\"I\",\"flag\":\"true\"}"),
              "{\"id\":\"I\",\"built\":true,\"fixed\":\"v-x!\"}");
    cg_spec_free(spec);
}

static void test_mock(void **state)
{
    cg_spec *spec = load(
        "      inputParameters:\n      - {name: imo_number, type: string, required: true}\n"
        "      outputParameters:\n"
        "      - {name: imo, type: string, value: '{{imo_number}}'}\n"
        "      - {name: count, type: integer, value: '42'}\n"
        "      - name: nested\n        type: object\n        properties:\n"
        "          a: {type: boolean, value: 'true'}\n");
    const cg_call *call = &spec->mcp[0].tools[0].call;
    assert_true(call->mock);
    assert_null(call->op);
    assert_int_equal(call->n_arguments, 1);
    assert_string_equal(call->arguments[0].name, "imo_number");
    assert_true(call->arguments[0].required);
    EXPECT_EQ(shape(spec, NULL), "{\"imo\":\"imo_number!\",\"count\":42,\"nested\":{\"a\":true}}");
    json_t *schema = cg_mcp_output_schema(call);
    json_t *props = json_object_get(schema, "properties");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(props, "count"), "type"), 0)),
                        "integer");
    json_decref(schema);
    cg_spec_free(spec);
}

static void test_schema_wraps_arrays(void **state)
{
    cg_spec *spec = load(
        "      call: reg.get\n"
        "      outputParameters:\n      - type: array\n        mapping: $.\n"
        "        items:\n          type: object\n          properties:\n"
        "            imo: {type: string, mapping: $.imo_number, description: IMO}\n");
    json_t *schema = cg_mcp_output_schema(&spec->mcp[0].tools[0].call);
    char *s = json_dumps(schema, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        s, "{\"properties\":{\"items\":{\"items\":{\"properties\":{\"imo\":{\"description\":"
           "\"IMO\",\"type\":[\"string\",\"null\"]}},\"required\":[\"imo\"],\"type\":"
           "[\"object\",\"null\"]},\"type\":[\"array\",\"null\"]}},\"type\":\"object\"}");
    free(s);
    json_decref(schema);
    cg_spec_free(spec);
}

static void test_load_errors(void **state)
{
    char *e = load_errors("      call: reg.get\n      outputParameters:\n"
                          "      - type: string\n        mapping: $.a[\n");
    assert_non_null(strstr(e, "t.yaml:26:18: output mapping '$.a[' is not a JSONPath"));
    free(e);
    e = load_errors("      call: reg.get\n      outputParameters:\n"
                    "      - type: string\n        properties:\n          a: {type: string}\n");
    assert_non_null(strstr(e, "t.yaml:27:11: 'properties' on a string output"));
    free(e);
    e = load_errors("      call: reg.get\n      outputParameters:\n"
                    "      - type: object\n        items: {type: string}\n");
    assert_non_null(strstr(e, "'items' on a object output"));
    free(e);
    e = load_errors("      outputParameters:\n      - {name: a, type: string, mapping: $.a}\n");
    assert_non_null(strstr(e, "this tool has no 'call'"));
    free(e);
    e = load_errors("      call: reg.get\n      outputParameters:\n"
                    "      - {type: integer, mapping: $.a, maxLength: 3}\n");
    assert_non_null(strstr(e, "maxLength applies to string outputs"));
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_object), cmocka_unit_test(test_array_items),
        cmocka_unit_test(test_passthrough),   cmocka_unit_test(test_several_named_outputs),
        cmocka_unit_test(test_mock),          cmocka_unit_test(test_schema_wraps_arrays),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
