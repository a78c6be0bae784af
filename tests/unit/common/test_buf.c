/* Unit tests for src/common/buf.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"

static void buf_appends_and_terminates(void **state)
{
    cg_buf b = CG_BUF_INIT;
    assert_int_equal(cg_buf_append_str(&b, "abc"), 0);
    assert_int_equal(cg_buf_printf(&b, "-%d", 42), 0);
    assert_string_equal(b.data, "abc-42");
    assert_int_equal(b.len, 6);
    cg_buf_free(&b);
}

static void buf_refuses_growth_past_max_and_stays_unchanged(void **state)
{
    cg_buf b = CG_BUF_INIT;
    b.max = 4;
    assert_int_equal(cg_buf_append_str(&b, "abcd"), 0);
    assert_int_equal(cg_buf_append_str(&b, "e"), -1);
    assert_string_equal(b.data, "abcd");
    cg_buf_free(&b);
}

static void buf_json_escape_handles_controls_quotes_and_bad_utf8(void **state)
{
    cg_buf b = CG_BUF_INIT;
    const char in[] = "a\"b\\c\n\x01\xC3\xA9\xFF";
    assert_int_equal(cg_buf_append_json_escaped(&b, in, sizeof in - 1), 0);
    assert_string_equal(b.data, "a\\\"b\\\\c\\n\\u0001\xC3\xA9\xEF\xBF\xBD");
    cg_buf_free(&b);
}

static void buf_steal_hands_over_memory(void **state)
{
    cg_buf b = CG_BUF_INIT;
    char *empty = cg_buf_steal(&b);
    assert_string_equal(empty, "");
    free(empty);
    cg_buf_append_str(&b, "x");
    char *s = cg_buf_steal(&b);
    assert_string_equal(s, "x");
    assert_null(b.data);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_appends_and_terminates),
        cmocka_unit_test(buf_refuses_growth_past_max_and_stays_unchanged),
        cmocka_unit_test(buf_json_escape_handles_controls_quotes_and_bad_utf8),
        cmocka_unit_test(buf_steal_hands_over_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
