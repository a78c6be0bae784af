/* Unit tests for src/common/arena.c: zeroed, 16-byte aligned allocations that survive the
 * arena growing past a block (large ones too), string copies, printf, NULL handling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/arena.h"

static void allocations_are_zeroed_aligned_and_stay_put(void **state)
{
    cg_arena *a = cg_arena_new();
    assert_non_null(a);
    unsigned char *first[600];
    for (int i = 0; i < 600; i++) { /* 600 x 24 bytes: several 4 KiB blocks */
        first[i] = cg_arena_alloc(a, 24);
        assert_non_null(first[i]);
        assert_int_equal((uintptr_t)first[i] % 16, 0);
        for (int k = 0; k < 24; k++) assert_int_equal(first[i][k], 0);
        memset(first[i], i & 0xff, 24);
    }
    unsigned char *big = cg_arena_alloc(a, 100000); /* larger than a block */
    assert_non_null(big);
    assert_int_equal(big[0] | big[99999], 0);
    memset(big, 0xee, 100000);
    for (int i = 0; i < 600; i++) /* earlier allocations kept their bytes */
        for (int k = 0; k < 24; k++) assert_int_equal(first[i][k], i & 0xff);
    cg_arena_free(a);
}

static void strings_are_copied(void **state)
{
    cg_arena *a = cg_arena_new();
    char src[] = "capgate";
    char *s = cg_arena_strdup(a, src);
    src[0] = 'X';
    assert_string_equal(s, "capgate");
    assert_string_equal(cg_arena_strndup(a, "abcdef", 3), "abc");
    assert_string_equal(cg_arena_strndup(a, "ab\0cd", 5), "ab");
    assert_null(cg_arena_strdup(a, NULL));
    assert_null(cg_arena_strndup(a, NULL, 4));
    char *p = cg_arena_printf(a, "%s:%d/%05.1f", "port", 8080, 3.14159);
    assert_string_equal(p, "port:8080/003.1");
    char long_text[9000];
    memset(long_text, 'z', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    assert_string_equal(cg_arena_printf(a, "<%s>", long_text) + 8999, "z>");
    cg_arena_free(a);
    cg_arena_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allocations_are_zeroed_aligned_and_stay_put),
        cmocka_unit_test(strings_are_copied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
