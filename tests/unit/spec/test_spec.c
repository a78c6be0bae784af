/*
 * Unit tests for the spec loader (src/spec): the shipped capability, a capability in the
 * reference engine's style, binds, and the broken-spec corpus in
 * tests/unit/spec_corpus/ (each NAME.yaml must produce exactly NAME.err). Templates and
 * paths (spec/template.h) have their own file, test_template.c.
 * Run from the repository root (make unit does).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spec/spec.h"

#define SHIPPED "capabilities/label-studio-ml.yaml"
#define CORPUS "tests/unit/spec_corpus"

static cg_spec *load_ok(const char *path)
{
    cg_buf errors = CG_BUF_INIT;
    cg_spec *spec = NULL;
    cg_spec_result rc = cg_spec_load(path, &spec, &errors);
    if (rc != CG_SPEC_OK) print_error("%s", errors.data ? errors.data : "(no message)\n");
    assert_int_equal(rc, CG_SPEC_OK);
    assert_non_null(spec);
    cg_buf_free(&errors);
    return spec;
}

static const cg_argument *find_argument(const cg_call *call, const char *name)
{
    for (size_t i = 0; i < call->n_arguments; i++)
        if (!strcmp(call->arguments[i].name, name)) return &call->arguments[i];
    return NULL;
}

static void shipped_spec_has_nine_operations_six_routes_nine_tools(void **state)
{
    cg_spec *s = load_ok(SHIPPED);
    assert_string_equal(s->naftiko, "1.0.0-alpha2");
    assert_int_equal(s->n_consumes, 1);
    assert_int_equal(s->consumes[0].n_ops, 9);
    assert_string_equal(s->consumes[0].base_uri, "http://localhost:8000");
    assert_int_equal(s->consumes[0].auth.type, CG_AUTH_APIKEY);
    assert_string_equal(s->consumes[0].auth.key, "Authorization");
    assert_int_equal(s->n_rest, 1);
    assert_int_equal(s->rest[0].port, 8080);
    assert_int_equal(s->rest[0].n_resources, 6);
    size_t ops = 0;
    for (size_t r = 0; r < s->rest[0].n_resources; r++) ops += s->rest[0].resources[r].n_ops;
    assert_int_equal(ops, 9);
    assert_int_equal(s->n_mcp, 1);
    assert_int_equal(s->mcp[0].port, 9090);
    assert_false(s->mcp[0].stdio);
    assert_int_equal(s->mcp[0].n_tools, 9);
    cg_spec_free(s);
}

static void shipped_spec_tools_carry_their_hints_and_calls(void **state)
{
    static const struct {
        const char *tool, *op;
        int read_only, destructive, idempotent;
    } want[] = {
        {"list-ml-backends", "list", 1, 0, 1},
        {"add-ml-backend", "create", 0, 0, 0},
        {"get-ml-backend", "get", 1, 0, 1},
        {"remove-ml-backend", "delete", 0, 1, 1},
        {"update-ml-backend", "update", 0, 0, 1},
        {"request-interactive-annotation", "predictinteractive", 0, 0, 0},
        {"create-predictions-all-tasks", "predictalltasks", 0, 0, 0},
        {"train", "train", 0, 0, 0},
        {"get-model-versions", "listmodelversions", 1, 0, 1},
    };
    cg_spec *s = load_ok(SHIPPED);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const cg_tool *t = cg_spec_find_tool(&s->mcp[0], want[i].tool);
        assert_non_null(t);
        assert_string_equal(t->call.op->name, want[i].op);
        assert_int_equal(t->hints.read_only, want[i].read_only);
        assert_int_equal(t->hints.destructive, want[i].destructive);
        assert_int_equal(t->hints.idempotent, want[i].idempotent);
        assert_int_equal(t->hints.open_world, -1);
    }
    assert_null(cg_spec_find_tool(&s->mcp[0], "no-such-tool"));
    cg_spec_free(s);
}

static void shipped_spec_resolves_arguments_with_types_and_locations(void **state)
{
    cg_spec *s = load_ok(SHIPPED);
    const cg_tool *get = cg_spec_find_tool(&s->mcp[0], "get-ml-backend");
    const cg_argument *id = find_argument(&get->call, "id");
    assert_non_null(id);
    assert_int_equal(id->type, CG_TYPE_INTEGER);
    assert_true(id->required);
    assert_int_equal(id->in, CG_IN_PATH);
    const cg_argument *auth = find_argument(&get->call, "Authorization");
    assert_non_null(auth);
    assert_true(auth->is_credential);
    assert_false(auth->required);

    const cg_tool *predict = cg_spec_find_tool(&s->mcp[0], "create-predictions-all-tasks");
    const cg_argument *batch = find_argument(&predict->call, "batch_size");
    assert_int_equal(batch->type, CG_TYPE_INTEGER);
    assert_false(batch->required);
    assert_int_equal(batch->in, CG_IN_QUERY);

    /* REST: list takes project from the query, create takes the JSON body */
    const cg_rest_resource *ml = &s->rest[0].resources[0];
    assert_string_equal(ml->path, "/v1/api/ml");
    const cg_argument *project = find_argument(&ml->ops[0].call, "project");
    assert_int_equal(project->in, CG_IN_QUERY);
    assert_int_equal(project->type, CG_TYPE_INTEGER);
    const cg_argument *body = find_argument(&ml->ops[1].call, "body");
    assert_int_equal(body->in, CG_IN_BODY);
    assert_int_equal(body->type, CG_TYPE_OBJECT);
    const cg_rest_resource *one = &s->rest[0].resources[1];
    assert_string_equal(one->path, "/v1/api/ml/{id}");
    assert_int_equal(one->n_ops, 3);
    assert_int_equal(find_argument(&one->ops[0].call, "id")->in, CG_IN_PATH);
    cg_spec_free(s);
}

static void shipped_spec_splits_consumed_paths_into_placeholders(void **state)
{
    cg_spec *s = load_ok(SHIPPED);
    const cg_operation *op = cg_spec_find_operation(s, "label-studio-subpackage-ml", "train");
    assert_non_null(op);
    assert_string_equal(op->method, "POST");
    assert_int_equal(op->n_path_parts, 3);
    assert_string_equal(op->path_parts[0].literal, "/api/ml/");
    assert_string_equal(op->path_parts[1].name, "id");
    assert_string_equal(op->inputs[op->path_parts[1].input].name, "id");
    assert_string_equal(op->path_parts[2].literal, "/train");
    const cg_operation *list = cg_spec_find_operation(s, "label-studio-subpackage-ml", "list");
    assert_int_equal(list->n_path_parts, 1);
    assert_string_equal(list->path_parts[0].literal, "/api/ml/");
    assert_true(list->inputs[1].is_credential);
    assert_false(list->inputs[0].is_credential);
    assert_null(cg_spec_find_operation(s, "label-studio-subpackage-ml", "nope"));
    cg_spec_free(s);
}

static void reference_style_spec_loads_with_double_braces_and_namespace_refs(void **state)
{
    cg_spec *s = load_ok("tests/unit/spec_valid_reference_style.yaml");
    const cg_operation *op = &s->consumes[0].ops[0];
    assert_string_equal(s->consumes[0].base_uri, "https://notes.example.com/v2");
    assert_int_equal(s->consumes[0].auth.type, CG_AUTH_BEARER);
    assert_string_equal(op->path_parts[1].name, "noteId");
    const cg_tool *t = &s->mcp[0].tools[0];
    assert_true(s->mcp[0].stdio);
    assert_int_equal(t->call.bindings[0].kind, CG_SOURCE_ARGUMENT);
    assert_string_equal(t->call.bindings[0].argument, "noteId");
    assert_int_equal(t->call.arguments[0].type, CG_TYPE_STRING);
    assert_string_equal(t->call.arguments[0].description, "The note id");
    const cg_rest_operation *ro = &s->rest[0].resources[0].ops[0];
    assert_int_equal(ro->call.bindings[0].kind, CG_SOURCE_ARGUMENT);
    assert_int_equal(ro->call.bindings[1].kind, CG_SOURCE_LITERAL);
    assert_string_equal(ro->call.bindings[1].literal->source, "json");
    cg_spec_free(s);
}

static void bind_values_come_from_the_environment(void **state)
{
    cg_spec *s = load_ok(SHIPPED);
    unsetenv("LABEL_STUDIO_API_KEY");
    assert_null(cg_spec_bind_value(s, "LABEL_STUDIO_API_KEY"));
    cg_buf w = CG_BUF_INIT;
    assert_int_equal(cg_spec_check_binds(s, &w), 1);
    assert_non_null(strstr(w.data, "environment variable LABEL_STUDIO_API_KEY is not set"));
    setenv("LABEL_STUDIO_API_KEY", "abc123", 1);
    assert_string_equal(cg_spec_bind_value(s, "LABEL_STUDIO_API_KEY"), "abc123");
    assert_string_equal(cg_spec_bind_value(s, "env.LABEL_STUDIO_API_KEY"), "abc123");
    assert_null(cg_spec_bind_value(s, "other.LABEL_STUDIO_API_KEY"));
    assert_int_equal(cg_spec_check_binds(s, NULL), 0);
    unsetenv("LABEL_STUDIO_API_KEY");
    cg_buf_free(&w);
    cg_spec_free(s);
}

static void missing_file_is_an_io_error_naming_it(void **state)
{
    cg_buf errors = CG_BUF_INIT;
    cg_spec *s = (cg_spec *)1;
    assert_int_equal(cg_spec_load("tests/unit/no-such-spec.yaml", &s, &errors), CG_SPEC_EIO);
    assert_null(s);
    assert_string_equal(errors.data,
                        "tests/unit/no-such-spec.yaml: cannot read: No such file or directory\n");
    cg_buf_free(&errors);
}

static void oversized_spec_is_refused_before_parsing(void **state)
{
    size_t n = (4u << 20) + 1;
    char *big = malloc(n);
    memset(big, '#', n);
    cg_buf errors = CG_BUF_INIT;
    cg_spec *s;
    assert_int_equal(cg_spec_load_string("big.yaml", big, n, &s, &errors), CG_SPEC_EINVALID);
    assert_string_equal(errors.data, "big.yaml: the spec is larger than 4194304 bytes\n");
    free(big);
    cg_buf_free(&errors);
}

/* ---- the broken-spec corpus: one cmocka test per file ----------------------------- */

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    cg_buf b = CG_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) cg_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return cg_buf_steal(&b);
}

static void broken_spec_gives_its_exact_messages(void **state)
{
    const char *name = *state; /* NAME.yaml */
    char path[512], expected_path[512];
    snprintf(path, sizeof path, CORPUS "/%s", name);
    snprintf(expected_path, sizeof expected_path, CORPUS "/%.*s.err", (int)(strlen(name) - 5),
             name);
    size_t len, elen;
    char *text = read_whole(path, &len);
    char *expected = read_whole(expected_path, &elen);
    assert_non_null(text);
    assert_non_null(expected);
    cg_buf errors = CG_BUF_INIT;
    cg_spec *s = NULL;
    assert_int_equal(cg_spec_load_string(name, text, len, &s, &errors), CG_SPEC_EINVALID);
    assert_null(s);
    assert_string_equal(errors.data ? errors.data : "", expected);
    cg_buf_free(&errors);
    free(text);
    free(expected);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct CMUnitTest *)a)->name, ((const struct CMUnitTest *)b)->name);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(shipped_spec_has_nine_operations_six_routes_nine_tools),
        cmocka_unit_test(shipped_spec_tools_carry_their_hints_and_calls),
        cmocka_unit_test(shipped_spec_resolves_arguments_with_types_and_locations),
        cmocka_unit_test(shipped_spec_splits_consumed_paths_into_placeholders),
        cmocka_unit_test(reference_style_spec_loads_with_double_braces_and_namespace_refs),
        cmocka_unit_test(bind_values_come_from_the_environment),
        cmocka_unit_test(missing_file_is_an_io_error_naming_it),
        cmocka_unit_test(oversized_spec_is_refused_before_parsing),
    };
    size_t n_fixed = sizeof fixed / sizeof fixed[0], n = n_fixed;
    struct CMUnitTest tests[256];
    memcpy(tests, fixed, sizeof fixed);
    DIR *d = opendir(CORPUS);
    if (!d) {
        fprintf(stderr, "cannot open %s (run from the repository root)\n", CORPUS);
        return 1;
    }
    struct dirent *e;
    size_t corpus = 0;
    while ((e = readdir(d)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".yaml")) continue;
        char *name = strdup(e->d_name);
        tests[n++] = (struct CMUnitTest){name, broken_spec_gives_its_exact_messages, NULL, NULL,
                                         name};
        corpus++;
    }
    closedir(d);
    qsort(tests + n_fixed, corpus, sizeof tests[0], by_name);
    if (corpus < 30) {
        fprintf(stderr, "the broken-spec corpus has %zu specs; at least 30 expected\n", corpus);
        return 1;
    }
    int failed = _cmocka_run_group_tests("spec", tests, n, NULL, NULL);
    for (size_t i = n_fixed; i < n; i++) free((void *)tests[i].name);
    return failed;
}
