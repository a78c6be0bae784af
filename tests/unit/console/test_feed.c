/* Unit tests for src/console/feed.c: the console's ring of calls (order, skipped events,
 * truncation, stats, many writers) and the metrics call sink that feeds it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>

#include "console/feed.h"
#include "engine/metrics.h"

static void record(cg_feed *f, const char *target, int status, double ms)
{
    cg_call_event ev = {"rest", "GET", target, status, status, ms};
    cg_feed_record(f, &ev);
}

static void feed_reads_in_order_after_a_sequence_number(void **state)
{
    cg_feed *f = cg_feed_create(16);
    record(f, "/a", 200, 1);
    record(f, "/b", 404, 2);
    record(f, "/c", 502, 3);
    cg_feed_event ev[8];
    uint64_t skipped = 99;
    size_t n = cg_feed_read(f, 1, ev, 8, &skipped);
    assert_int_equal(n, 2);
    assert_int_equal(skipped, 0);
    assert_string_equal(ev[0].target, "/b");
    assert_int_equal(ev[0].seq, 2);
    assert_string_equal(ev[1].target, "/c");
    assert_int_equal(cg_feed_last(f), 3);
    assert_int_equal(cg_feed_read(f, 3, ev, 8, NULL), 0);
    cg_feed_free(f);
}

static void feed_overwritten_events_are_counted_as_skipped(void **state)
{
    cg_feed *f = cg_feed_create(16); /* 16 slots */
    char t[16];
    for (int i = 1; i <= 40; i++) {
        snprintf(t, sizeof t, "/%d", i);
        record(f, t, 200, 1);
    }
    cg_feed_event ev[64];
    uint64_t skipped = 0;
    size_t n = cg_feed_read(f, 0, ev, 64, &skipped);
    assert_int_equal(n, 16); /* the newest 16 are kept */
    assert_int_equal(skipped, 24);
    assert_string_equal(ev[0].target, "/25");
    assert_string_equal(ev[n - 1].target, "/40");
    /* a reader asking from a sequence the feed never reached gets nothing, not garbage */
    assert_int_equal(cg_feed_read(f, 1000, ev, 64, &skipped), 0);
    cg_feed_free(f);
}

static void feed_truncates_long_strings_and_escapes_json(void **state)
{
    cg_feed *f = cg_feed_create(16);
    char long_target[400];
    memset(long_target, 'x', sizeof long_target - 1);
    long_target[sizeof long_target - 1] = '\0';
    record(f, long_target, 200, 1);
    record(f, "/<img src=x onerror=\"alert(1)\">\n", 200, 1);
    cg_feed_event ev[2];
    assert_int_equal(cg_feed_read(f, 0, ev, 2, NULL), 2);
    assert_int_equal(strlen(ev[0].target), CG_FEED_TARGET_MAX - 1);
    cg_buf b = CG_BUF_INIT;
    assert_int_equal(cg_feed_event_json(&ev[1], &b), 0);
    json_error_t e;
    json_t *j = json_loads(b.data, 0, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "target")),
                        "/<img src=x onerror=\"alert(1)\">\n");
    assert_true(json_is_integer(json_object_get(j, "upstream_status")));
    json_decref(j);
    cg_buf_free(&b);
    cg_feed_free(f);
}

static void feed_stats_count_errors_and_percentiles(void **state)
{
    cg_feed *f = cg_feed_create(1024);
    for (int i = 0; i < 98; i++) record(f, "/ok", 200, 1.0);
    record(f, "/slow", 502, 100.0);
    record(f, "/slow", 503, 100.0);
    cg_buf b = CG_BUF_INIT;
    assert_int_equal(cg_feed_stats_json(f, &b), 0);
    json_t *j = json_loads(b.data, 0, NULL);
    assert_non_null(j);
    json_t *total = json_object_get(j, "total");
    assert_int_equal(json_integer_value(json_object_get(total, "calls")), 100);
    assert_int_equal(json_integer_value(json_object_get(total, "errors")), 2);
    double p50 = json_real_value(json_object_get(total, "p50"));
    double p99 = json_real_value(json_object_get(total, "p99"));
    assert_true(p50 >= 1.0 && p50 < 1.2); /* buckets are 19% wide */
    assert_true(p99 >= 100.0 && p99 < 120.0);
    assert_int_equal(json_array_size(json_object_get(j, "seconds")), 60);
    json_decref(j);
    cg_buf_free(&b);
    cg_feed_free(f);
}

/* Many threads record at once: every event gets a unique sequence number. */
static void *hammer(void *arg)
{
    for (int i = 0; i < 10000; i++) record(arg, "/t", 200, 0.5);
    return NULL;
}

static void feed_records_from_many_threads(void **state)
{
    cg_feed *f = cg_feed_create(64);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, hammer, f);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    assert_int_equal(cg_feed_last(f), 40000);
    cg_feed_free(f);
}

static void metrics_sink_forwards_to_the_feed(void **state)
{
    cg_metrics *m = cg_metrics_create();
    cg_feed *f = cg_feed_create(16);
    cg_call_event ev = {"mcp", "tools/call", "get-ml-backend", 200, 200, 3.5};
    cg_metrics_record_call(m, &ev); /* no sink yet: nothing happens */
    assert_int_equal(cg_feed_last(f), 0);
    cg_metrics_set_call_sink(m, cg_feed_record, f);
    cg_metrics_record_call(m, &ev);
    cg_metrics_record_call(NULL, &ev); /* adapters without metrics */
    cg_feed_event out[1];
    assert_int_equal(cg_feed_read(f, 0, out, 1, NULL), 1);
    assert_string_equal(out[0].adapter, "mcp");
    assert_string_equal(out[0].target, "get-ml-backend");
    cg_feed_free(f);
    cg_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(feed_reads_in_order_after_a_sequence_number),
        cmocka_unit_test(feed_overwritten_events_are_counted_as_skipped),
        cmocka_unit_test(feed_truncates_long_strings_and_escapes_json),
        cmocka_unit_test(feed_stats_count_errors_and_percentiles),
        cmocka_unit_test(feed_records_from_many_threads),
        cmocka_unit_test(metrics_sink_forwards_to_the_feed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
