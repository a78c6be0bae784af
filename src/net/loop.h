/*
 * loop.h — one event loop per worker thread: epoll and timers.
 *
 * A cg_loop owns one epoll set. Two kinds of things live on it:
 *   - file descriptors with a callback (the HTTP servers' listening sockets and
 *     connections, net/h1_server.h; the upstream clients' sockets);
 *   - timers (one-shot, millisecond resolution; curl's timer, retry back-off, the servers'
 *     sweeps, drains).
 * Nothing on a loop may block: callbacks run to completion quickly and hand off waiting to
 * the loop. A loop is used by exactly one thread, except cg_loop_request_stop(), which any
 * thread (or a signal-handling thread) may call.
 */
#ifndef CG_LOOP_H
#define CG_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cg_loop cg_loop;

/* Event bits for cg_loop_io_*: readable, writable. */
#define CG_LOOP_READ 1u
#define CG_LOOP_WRITE 2u
/* Edge-triggered (with peer-shutdown reports): the callback runs when readiness changes,
 * so it must read until a short read and write until EAGAIN; the registration never has
 * to change, which saves an epoll_ctl per state change. */
#define CG_LOOP_EDGE 4u
/* Reported (never requested): the peer shut down its side or the connection hung up. */
#define CG_LOOP_HUP 8u

typedef void (*cg_loop_io_cb)(cg_loop *loop, int fd, unsigned events, void *arg);
typedef void (*cg_loop_timer_cb)(cg_loop *loop, void *arg);
typedef void (*cg_loop_stop_cb)(cg_loop *loop, void *arg);

/* Creates a loop. NULL on failure, with a message in err (may be NULL). */
cg_loop *cg_loop_create(char *err, size_t errlen);

/* Frees the loop. File descriptors on it are not closed (their owners close them);
 * pending timers are dropped without running. */
void cg_loop_free(cg_loop *loop);

/* Watches fd for events (CG_LOOP_READ|CG_LOOP_WRITE); a second call for the same fd
 * changes the events and callback. 0, or -1 with errno set. */
int cg_loop_io_set(cg_loop *loop, int fd, unsigned events, cg_loop_io_cb cb, void *arg);

/* Stops watching fd (before it is closed). */
void cg_loop_io_remove(cg_loop *loop, int fd);

/* Runs cb once, ms milliseconds from now (0 = on the next iteration, never inside this
 * call). Returns a timer id (never 0), or 0 when out of memory. */
uint64_t cg_loop_timer_add(cg_loop *loop, long ms, cg_loop_timer_cb cb, void *arg);

/* Cancels a timer that has not run yet; unknown or 0 ids are ignored. */
void cg_loop_timer_cancel(cg_loop *loop, uint64_t id);

/* Milliseconds on a monotonic clock (cached per iteration). */
uint64_t cg_loop_now(cg_loop *loop);

/* Sets what happens when a stop is requested: cb runs once, on the loop's thread. With no
 * callback, a stop request ends cg_loop_run at once. */
void cg_loop_on_stop(cg_loop *loop, cg_loop_stop_cb cb, void *arg);

/* Thread-safe and async-signal-safe: asks the loop to stop (see cg_loop_on_stop). */
void cg_loop_request_stop(cg_loop *loop);

/* Ends cg_loop_run after the current iteration (loop thread only). */
void cg_loop_break(cg_loop *loop);

/* Runs until cg_loop_break (or a stop request with no stop callback); may be called again
 * afterwards. 0, or -1 when epoll itself fails. */
int cg_loop_run(cg_loop *loop);

#endif
