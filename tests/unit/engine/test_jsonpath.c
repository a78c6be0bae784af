/*
 * test_jsonpath.c — JSONPath compile errors, every selector, Jayway result rules, and the
 * bounds: a 10,000-deep document and a large one under `..`.
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

#include "engine/jsonpath.h"

static const char *doc_text =
    "{\"a\":{\"b\":[10,20,30],\"c d\":\"spaced\"},"
    " \"items\":[{\"id\":1,\"kind\":\"x\",\"n\":5},{\"id\":2,\"kind\":\"y\",\"n\":7},"
    "            {\"id\":3,\"kind\":\"x\",\"flag\":true}],"
    " \"props\":{\"Name\":{\"title\":[{\"text\":{\"content\":\"Deep\"}}]}}}";

/* Evaluates expr over doc_text and returns the compact JSON of the result ("<none>" when
 * nothing matched). */
static char *eval(const char *expr)
{
    json_t *doc = json_loads(doc_text, 0, NULL);
    assert_non_null(doc);
    char err[200];
    int col;
    cg_jsonpath *p = cg_jsonpath_compile(expr, NULL, err, sizeof err, &col);
    if (!p) fail_msg("compile %s: %s at %d", expr, err, col);
    json_t *out;
    assert_int_equal(cg_jsonpath_eval(p, doc, &out), CG_JSONPATH_OK);
    char *s = out ? json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("<none>");
    json_decref(out);
    json_decref(doc);
    cg_jsonpath_free(p);
    return s;
}

#define EXPECT(expr, want)                                                                         \
    do {                                                                                           \
        char *got_ = eval(expr);                                                                   \
        if (strcmp(got_, want)) fail_msg("%s: got %s, want %s", expr, got_, want);                 \
        free(got_);                                                                                \
    } while (0)

static void test_definite_paths(void **state)
{
    EXPECT("$.a.b[1]", "20");
    EXPECT("$.a.b[-1]", "30");
    EXPECT("$['a']['c d']", "\"spaced\"");
    EXPECT("$.a.c d", "\"spaced\""); /* dot names with spaces, as the reference */
    EXPECT("$[\"items\"][0].kind", "\"x\"");
    EXPECT("$.props.Name.title[0].text.content", "\"Deep\"");
    EXPECT("$.a.missing", "<none>");
    EXPECT("$.a.b[7]", "<none>");
    EXPECT("$.a.b.x", "<none>"); /* a member of an array: nothing */
}

static void test_root(void **state)
{
    char err[100];
    cg_jsonpath *p = cg_jsonpath_compile("$.", NULL, err, sizeof err, NULL);
    assert_non_null(p);
    assert_true(cg_jsonpath_is_root(p));
    cg_jsonpath_free(p);
    p = cg_jsonpath_compile("$", NULL, err, sizeof err, NULL);
    assert_true(cg_jsonpath_is_root(p));
    cg_jsonpath_free(p);
    p = cg_jsonpath_compile("$.a", NULL, err, sizeof err, NULL);
    assert_false(cg_jsonpath_is_root(p));
    assert_true(cg_jsonpath_is_definite(p));
    cg_jsonpath_free(p);
    EXPECT("$",
           "{\"a\":{\"b\":[10,20,30],\"c d\":\"spaced\"},\"items\":[{\"id\":1,\"kind\":\"x\","
           "\"n\":5},{\"id\":2,\"kind\":\"y\",\"n\":7},{\"id\":3,\"kind\":\"x\",\"flag\":true}],"
           "\"props\":{\"Name\":{\"title\":[{\"text\":{\"content\":\"Deep\"}}]}}}");
}

static void test_indefinite_paths(void **state)
{
    EXPECT("$.items[*].id", "[1,2,3]");
    EXPECT("$.items.*.kind", "[\"x\",\"y\",\"x\"]");
    EXPECT("$.a.b[0:2]", "[10,20]");
    EXPECT("$.a.b[-2:]", "[20,30]");
    EXPECT("$..content", "[\"Deep\"]");
    EXPECT("$..id", "[1,2,3]");
    EXPECT("$.items[*].nothing", "[]");
    EXPECT("$..b[0]", "[10]");
}

static void test_filters(void **state)
{
    EXPECT("$.items[?(@.kind == 'x')].id", "[1,3]");
    EXPECT("$.items[?(@.kind != 'x')].id", "[2]");
    EXPECT("$.items[?(@.n > 5)].id", "[2]");
    EXPECT("$.items[?(@.n <= 5)].id", "[1]");
    EXPECT("$.items[?(@.flag)].id", "[3]");
    EXPECT("$.items[?(@.flag == true)].id", "[3]");
    EXPECT("$.items[?(@['kind'] == \"y\")].id", "[2]");
}

static void compile_fails(const char *expr, const char *fragment, int col)
{
    char err[200] = "";
    int at = 0;
    cg_jsonpath *p = cg_jsonpath_compile(expr, NULL, err, sizeof err, &at);
    if (p) fail_msg("%s compiled", expr);
    if (!strstr(err, fragment)) fail_msg("%s: message '%s' lacks '%s'", expr, err, fragment);
    if (col && at != col) fail_msg("%s: column %d, want %d", expr, at, col);
}

static void test_compile_errors(void **state)
{
    compile_fails("result", "starts with '$'", 1);
    compile_fails("$.a[", "expected", 0);
    compile_fails("$.a['x", "unterminated string", 0);
    compile_fails("$.a[1,2]", "unions", 0);
    compile_fails("$.a[?(@.x == 1 && @.y)]", "not supported", 0);
    compile_fails("$a", "expected '.' or '['", 2);
    compile_fails("$.a.", "member name", 5);
    compile_fails("$.a[?(x == 1)]", "relative path", 0);
}

/* A 10,000-deep document: `..` walks it with a heap stack (no recursion), and finds the
 * innermost member. */
static void test_deep_document_bounded(void **state)
{
    enum { DEPTH = 10000 };
    json_t *root = json_object(), *cur = root;
    for (int i = 0; i < DEPTH; i++) {
        json_t *next = json_object();
        json_object_set_new(cur, "k", next);
        cur = next;
    }
    json_object_set_new(cur, "leaf", json_string("bottom"));
    cg_jsonpath *p = cg_jsonpath_compile("$..leaf", NULL, NULL, 0, NULL);
    json_t *out;
    assert_int_equal(cg_jsonpath_eval(p, root, &out), CG_JSONPATH_OK);
    assert_string_equal(json_string_value(json_array_get(out, 0)), "bottom");
    json_decref(out);
    cg_jsonpath_free(p);
    json_decref(root);
}

/* A 3,000-deep chain of arrays: `$..*..*..*` would take billions of visits (each level
 * re-walks everything below it); it stops with CG_JSONPATH_LIMIT, quickly. */
static void test_visit_budget(void **state)
{
    json_t *arr = json_array(), *cur = arr;
    for (int i = 0; i < 3000; i++) {
        json_t *inner = json_array();
        json_array_append_new(cur, inner);
        cur = inner;
    }
    cg_jsonpath *p = cg_jsonpath_compile("$..*..*..*", NULL, NULL, 0, NULL);
    json_t *out;
    clock_t t0 = clock();
    cg_jsonpath_result rc = cg_jsonpath_eval(p, arr, &out);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    assert_int_equal(rc, CG_JSONPATH_LIMIT);
    assert_null(out);
    if (secs > 10) fail_msg("budget took %.1f s", secs);
    cg_jsonpath_free(p);
    json_decref(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_definite_paths),   cmocka_unit_test(test_root),
        cmocka_unit_test(test_indefinite_paths), cmocka_unit_test(test_filters),
        cmocka_unit_test(test_compile_errors),   cmocka_unit_test(test_deep_document_bounded),
        cmocka_unit_test(test_visit_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
