/* Unit tests for src/engine/encode.c: percent-encoding, strict integers, header values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/encode.h"

static void encode_percent_keeps_unreserved_only(void **state)
{
    cg_buf b = CG_BUF_INIT;
    const char in[] = "a-Z_9.~/?#&= %\r\n\xC3\xA9";
    assert_int_equal(cg_encode_percent(&b, in, sizeof in - 1), 0);
    assert_string_equal(b.data, "a-Z_9.~%2F%3F%23%26%3D%20%25%0D%0A%C3%A9");
    cg_buf_free(&b);
}

static void encode_percent_never_leaves_a_dot_segment(void **state)
{
    cg_buf b = CG_BUF_INIT;
    cg_encode_percent(&b, "..", 2);
    assert_string_equal(b.data, "%2E%2E");
    cg_buf_reset(&b);
    cg_encode_percent(&b, ".", 1);
    assert_string_equal(b.data, "%2E");
    cg_buf_reset(&b);
    cg_encode_percent(&b, "...", 3);
    assert_string_equal(b.data, "...");
    cg_buf_free(&b);
}

static void parse_int64_is_strict(void **state)
{
    int64_t v = 0;
    assert_true(cg_parse_int64("42", 2, &v));
    assert_int_equal(v, 42);
    assert_true(cg_parse_int64("-7", 2, &v));
    assert_int_equal(v, -7);
    assert_true(cg_parse_int64("0", 1, &v));
    assert_true(cg_parse_int64("9223372036854775807", 19, &v));
    assert_true(v == INT64_MAX);
    assert_true(cg_parse_int64("-9223372036854775808", 20, &v));
    assert_true(v == INT64_MIN);
    const char *bad[] = {"",
                         "-",
                         "+1",
                         " 1",
                         "1 ",
                         "1.5",
                         "1e3",
                         "0x10",
                         "007",
                         "-0",
                         "9223372036854775808",
                         "-9223372036854775809",
                         "12a",
                         "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(cg_parse_int64(bad[i], strlen(bad[i]), &v));
    assert_false(cg_parse_int64("1\0002", 3, &v)); /* an embedded NUL is garbage too */
}

static void header_values_refuse_line_breaks_and_nul(void **state)
{
    assert_true(cg_header_value_ok("Token abc\tdef", 13));
    assert_false(cg_header_value_ok("a\r\nX-Evil: 1", 12));
    assert_false(cg_header_value_ok("a\nb", 3));
    assert_false(cg_header_value_ok("a\0b", 3));
    assert_true(cg_header_name_ok("X-Api-Key"));
    assert_false(cg_header_name_ok("X Api"));
    assert_false(cg_header_name_ok("X:Api"));
    assert_false(cg_header_name_ok(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_percent_keeps_unreserved_only),
        cmocka_unit_test(encode_percent_never_leaves_a_dot_segment),
        cmocka_unit_test(parse_int64_is_strict),
        cmocka_unit_test(header_values_refuse_line_breaks_and_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
