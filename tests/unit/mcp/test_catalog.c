/*
 * Unit tests for an MCP adapter's resources and prompts (src/mcp/catalog.h): lists
 * (directories expanded, templates apart), URI matching with template parameters, static
 * reads (text, base64 blob, traversal and symlink refusals) and prompt rendering (required,
 * unknown and non-string arguments, values not re-expanded, a prompt kept in a file). The
 * spec is written in memory; its files live in a fresh temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tempdir.h"

#include "spec_fixture.h"

#include "mcp/catalog.h"
#include "mcp/jsonrpc.h"

typedef struct fixture {
    char dir[64];
    cg_spec *spec;
    const cg_mcp_adapter *mcp;
} fixture;

static void write_file(const char *dir, const char *rel, const char *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static const char SPEC_FMT[] = "naftiko: 1.0.0-alpha2\n"
                               "info: {label: Catalog, description: catalog unit test}\n"
                               "capability:\n"
                               "  consumes:\n"
                               "  - type: http\n"
                               "    namespace: registry\n"
                               "    baseUri: http://127.0.0.1:1\n"
                               "    resources:\n"
                               "    - name: ship\n"
                               "      path: /ships/{{imo}}\n"
                               "      operations:\n"
                               "      - name: get-ship\n"
                               "        method: GET\n"
                               "        inputParameters:\n"
                               "        - {name: imo, in: path, required: true}\n"
                               "  exposes:\n"
                               "  - type: mcp\n"
                               "    namespace: cat-mcp\n"
                               "    port: 9\n"
                               "    tools:\n"
                               "    - name: get-ship\n"
                               "      description: One ship.\n"
                               "      call: registry.get-ship\n"
                               "      with: {imo: cat-mcp.imo}\n"
                               "      inputParameters:\n"
                               "      - {name: imo, type: string}\n"
                               "    resources:\n"
                               "    - name: notes\n"
                               "      label: Notes\n"
                               "      uri: notes://all\n"
                               "      description: Every note.\n"
                               "      location: file://%s/notes\n"
                               "    - name: readme\n"
                               "      uri: notes://readme\n"
                               "      mimeType: text/x-custom\n"
                               "      location: file://%s/notes/a.md\n"
                               "    - name: ship\n"
                               "      uri: registry://ships/{shipId}/v/{rev}\n"
                               "      mimeType: application/json\n"
                               "      call: registry.get-ship\n"
                               "      with: {imo: '{{shipId}}'}\n"
                               "    prompts:\n"
                               "    - name: inspect\n"
                               "      label: Inspect\n"
                               "      description: Plan an inspection.\n"
                               "      arguments:\n"
                               "      - {name: ship, required: true}\n"
                               "      - {name: focus, required: false}\n"
                               "      template:\n"
                               "      - role: user\n"
                               "        content: 'Inspect {{ship}}, first {{focus}}.'\n"
                               "      - role: assistant\n"
                               "        content: Planned.\n"
                               "    - name: from-file\n"
                               "      description: A prompt kept in a file.\n"
                               "      arguments:\n"
                               "      - {name: who, required: true}\n"
                               "      location: file://%s/prompt.md\n"
                               "    - name: lost\n"
                               "      description: Its file is gone.\n"
                               "      location: file://%s/missing.md\n";

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (tempdir_make(f->dir, sizeof f->dir, "catalog") != 0) return -1;
    char path[256];
    snprintf(path, sizeof path, "%s/notes", f->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/notes/sub", f->dir);
    mkdir(path, 0700);
    write_file(f->dir, "notes/a.md", "# A\n", 4);
    write_file(f->dir, "notes/sub/b.txt", "bee", 3);
    write_file(f->dir, "notes/c.bin", "\xff\xfe\x00\x01", 4);
    write_file(f->dir, "secret.txt", "outside", 7);
    write_file(f->dir, "prompt.md", "Review as {{who}}.", 18);
    snprintf(path, sizeof path, "%s/notes/escape.txt", f->dir);
    char target[256];
    snprintf(target, sizeof target, "%s/secret.txt", f->dir);
    if (symlink(target, path) != 0) return -1;
    char spec[4096];
    int n = snprintf(spec, sizeof spec, SPEC_FMT, f->dir, f->dir, f->dir, f->dir);
    if (!(f->spec = spec_fixture_load("catalog.yaml", spec, (size_t)n))) return -1;
    f->mcp = &f->spec->mcp[0];
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cg_spec_free(f->spec);
    int rc = tempdir_remove(f->dir);
    free(f);
    return rc;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void test_resources_list(void **state)
{
    fixture *f = *state;
    json_t *list = cg_mcp_resources_json(f->mcp);
    assert_non_null(list);
    /* notes/ expanded to its regular files (sorted; the symbolic link is not one), then
     * the readme; the template is not a concrete resource */
    const char *want[] = {"notes://all/a.md", "notes://all/c.bin", "notes://all/sub/b.txt",
                          "notes://readme"};
    assert_int_equal(json_array_size(list), sizeof want / sizeof *want);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        assert_string_equal(str(json_array_get(list, i), "uri"), want[i]);
    json_t *a = json_array_get(list, 0);
    assert_string_equal(str(a, "name"), "notes");
    assert_string_equal(str(a, "title"), "Notes");
    assert_string_equal(str(a, "description"), "Every note.");
    assert_string_equal(str(a, "mimeType"), "text/markdown");
    assert_string_equal(str(json_array_get(list, 2), "mimeType"), "text/plain");
    assert_string_equal(str(json_array_get(list, 3), "mimeType"), "text/x-custom");
    json_decref(list);

    json_t *t = cg_mcp_resource_templates_json(f->mcp);
    assert_int_equal(json_array_size(t), 1);
    assert_string_equal(str(json_array_get(t, 0), "uriTemplate"),
                        "registry://ships/{shipId}/v/{rev}");
    assert_string_equal(str(json_array_get(t, 0), "mimeType"), "application/json");
    json_decref(t);
}

typedef struct params {
    char names[4][16];
    char values[4][32];
    int n;
} params;

static bool collect(void *ctx, const char *name, size_t name_len, const char *value,
                    size_t value_len)
{
    params *p = ctx;
    if (p->n == 4 || name_len >= 16 || value_len >= 32) return false;
    memcpy(p->names[p->n], name, name_len);
    memcpy(p->values[p->n], value, value_len);
    p->n++;
    return true;
}

static void test_resource_find(void **state)
{
    fixture *f = *state;
    const cg_mcp_resource *r = cg_mcp_resource_find(f->mcp, "notes://all/sub/b.txt", NULL, NULL);
    assert_non_null(r);
    assert_string_equal(r->name, "notes");
    r = cg_mcp_resource_find(f->mcp, "notes://readme", NULL, NULL);
    assert_string_equal(r->name, "readme");
    params p = {0};
    r = cg_mcp_resource_find(f->mcp, "registry://ships/IMO%201/v/7", collect, &p);
    assert_non_null(r);
    assert_string_equal(r->name, "ship");
    assert_int_equal(p.n, 2);
    assert_string_equal(p.names[0], "shipId");
    assert_string_equal(p.values[0], "IMO 1"); /* percent-decoded */
    assert_string_equal(p.names[1], "rev");
    assert_string_equal(p.values[1], "7");
    /* a placeholder matches one or more characters other than '/' */
    assert_null(cg_mcp_resource_find(f->mcp, "registry://ships//v/7", NULL, NULL));
    assert_null(cg_mcp_resource_find(f->mcp, "registry://ships/a/b/v/7", NULL, NULL));
    assert_null(cg_mcp_resource_find(f->mcp, "notes://other", NULL, NULL));
}

static json_t *read_uri(fixture *f, const char *uri, int *code, char *err, size_t errlen)
{
    const cg_mcp_resource *r = cg_mcp_resource_find(f->mcp, uri, NULL, NULL);
    assert_non_null(r);
    *code = 0;
    err[0] = 0;
    return cg_mcp_resource_read_static(r, uri, code, err, errlen);
}

static void test_read_static(void **state)
{
    fixture *f = *state;
    int code;
    char err[256];
    json_t *c = read_uri(f, "notes://all/sub/b.txt", &code, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(json_array_size(c), 1);
    json_t *item = json_array_get(c, 0);
    assert_string_equal(str(item, "uri"), "notes://all/sub/b.txt");
    assert_string_equal(str(item, "text"), "bee");
    assert_string_equal(str(item, "mimeType"), "text/plain");
    json_decref(c);

    c = read_uri(f, "notes://readme", &code, err, sizeof err);
    assert_string_equal(str(json_array_get(c, 0), "text"), "# A\n");
    assert_string_equal(str(json_array_get(c, 0), "mimeType"), "text/x-custom");
    json_decref(c);

    c = read_uri(f, "notes://all/c.bin", &code, err, sizeof err); /* not UTF-8 */
    item = json_array_get(c, 0);
    assert_null(json_object_get(item, "text"));
    assert_string_equal(str(item, "blob"), "//4AAQ==");
    assert_string_equal(str(item, "mimeType"), "application/octet-stream");
    json_decref(c);
}

static void test_read_static_refusals(void **state)
{
    fixture *f = *state;
    int code;
    char err[256];
    assert_null(read_uri(f, "notes://all/escape.txt", &code, err, sizeof err));
    assert_int_equal(code, CG_JSONRPC_INVALID_PARAMS);
    assert_non_null(strstr(err, "traversal"));
    assert_null(read_uri(f, "notes://all/../secret.txt", &code, err, sizeof err));
    assert_int_equal(code, CG_JSONRPC_INVALID_PARAMS);
    assert_null(read_uri(f, "notes://all/%2e%2e/secret.txt", &code, err, sizeof err));
    assert_int_equal(code, CG_JSONRPC_INVALID_PARAMS);
    assert_null(read_uri(f, "notes://all/nothing.txt", &code, err, sizeof err));
    assert_int_equal(code, CG_JSONRPC_INVALID_PARAMS);
    assert_non_null(strstr(err, "notes://all/nothing.txt"));
    assert_null(read_uri(f, "notes://all/sub", &code, err, sizeof err));
    assert_int_equal(code, CG_JSONRPC_INVALID_PARAMS);
    assert_non_null(strstr(err, "directory"));
}

static void test_prompts_list(void **state)
{
    fixture *f = *state;
    json_t *list = cg_mcp_prompts_json(f->mcp);
    assert_int_equal(json_array_size(list), 3);
    json_t *p = json_array_get(list, 0);
    assert_string_equal(str(p, "name"), "inspect");
    assert_string_equal(str(p, "title"), "Inspect");
    assert_string_equal(str(p, "description"), "Plan an inspection.");
    json_t *args = json_object_get(p, "arguments");
    assert_int_equal(json_array_size(args), 2);
    assert_string_equal(str(json_array_get(args, 0), "name"), "ship");
    assert_true(json_is_true(json_object_get(json_array_get(args, 0), "required")));
    assert_true(json_is_false(json_object_get(json_array_get(args, 1), "required")));
    assert_string_equal(str(json_array_get(list, 1), "name"), "from-file");
    json_decref(list);
    assert_non_null(cg_mcp_prompt_find(f->mcp, "lost"));
    assert_null(cg_mcp_prompt_find(f->mcp, "nope"));
}

static const char *message_text(json_t *result, size_t i)
{
    return str(json_object_get(json_array_get(json_object_get(result, "messages"), i), "content"),
               "text");
}

static void test_prompt_get(void **state)
{
    fixture *f = *state;
    const cg_mcp_prompt *p = cg_mcp_prompt_find(f->mcp, "inspect");
    int code = 0;
    char err[256] = "";
    json_t *args = json_pack("{s:s, s:s}", "ship", "Ever {{focus}}", "focus", "the hull");
    json_t *r = cg_mcp_prompt_get(p, args, &code, err, sizeof err);
    assert_non_null(r);
    json_t *msgs = json_object_get(r, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(str(json_array_get(msgs, 0), "role"), "user");
    /* a value's own {{...}} is not expanded */
    assert_string_equal(message_text(r, 0), "Inspect Ever {{focus}}, first the hull.");
    assert_string_equal(str(json_array_get(msgs, 1), "role"), "assistant");
    assert_string_equal(message_text(r, 1), "Planned.");
    json_decref(r);
    json_decref(args);

    args = json_pack("{s:s}", "ship", "Ever"); /* focus left out: stays as written */
    r = cg_mcp_prompt_get(p, args, &code, err, sizeof err);
    assert_string_equal(message_text(r, 0), "Inspect Ever, first {{focus}}.");
    json_decref(r);
    json_decref(args);

    /* a number is written as text; an object or array is refused */
    args = json_pack("{s:i}", "ship", 3);
    r = cg_mcp_prompt_get(p, args, &code, err, sizeof err);
    assert_string_equal(message_text(r, 0), "Inspect 3, first {{focus}}.");
    json_decref(r);
    json_decref(args);

    const char *bad[] = {"{}", "{\"ship\": \"x\", \"color\": \"red\"}", "{\"ship\": [3]}",
                         "{\"ship\": {}}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        args = json_loads(bad[i], 0, NULL);
        code = 0;
        err[0] = 0;
        assert_null(cg_mcp_prompt_get(p, args, &code, err, sizeof err));
        assert_int_equal(code, CG_JSONRPC_INVALID_PARAMS);
        assert_true(err[0] != 0);
        json_decref(args);
    }
    assert_null(cg_mcp_prompt_get(p, NULL, &code, err, sizeof err)); /* ship is required */
    assert_non_null(strstr(err, "ship"));

    args = json_pack("{s:s}", "who", "Ada");
    r = cg_mcp_prompt_get(cg_mcp_prompt_find(f->mcp, "from-file"), args, &code, err, sizeof err);
    assert_non_null(r);
    assert_string_equal(message_text(r, 0), "Review as Ada.");
    json_decref(r);
    json_decref(args);

    code = 0;
    assert_null(
        cg_mcp_prompt_get(cg_mcp_prompt_find(f->mcp, "lost"), NULL, &code, err, sizeof err));
    assert_int_equal(code, CG_JSONRPC_INTERNAL_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resources_list), cmocka_unit_test(test_resource_find),
        cmocka_unit_test(test_read_static),    cmocka_unit_test(test_read_static_refusals),
        cmocka_unit_test(test_prompts_list),   cmocka_unit_test(test_prompt_get),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
