/*
 * Unit tests for MCP tool descriptions (src/mcp/tool_schema.h): inputSchema from the call's
 * arguments (types, descriptions, required, no credential), outputSchema from
 * outputParameters, titles (label, else the description's first sentence, else the name)
 * and annotations (only what the spec says). The spec is a small document in memory.
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

#include "mcp/tool_schema.h"

static const char SPEC[] =
    "naftiko: 1.0.0-alpha2\n"
    "info: {label: Pets, description: tool schema test}\n"
    "binds:\n"
    "- namespace: env\n"
    "  keys: {PETS_KEY: PETS_KEY}\n"
    "capability:\n"
    "  consumes:\n"
    "  - type: http\n"
    "    namespace: pets\n"
    "    baseUri: http://localhost:8000\n"
    "    resources:\n"
    "    - name: pet\n"
    "      path: /pets/{id}\n"
    "      operations:\n"
    "      - name: get\n"
    "        method: GET\n"
    "        inputParameters:\n"
    "        - {name: id, in: path, type: integer, required: true, description: The pet's id}\n"
    "        - {name: verbose, in: query, type: boolean}\n"
    "        - {name: X-Api-Key, in: header, type: string, value: '{{env.PETS_KEY}}'}\n"
    "  exposes:\n"
    "  - type: mcp\n"
    "    namespace: pets-mcp\n"
    "    port: 9090\n"
    "    tools:\n"
    "    - name: get-pet\n"
    "      description: Get a pet by its id. Returns the whole record.\n"
    "      hints: {readOnly: true, openWorld: false}\n"
    "      call: pets.get\n"
    "      with: {id: tools.id, verbose: tools.verbose}\n"
    "      outputParameters:\n"
    "      - type: object\n"
    "        properties:\n"
    "          name: {type: string, mapping: $.name, maxLength: 20}\n"
    "          tags:\n"
    "            type: array\n"
    "            mapping: $.tags\n"
    "            items: {type: string}\n"
    "    - name: pet_names_only\n"
    "      description: ''\n"
    "      call: pets.get\n"
    "      with: {id: tools.id}\n"
    "      outputParameters:\n"
    "      - {type: array, mapping: '$.names', items: {type: string}}\n";

static int setup(void **state)
{
    cg_spec *spec = spec_fixture_load("schema.yaml", SPEC, sizeof SPEC - 1);
    *state = spec;
    return spec ? 0 : -1;
}

static int teardown(void **state)
{
    cg_spec_free(*state);
    return 0;
}

static const cg_tool *tool(void **state, const char *name)
{
    cg_spec *spec = *state;
    assert_int_equal(spec->n_mcp, 1);
    const cg_tool *t = cg_spec_find_tool(&spec->mcp[0], name);
    assert_non_null(t);
    return t;
}

static void test_input_schema(void **state)
{
    json_t *j = cg_mcp_tool_json(tool(state, "get-pet"));
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "get-pet");
    json_t *in = json_object_get(j, "inputSchema");
    assert_string_equal(json_string_value(json_object_get(in, "type")), "object");
    assert_true(json_is_false(json_object_get(in, "additionalProperties")));
    json_t *props = json_object_get(in, "properties");
    assert_int_equal(json_object_size(props), 2); /* id, verbose; never the API key */
    json_t *id = json_object_get(props, "id");
    assert_string_equal(json_string_value(json_object_get(id, "type")), "integer");
    assert_string_equal(json_string_value(json_object_get(id, "description")), "The pet's id");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(props, "verbose"), "type")), "boolean");
    assert_null(json_object_get(props, "X-Api-Key"));
    json_t *req = json_object_get(in, "required");
    assert_int_equal(json_array_size(req), 1);
    assert_string_equal(json_string_value(json_array_get(req, 0)), "id");
    char *text = json_dumps(j, JSON_COMPACT);
    assert_null(strstr(text, "PETS_KEY"));
    assert_null(strstr(text, "$ref"));
    free(text);
    json_decref(j);
}

static void test_title_and_annotations(void **state)
{
    json_t *j = cg_mcp_tool_json(tool(state, "get-pet"));
    /* no label: the description's first sentence, without its period */
    assert_string_equal(json_string_value(json_object_get(j, "title")), "Get a pet by its id");
    json_t *a = json_object_get(j, "annotations");
    assert_non_null(a);
    assert_true(json_is_true(json_object_get(a, "readOnlyHint")));
    assert_true(json_is_false(json_object_get(a, "openWorldHint")));
    assert_null(json_object_get(a, "destructiveHint")); /* not in the spec: left out */
    assert_null(json_object_get(a, "idempotentHint"));
    assert_null(json_object_get(a, "title"));
    json_decref(j);

    j = cg_mcp_tool_json(tool(state, "pet_names_only"));
    /* no description: the name, words capitalised */
    assert_string_equal(json_string_value(json_object_get(j, "title")), "Pet Names Only");
    assert_null(json_object_get(j, "annotations")); /* no label, no hint */
    json_decref(j);
}

static void test_output_schema_object(void **state)
{
    json_t *o = cg_mcp_output_schema(&tool(state, "get-pet")->call);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "object");
    json_t *props = json_object_get(o, "properties");
    assert_int_equal(json_object_size(props), 2);
    json_t *name = json_object_get(props, "name");
    json_t *t = json_object_get(name, "type"); /* a mapping that finds nothing gives null */
    assert_int_equal(json_array_size(t), 2);
    assert_string_equal(json_string_value(json_array_get(t, 0)), "string");
    assert_string_equal(json_string_value(json_array_get(t, 1)), "null");
    assert_int_equal(json_integer_value(json_object_get(name, "maxLength")), 20);
    json_t *tags = json_object_get(props, "tags");
    assert_string_equal(json_string_value(json_array_get(json_object_get(tags, "type"), 0)),
                        "array");
    json_t *item_type = json_object_get(json_object_get(tags, "items"), "type");
    assert_string_equal(json_string_value(json_array_get(item_type, 0)), "string");
    assert_null(json_object_get(o, "required")); /* {} must still conform */
    json_t *whole = cg_mcp_tool_json(tool(state, "get-pet"));
    assert_true(json_equal(json_object_get(whole, "outputSchema"), o));
    json_decref(whole);
    json_decref(o);
}

static void test_output_schema_array_is_wrapped(void **state)
{
    json_t *o = cg_mcp_output_schema(&tool(state, "pet_names_only")->call);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "object");
    json_t *items = json_object_get(json_object_get(o, "properties"), "items");
    assert_non_null(items); /* structuredContent is {"items": [...]} */
    assert_string_equal(json_string_value(json_array_get(json_object_get(items, "type"), 0)),
                        "array");
    json_decref(o);
}

static void test_tools_in_spec_order(void **state)
{
    cg_spec *spec = *state;
    json_t *all = cg_mcp_tools_json(&spec->mcp[0]);
    assert_int_equal(json_array_size(all), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 0), "name")),
                        "get-pet");
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 1), "name")),
                        "pet_names_only");
    json_t *one = cg_mcp_tool_json(tool(state, "pet_names_only"));
    assert_true(json_equal(json_array_get(all, 1), one)); /* the CLI and tools/list agree */
    json_decref(one);
    json_decref(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_schema),
        cmocka_unit_test(test_title_and_annotations),
        cmocka_unit_test(test_output_schema_object),
        cmocka_unit_test(test_output_schema_array_is_wrapped),
        cmocka_unit_test(test_tools_in_spec_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
