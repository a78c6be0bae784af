/* Unit tests for src/common/buf.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

static void buf_printf_formats_in_place_or_grows_and_respects_max(void **state)
{
    cg_buf b = CG_BUF_INIT;
    assert_int_equal(cg_buf_printf(&b, "%s", "x"), 0); /* fits the first block */
    char long_text[300];
    memset(long_text, 'y', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    assert_int_equal(cg_buf_printf(&b, "[%s]", long_text), 0); /* does not: grows */
    assert_int_equal(b.len, 1 + 2 + 299);
    assert_int_equal(b.data[0], 'x');
    assert_int_equal(b.data[1], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], '\0');
    cg_buf_free(&b);

    b.max = 8; /* room in the allocation, but over max: refused, unchanged */
    assert_int_equal(cg_buf_append_str(&b, "abcd"), 0);
    assert_int_equal(cg_buf_printf(&b, "%s", "efghij"), -1);
    assert_string_equal(b.data, "abcd");
    assert_int_equal(b.len, 4);
    assert_int_equal(cg_buf_printf(&b, "%d", 1234), 0);
    assert_string_equal(b.data, "abcd1234");
    cg_buf_free(&b);
}

static void buf_append_uint_and_reserve(void **state)
{
    cg_buf b = CG_BUF_INIT;
    assert_int_equal(cg_buf_append_uint(&b, 0), 0);
    assert_int_equal(cg_buf_append_str(&b, " "), 0);
    assert_int_equal(cg_buf_append_uint(&b, 18446744073709551615ULL), 0);
    assert_string_equal(b.data, "0 18446744073709551615");
    assert_int_equal(cg_buf_reserve(&b, 1000), 0);
    assert_true(b.cap >= b.len + 1001);
    assert_string_equal(b.data, "0 18446744073709551615");
    const char *before = b.data;
    for (int i = 0; i < 100; i++) cg_buf_append(&b, "0123456789", 10);
    assert_ptr_equal(b.data, before); /* no reallocation within the reserved room */
    cg_buf_free(&b);
    b.max = 4;
    assert_int_equal(cg_buf_reserve(&b, 5), -1);
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

/* The plain way, byte by byte, to check the fast one against. */
static void reference_escape(cg_buf *out, const char *pieces[], size_t n_pieces)
{
    for (size_t i = 0; i < n_pieces; i++) {
        const char *p = pieces[i];
        if (!strcmp(p, "\"")) cg_buf_append_str(out, "\\\"");
        else if (!strcmp(p, "\\")) cg_buf_append_str(out, "\\\\");
        else if (!strcmp(p, "\n")) cg_buf_append_str(out, "\\n");
        else if (!strcmp(p, "\x01")) cg_buf_append_str(out, "\\u0001");
        else if (!strcmp(p, "\xFF")) cg_buf_append_str(out, "\xEF\xBF\xBD");
        else cg_buf_append_str(out, p);
    }
}

static void buf_json_escape_grows_for_any_mix(void **state)
{
    /* long runs of 6-byte escapes after plain text, and 2-byte UTF-8 on every boundary */
    const char *kinds[] = {"a", "\"", "\\", "\n", "\x01", "\xC3\xA9", "\xFF"};
    for (unsigned seed = 1; seed <= 20; seed++) {
        const char *pieces[3000];
        cg_buf in = CG_BUF_INIT, want = CG_BUF_INIT, got = CG_BUF_INIT;
        unsigned x = seed;
        for (size_t i = 0; i < 3000; i++) {
            x = x * 1103515245u + 12345u;
            pieces[i] = kinds[i < 1000 ? 0 : i < 2000 ? 4 : (x >> 16) % 7];
            cg_buf_append_str(&in, pieces[i]);
        }
        reference_escape(&want, pieces, 3000);
        cg_buf_append_str(&got, "x"); /* appends after what is there */
        assert_int_equal(cg_buf_append_json_escaped(&got, in.data, in.len), 0);
        assert_int_equal(got.len, want.len + 1);
        assert_memory_equal(got.data + 1, want.data, want.len);
        assert_int_equal(got.data[got.len], 0);
        cg_buf_free(&in);
        cg_buf_free(&want);
        cg_buf_free(&got);
    }
}

static void json_plain_table_is_rfc_8259(void **state)
{
    for (int c = 0; c < 256; c++)
        assert_int_equal(cg_json_plain[c] != 0, c >= 0x20 && c < 0x80 && c != '"' && c != '\\');
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
        cmocka_unit_test(buf_printf_formats_in_place_or_grows_and_respects_max),
        cmocka_unit_test(buf_append_uint_and_reserve),
        cmocka_unit_test(buf_json_escape_handles_controls_quotes_and_bad_utf8),
        cmocka_unit_test(buf_json_escape_grows_for_any_mix),
        cmocka_unit_test(json_plain_table_is_rfc_8259),
        cmocka_unit_test(buf_steal_hands_over_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
