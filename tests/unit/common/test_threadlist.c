/* Unit tests for src/common/threadlist.c: threads are reaped only once done, and joined. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/threadlist.h"

typedef struct job {
    cg_thread_node node; /* first, as threadlist.h asks */
    atomic_int *go;      /* the thread ends once this is set */
} job;

static void *job_main(void *arg)
{
    job *j = arg;
    while (!atomic_load(j->go)) usleep(1000);
    cg_threads_done(&j->node);
    return NULL;
}

static atomic_int released_count;

static void release_job(cg_thread_node *n)
{
    atomic_fetch_add(&released_count, 1);
    free(n);
}

static void threadlist_reaps_only_finished_threads_and_joins_the_rest(void **state)
{
    atomic_int go_a = 0, go_b = 0;
    cg_thread_node *list = NULL;
    atomic_store(&released_count, 0);
    for (int i = 0; i < 3; i++) {
        job *j = calloc(1, sizeof *j);
        j->go = i == 0 ? &go_a : &go_b;
        assert_int_equal(cg_threads_start(&list, &j->node, job_main), 0);
    }
    cg_threads_reap(&list, release_job); /* nobody is done yet */
    assert_int_equal(atomic_load(&released_count), 0);
    atomic_store(&go_a, 1);
    while (!atomic_load(&list->next->next->done)) /* the first started is last */
        usleep(1000);
    cg_threads_reap(&list, release_job);
    assert_int_equal(atomic_load(&released_count), 1);
    assert_non_null(list);
    assert_non_null(list->next);
    assert_null(list->next->next);
    atomic_store(&go_b, 1);
    cg_threads_join_all(list, release_job); /* waits for the two still going */
    assert_int_equal(atomic_load(&released_count), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threadlist_reaps_only_finished_threads_and_joins_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
