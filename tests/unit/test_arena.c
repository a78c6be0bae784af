/*
 * test_arena.c — src/common/arena: the bump allocator the spec loader and every operation
 * call allocate from (the arena lives in its first block; larger requests get blocks of
 * their own; everything goes with one cg_arena_free).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/arena.h"

static void arena_allocations_are_zeroed_aligned_and_distinct(void **state)
{
    cg_arena *a = cg_arena_new();
    assert_non_null(a);
    unsigned char *prev = NULL;
    for (int i = 0; i < 1000; i++) {   /* spans many 4 KiB blocks */
        unsigned char *p = cg_arena_alloc(a, 24);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        for (int j = 0; j < 24; j++) assert_int_equal(p[j], 0);
        memset(p, 0xAB, 24);            /* must not overwrite an earlier allocation */
        if (prev) assert_int_equal(prev[0], 0xAB);
        prev = p;
    }
    cg_arena_free(a);
}

static void arena_serves_requests_larger_than_a_block(void **state)
{
    cg_arena *a = cg_arena_new();
    char *small = cg_arena_strdup(a, "before");
    char *big = cg_arena_alloc(a, 100000);
    assert_non_null(big);
    memset(big, 'x', 100000);
    char *after = cg_arena_strndup(a, "after-and-more", 5);
    assert_string_equal(small, "before");
    assert_string_equal(after, "after");
    assert_null(cg_arena_strdup(a, NULL));
    char *s = cg_arena_printf(a, "%s-%d", "n", 42);
    assert_string_equal(s, "n-42");
    cg_arena_free(a);
    cg_arena_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena_allocations_are_zeroed_aligned_and_distinct),
        cmocka_unit_test(arena_serves_requests_larger_than_a_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
