/*
 * tests/unit/loop_thread.h — a capgate event loop run on a thread of its own, for the unit
 * tests that put a real server on the loop and talk to it from the test's thread; a call
 * the test has the loop thread make (a reload); and the runtime's drain for an adapter on
 * it (quiesce, then stop once nothing is active).
 * Header-only (static inline); cmocka must be included first.
 */
#ifndef CG_TEST_LOOP_THREAD_H
#define CG_TEST_LOOP_THREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

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

/* ---- a call made on the loop thread at the test's word ---- */

/* The test's thread asks, the loop thread runs fn(loop, arg) (an eventfd the loop watches):
 * how the tests run a reload where the runtime runs it, on the loop. */
typedef struct loop_wake {
    int fd;
    void (*fn)(cg_loop *loop, void *arg);
    void *arg;
} loop_wake;

static inline void loop_wake_ready(cg_loop *loop, int fd, unsigned events, void *arg)
{
    loop_wake *w = arg;
    uint64_t n;
    if (read(fd, &n, sizeof n) == sizeof n) w->fn(loop, w->arg);
}

/* Has loop watch w for fn(loop, arg): 0, or -1. */
static inline int loop_wake_add(loop_wake *w, cg_loop *loop, void (*fn)(cg_loop *, void *),
                                void *arg)
{
    *w = (loop_wake){.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), .fn = fn, .arg = arg};
    return w->fd < 0 || cg_loop_io_set(loop, w->fd, CG_LOOP_READ, loop_wake_ready, w) < 0 ? -1 : 0;
}

/* From the test's thread: fn runs on the loop thread, once, soon. */
static inline void loop_wake_send(const loop_wake *w)
{
    uint64_t one = 1;
    assert_int_equal(write(w->fd, &one, sizeof one), sizeof one);
}

static inline void loop_wake_remove(loop_wake *w, cg_loop *loop)
{
    cg_loop_io_remove(loop, w->fd);
    close(w->fd);
}

/* ---- the runtime's drain, for an adapter on the loop ---- */

/* A loop on its own thread that drains as the runtime's does when asked to stop:
 * quiesce(adapter) on the loop thread, then the loop ends once active(adapter) is 0
 * (looked at every 10 ms). */
typedef struct loop_drain {
    cg_loop *loop;
    void *adapter;
    void (*quiesce)(void *adapter);
    int (*active)(const void *adapter);
    pthread_t thread;
    bool stopped; /* the loop has returned */
} loop_drain;

static inline void loop_drain_check(cg_loop *loop, void *arg)
{
    loop_drain *d = arg;
    if (d->active(d->adapter) == 0) cg_loop_break(loop);
    else cg_loop_timer_add(loop, 10, loop_drain_check, d);
}

static inline void loop_drain_on_stop(cg_loop *loop, void *arg)
{
    loop_drain *d = arg;
    d->quiesce(d->adapter);
    loop_drain_check(loop, d);
}

/* Runs d->loop on its thread, with the drain as its stop. */
static inline void loop_drain_start(loop_drain *d)
{
    cg_loop_on_stop(d->loop, loop_drain_on_stop, d);
    loop_thread_start(d->loop, &d->thread);
}

/* Asks the loop to stop and waits until it has drained and returned (once). */
static inline void loop_drain_stop(loop_drain *d)
{
    if (d->stopped) return;
    loop_thread_stop(d->loop, d->thread);
    d->stopped = true;
}

#endif
