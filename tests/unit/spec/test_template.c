/*
 * Unit tests for spec/template.h: `{{variable}}` templates and `{placeholder}` paths split
 * into parts (edge cases and every syntax error), and rendering (missing values reported,
 * no lookup at all, the output buffer's limit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spec/template.h"

static const char *lookup_fixed(void *ctx, const char *name, size_t len)
{
    return len == 7 && !strncmp(name, "env.KEY", 7) ? "secret" : NULL;
}

static void templates_split_render_and_report_missing_values(void **state)
{
    cg_arena *a = cg_arena_new();
    const char *why;
    cg_template *t = cg_template_parse(a, "Token {{ env.KEY }}!", &why);
    assert_non_null(t);
    assert_int_equal(t->n_parts, 3);
    cg_buf out = CG_BUF_INIT;
    assert_int_equal(cg_template_render(t, lookup_fixed, NULL, &out), 0);
    assert_string_equal(out.data, "Token secret!");
    cg_buf_reset(&out);
    cg_template *u = cg_template_parse(a, "{{OTHER}}", &why);
    assert_int_equal(cg_template_render(u, lookup_fixed, NULL, &out), 1);
    assert_false(cg_template_is_literal(u));
    assert_true(cg_template_is_literal(cg_template_parse(a, "plain", &why)));
    assert_null(cg_template_parse(a, "a {{b", &why));
    assert_string_equal(why, "unterminated '{{' in template");
    assert_null(cg_template_parse(a, "{{ }}", &why));
    cg_path_part *parts;
    assert_int_equal(cg_path_parse(a, "/a/{x}/b/{{y}}", &parts, &why), 4);
    assert_string_equal(parts[1].name, "x");
    assert_string_equal(parts[3].name, "y");
    assert_int_equal(cg_path_parse(a, "/a/{x", &parts, &why), -1);
    assert_int_equal(cg_path_parse(a, "/a/x}", &parts, &why), -1);
    cg_buf_free(&out);
    cg_arena_free(a);
}

static const char *lookup_letters(void *ctx, const char *name, size_t len)
{
    if (len == 1 && name[0] == 'a') return "A";
    if (len == 1 && name[0] == 'b') return "BB";
    if (len == 5 && !memcmp(name, "x-y.z", 5)) return "dotted";
    return NULL;
}

static const char *render(cg_arena *a, const char *text, int *rc)
{
    const char *why;
    cg_template *t = cg_template_parse(a, text, &why);
    if (!t) fail_msg("%s: %s", text, why ? why : "out of memory");
    static char out[256];
    cg_buf b = CG_BUF_INIT;
    *rc = cg_template_render(t, lookup_letters, NULL, &b);
    snprintf(out, sizeof out, "%.*s", (int)b.len, b.data ? b.data : "");
    cg_buf_free(&b);
    return out;
}

static void template_edge_cases(void **state)
{
    cg_arena *a = cg_arena_new();
    int rc;
    assert_string_equal(render(a, "", &rc), "");
    assert_int_equal(rc, 0);
    assert_string_equal(render(a, "{{a}}{{b}}", &rc), "ABB"); /* adjacent */
    assert_int_equal(rc, 0);
    assert_string_equal(render(a, "{{ x-y.z }}", &rc), "dotted");  /* trimmed; - . allowed */
    assert_string_equal(render(a, "{ {a}} }}", &rc), "{ {a}} }}"); /* no "{{": literal */
    assert_int_equal(rc, 0);
    assert_string_equal(render(a, "<{{a}}> }}", &rc), "<A> }}");    /* a stray }} is text */
    assert_string_equal(render(a, "[{{nope}}]{{b}}", &rc), "[]BB"); /* missing: "" and 1 */
    assert_int_equal(rc, 1);

    const char *why;
    char text[] = "k={{a}}";
    cg_template *t = cg_template_parse(a, text, &why);
    text[0] = 'X'; /* the template keeps its own copy */
    assert_string_equal(t->source, "k={{a}}");
    assert_int_equal(t->n_parts, 2);
    assert_false(t->parts[0].is_variable);
    assert_int_equal(t->parts[0].len, 2);
    assert_true(t->parts[1].is_variable);
    assert_memory_equal(t->parts[1].text, "a", 1);
    cg_template *empty = cg_template_parse(a, "", &why);
    assert_int_equal(empty->n_parts, 0);
    assert_true(cg_template_is_literal(empty));

    /* no lookup: every variable is missing, the literals still render */
    cg_buf b = CG_BUF_INIT;
    assert_int_equal(cg_template_render(t, NULL, NULL, &b), 1);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "k=", 2);
    /* over the buffer's limit: -1 */
    cg_buf small = CG_BUF_INIT;
    small.max = 2;
    assert_int_equal(cg_template_render(t, lookup_letters, NULL, &small), -1);
    cg_buf_free(&small);
    cg_buf_free(&b);
    cg_arena_free(a);
}

static void template_syntax_errors(void **state)
{
    cg_arena *a = cg_arena_new();
    struct {
        const char *text, *why;
    } bad[] = {
        {"{{", "unterminated '{{' in template"},
        {"x {{a} y", "unterminated '{{' in template"},
        {"{{}}", "empty '{{}}' in template"},
        {"{{   }}", "empty '{{}}' in template"},
        {"{{a b}}", "a template variable may hold only letters, digits, '_', '-' and '.'"},
        {"{{{a}}}", "a template variable may hold only letters, digits, '_', '-' and '.'"},
        {"{{a/b}}", "a template variable may hold only letters, digits, '_', '-' and '.'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = NULL;
        assert_null(cg_template_parse(a, bad[i].text, &why));
        if (!why || strcmp(why, bad[i].why))
            fail_msg("%s: got %s", bad[i].text, why ? why : "(null)");
    }
    cg_arena_free(a);
}

static void path_edge_cases_and_errors(void **state)
{
    cg_arena *a = cg_arena_new();
    const char *why;
    cg_path_part *parts = NULL;
    assert_int_equal(cg_path_parse(a, "/plain/path", &parts, &why), 1);
    assert_string_equal(parts[0].literal, "/plain/path");
    assert_null(parts[0].name);
    assert_int_equal(parts[0].input, -1);
    assert_int_equal(cg_path_parse(a, "{a}{b_c}-x", &parts, &why), 3);
    assert_string_equal(parts[0].name, "a");
    assert_string_equal(parts[1].name, "b_c");
    assert_string_equal(parts[2].literal, "-x");
    assert_int_equal(cg_path_parse(a, "", &parts, &why), 0);
    struct {
        const char *path, *why;
    } bad[] = {
        {"/a/}", "unbalanced '}' in path"},
        {"/a/{}", "a path placeholder must look like {name} or {{name}}"},
        {"/a/{x.y}", "a path placeholder must look like {name} or {{name}}"},
        {"/a/{{x}", "a path placeholder must look like {name} or {{name}}"},
        {"/a/{x}}", "unbalanced '}' in path"},
        {"/a/{x y}", "a path placeholder must look like {name} or {{name}}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why = NULL;
        assert_int_equal(cg_path_parse(a, bad[i].path, &parts, &why), -1);
        if (!why || strcmp(why, bad[i].why))
            fail_msg("%s: got %s", bad[i].path, why ? why : "(null)");
    }
    cg_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(templates_split_render_and_report_missing_values),
        cmocka_unit_test(template_edge_cases),
        cmocka_unit_test(template_syntax_errors),
        cmocka_unit_test(path_edge_cases_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
