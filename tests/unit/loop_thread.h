/*
 * tests/unit/loop_thread.h — a capgate event loop run on a thread of its own, for the unit
 * tests that put a real server on the loop and talk to it from the test's thread.
 * Header-only (static inline); cmocka must be included first.
 */
#ifndef CG_TEST_LOOP_THREAD_H
#define CG_TEST_LOOP_THREAD_H

#include <pthread.h>

#include "net/loop.h"

static inline void *loop_thread_main(void *loop)
{
    cg_loop_run(loop);
    return NULL;
}

/* Runs loop on a new thread, *thread. */
static inline void loop_thread_start(cg_loop *loop, pthread_t *thread)
{
    assert_int_equal(pthread_create(thread, NULL, loop_thread_main, loop), 0);
}

/* Asks the loop to return and waits for its thread. */
static inline void loop_thread_stop(cg_loop *loop, pthread_t thread)
{
    cg_loop_request_stop(loop);
    pthread_join(thread, NULL);
}

#endif
