/* Unit tests for src/common/clock.c: the one monotonic and wall clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/clock.h"

static void clock_is_monotonic_and_wall_is_the_epoch(void **state)
{
    uint64_t a = cg_clock_mono_ns(), b = cg_clock_mono_ns();
    assert_true(b >= a);
    struct timespec pause = {0, 20 * 1000000};
    uint64_t m0 = cg_clock_mono_ms();
    nanosleep(&pause, NULL);
    assert_true(cg_clock_mono_ms() - m0 >= 19);
    uint64_t wall = cg_clock_wall_ms() / 1000u;
    uint64_t now = (uint64_t)time(NULL);
    assert_true(wall + 1 >= now && wall <= now + 1);
    assert_true(cg_clock_wall_ns() / 1000000000u + 1 >= now);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clock_is_monotonic_and_wall_is_the_epoch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
