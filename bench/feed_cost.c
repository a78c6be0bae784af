/*
 * bench/feed_cost.c — what recording one call into the console's feed costs a worker, and
 * what a page's stream tick costs its loop. Built and run by bench/console.sh (cc + the
 * library); prints nanoseconds per operation.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "console/feed.h"

#define N 2000000

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void *record_many(void *arg)
{
    cg_call_event ev = {"rest", "GET", "/v1/api/ml/12345", 200, 200, 1.234};
    for (int i = 0; i < N; i++) cg_feed_record(arg, &ev);
    return NULL;
}

/* A reader that takes the lock as often as a page's stream tick would, 100 times faster. */
static volatile int stop_reader;
static void *read_often(void *arg)
{
    cg_feed_event ev[20];
    uint64_t after = 0, skipped;
    struct timespec ms = {0, 1000000};
    while (!stop_reader) {
        size_t n = cg_feed_read(arg, after, ev, 20, &skipped);
        if (n) after = ev[n - 1].seq;
        nanosleep(&ms, NULL);
    }
    return NULL;
}

int main(void)
{
    cg_feed *f = cg_feed_create(1024);
    double t0 = now_ns();
    record_many(f);
    printf("record, 1 thread:             %.0f ns/call\n", (now_ns() - t0) / N);

    pthread_t a, b, r;
    t0 = now_ns();
    pthread_create(&a, NULL, record_many, f);
    pthread_create(&b, NULL, record_many, f);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("record, 2 threads contending: %.0f ns/call (wall time per call per thread)\n",
           (now_ns() - t0) / N);

    pthread_create(&r, NULL, read_often, f);
    t0 = now_ns();
    pthread_create(&a, NULL, record_many, f);
    pthread_create(&b, NULL, record_many, f);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    double with_reader = (now_ns() - t0) / N;
    stop_reader = 1;
    pthread_join(r, NULL);
    printf("record, 2 threads + a reader every 1 ms: %.0f ns/call\n", with_reader);

    cg_feed_event ev[20];
    cg_buf out = CG_BUF_INIT;
    t0 = now_ns();
    for (int i = 0; i < 100000; i++) {
        size_t n = cg_feed_read(f, cg_feed_last(f) - 20, ev, 20, NULL);
        cg_buf_reset(&out);
        for (size_t k = 0; k < n; k++) cg_feed_event_json(&ev[k], &out);
    }
    printf("stream tick (read + format 20 events): %.1f us\n", (now_ns() - t0) / 100000 / 1e3);
    cg_buf_free(&out);
    cg_feed_free(f);
    return 0;
}
