/* Unit tests for src/net/loop.c: timers in deadline order, cancelled timers skipped, a stop
 * request without a stop callback ending the run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/loop.h"

typedef struct timer_log {
    char order[16];
    int n;
    uint64_t cancel_me;
} timer_log;

static void record_a(cg_loop *l, void *arg)
{
    timer_log *t = arg;
    t->order[t->n++] = 'a';
}
static void record_b(cg_loop *l, void *arg)
{
    timer_log *t = arg;
    t->order[t->n++] = 'b';
}
static void record_c_and_stop(cg_loop *l, void *arg)
{
    timer_log *t = arg;
    t->order[t->n++] = 'c';
    cg_loop_break(l);
}

static void loop_runs_timers_in_deadline_order_and_skips_cancelled(void **state)
{
    cg_loop *l = cg_loop_create(NULL, 0);
    assert_non_null(l);
    timer_log t = {0};
    cg_loop_timer_add(l, 30, record_c_and_stop, &t);
    cg_loop_timer_add(l, 10, record_b, &t);
    cg_loop_timer_add(l, 0, record_a, &t);
    uint64_t x = cg_loop_timer_add(l, 5, record_b, &t);
    cg_loop_timer_cancel(l, x);
    cg_loop_timer_cancel(l, 0);     /* ignored */
    cg_loop_timer_cancel(l, 99999); /* ignored */
    assert_int_equal(cg_loop_run(l), 0);
    assert_string_equal(t.order, "abc");
    cg_loop_free(l);
}

static void loop_stop_request_without_callback_ends_run(void **state)
{
    cg_loop *l = cg_loop_create(NULL, 0);
    cg_loop_request_stop(l);
    assert_int_equal(cg_loop_run(l), 0);
    cg_loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loop_runs_timers_in_deadline_order_and_skips_cancelled),
        cmocka_unit_test(loop_stop_request_without_callback_ends_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
