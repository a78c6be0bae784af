/*
 * loop.c — the per-thread event loop. See loop.h.
 *
 * Shape, as Redis's ae.c: one epoll set, a table of file-descriptor handlers indexed by
 * fd, an unsorted array of timers (there are only a handful per loop: curl's one timer,
 * a retry back-off now and then, the servers' sweeps, a drain check), and the loop's wait
 * timeout taken from the nearest timer. An eventfd carries stop requests from other
 * threads and from the signal handler, the only cross-thread entry.
 *
 * epoll_event.data.u64 tells sources apart: a plain fd is its number, the stop eventfd is
 * TAG_WAKE.
 */
#include "net/loop.h"

#include "common/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define TAG_WAKE (2ULL << 32)
#define MAX_EVENTS 256

typedef struct io_handler {
    cg_loop_io_cb cb;
    void *arg;
    unsigned events;
    bool active;
} io_handler;

typedef struct loop_timer {
    uint64_t id;
    uint64_t when; /* cg_loop_now() deadline */
    cg_loop_timer_cb cb;
    void *arg;
} loop_timer;

struct cg_loop {
    int epfd;
    int wakefd;
    io_handler *io; /* indexed by fd */
    int n_io;
    loop_timer *timers;
    size_t n_timers, cap_timers;
    uint64_t next_timer_id;
    bool stopping; /* the stop callback ran */
    bool broken;   /* cg_loop_break was called */
    uint64_t now;
    cg_loop_stop_cb on_stop;
    void *on_stop_arg;
};

static void set_err(char *err, size_t errlen, const char *what)
{
    if (err && errlen) snprintf(err, errlen, "%s: %s", what, strerror(errno));
}

cg_loop *cg_loop_create(char *err, size_t errlen)
{
    cg_loop *loop = calloc(1, sizeof *loop);
    if (!loop) {
        set_err(err, errlen, "loop");
        return NULL;
    }
    loop->epfd = -1;
    loop->wakefd = -1;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        set_err(err, errlen, "epoll_create1");
        goto loop_create_err;
    }
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0) {
        set_err(err, errlen, "eventfd");
        goto loop_create_err;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_WAKE};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0) {
        set_err(err, errlen, "epoll_ctl");
        goto loop_create_err;
    }
    loop->now = cg_clock_mono_ms();
    return loop;

loop_create_err:
    cg_loop_free(loop);
    return NULL;
}

void cg_loop_free(cg_loop *loop)
{
    if (!loop) return;
    if (loop->wakefd >= 0) close(loop->wakefd);
    if (loop->epfd >= 0) close(loop->epfd);
    free(loop->io);
    free(loop->timers);
    free(loop);
}

static uint32_t epoll_bits(unsigned events)
{
    return ((events & CG_LOOP_READ) ? EPOLLIN : 0u) | ((events & CG_LOOP_WRITE) ? EPOLLOUT : 0u) |
           ((events & CG_LOOP_EDGE) ? (uint32_t)EPOLLET | EPOLLRDHUP : 0u);
}

int cg_loop_io_set(cg_loop *loop, int fd, unsigned events, cg_loop_io_cb cb, void *arg)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (fd >= loop->n_io) {
        int n = loop->n_io ? loop->n_io : 64;
        while (n <= fd) n *= 2;
        io_handler *io = realloc(loop->io, (size_t)n * sizeof *io);
        if (!io) return -1;
        memset(io + loop->n_io, 0, (size_t)(n - loop->n_io) * sizeof *io);
        loop->io = io;
        loop->n_io = n;
    }
    io_handler *h = &loop->io[fd];
    struct epoll_event ev = {.events = epoll_bits(events), .data.u64 = (uint64_t)fd};
    int op = h->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(loop->epfd, op, fd, &ev) < 0) {
        /* curl may hand us a new socket with the number of one it closed behind our back */
        if (op == EPOLL_CTL_MOD && errno == ENOENT) op = EPOLL_CTL_ADD;
        else if (op == EPOLL_CTL_ADD && errno == EEXIST) op = EPOLL_CTL_MOD;
        else return -1;
        if (epoll_ctl(loop->epfd, op, fd, &ev) < 0) return -1;
    }
    h->cb = cb;
    h->arg = arg;
    h->events = events;
    h->active = true;
    return 0;
}

void cg_loop_io_remove(cg_loop *loop, int fd)
{
    if (fd < 0 || fd >= loop->n_io || !loop->io[fd].active) return;
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    loop->io[fd].active = false;
}

uint64_t cg_loop_timer_add(cg_loop *loop, long ms, cg_loop_timer_cb cb, void *arg)
{
    if (loop->n_timers == loop->cap_timers) {
        size_t cap = loop->cap_timers ? loop->cap_timers * 2 : 16;
        loop_timer *t = realloc(loop->timers, cap * sizeof *t);
        if (!t) return 0;
        loop->timers = t;
        loop->cap_timers = cap;
    }
    uint64_t id = ++loop->next_timer_id;
    loop->timers[loop->n_timers++] = (loop_timer){
        .id = id, .when = cg_clock_mono_ms() + (uint64_t)(ms > 0 ? ms : 0), .cb = cb, .arg = arg};
    return id;
}

void cg_loop_timer_cancel(cg_loop *loop, uint64_t id)
{
    if (!id) return;
    for (size_t i = 0; i < loop->n_timers; i++)
        if (loop->timers[i].id == id) {
            loop->timers[i] = loop->timers[--loop->n_timers];
            return;
        }
}

uint64_t cg_loop_now(cg_loop *loop)
{
    return loop->now;
}

void cg_loop_on_stop(cg_loop *loop, cg_loop_stop_cb cb, void *arg)
{
    loop->on_stop = cb;
    loop->on_stop_arg = arg;
}

void cg_loop_request_stop(cg_loop *loop)
{
    uint64_t one = 1;
    ssize_t n = write(loop->wakefd, &one, sizeof one);
    (void)n; /* EAGAIN means a request is already pending */
}

void cg_loop_break(cg_loop *loop)
{
    loop->broken = true;
}

/* The epoll_wait timeout: the nearest timer, -1 for none. */
static int wait_timeout(cg_loop *loop)
{
    uint64_t now = cg_clock_mono_ms();
    int64_t best = -1;
    for (size_t i = 0; i < loop->n_timers; i++) {
        int64_t d = loop->timers[i].when > now ? (int64_t)(loop->timers[i].when - now) : 0;
        if (best < 0 || d < best) best = d;
    }
    if (best > 60000) best = 60000;
    return (int)best;
}

static void run_due_timers(cg_loop *loop)
{
    /* Timers added by the callbacks below wait for the next iteration (id > last). */
    uint64_t last = loop->next_timer_id;
    for (size_t i = 0; i < loop->n_timers;) {
        loop_timer t = loop->timers[i];
        if (t.when > loop->now || t.id > last) {
            i++;
            continue;
        }
        loop->timers[i] = loop->timers[--loop->n_timers];
        t.cb(loop, t.arg);
        i = 0; /* the callback may have cancelled or added timers: rescan */
    }
}

static void handle_wake(cg_loop *loop)
{
    uint64_t v;
    while (read(loop->wakefd, &v, sizeof v) > 0) {}
    if (loop->stopping) return;
    loop->stopping = true;
    if (loop->on_stop) loop->on_stop(loop, loop->on_stop_arg);
    else loop->broken = true;
}

int cg_loop_run(cg_loop *loop)
{
    struct epoll_event events[MAX_EVENTS];
    loop->broken = false; /* a loop may be run again after cg_loop_break */
    while (!loop->broken) {
        int n = epoll_wait(loop->epfd, events, MAX_EVENTS, wait_timeout(loop));
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        loop->now = cg_clock_mono_ms();
        for (int i = 0; i < n; i++) {
            uint64_t tag = events[i].data.u64;
            if (tag == TAG_WAKE) {
                handle_wake(loop);
            } else {
                int fd = (int)tag;
                if (fd >= loop->n_io || !loop->io[fd].active) continue;
                io_handler *h = &loop->io[fd];
                unsigned ev = 0;
                if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                    ev |= CG_LOOP_READ;
                if (events[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ev |= CG_LOOP_WRITE;
                if (events[i].events & (EPOLLRDHUP | EPOLLHUP)) ev |= CG_LOOP_HUP;
                h->cb(loop, fd, ev, h->arg);
            }
        }
        run_due_timers(loop);
    }
    return 0;
}
