/* Unit tests for src/engine/trace.c: W3C traceparent parsing, spans assembled into local
 * traces and the ring buffer, and the exporter's bounded queue (drops, never blocks, when
 * the collector is down). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <time.h>

#include "engine/trace.h"

/* ---- traceparent ---------------------------------------------------------------------- */

static void traceparent_valid_and_sampled_flag(void **state)
{
    uint8_t t[16], s[8];
    bool sampled = false;
    assert_true(cg_trace_parse_traceparent(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", t, s, &sampled));
    assert_true(sampled);
    assert_int_equal(t[0], 0x4b);
    assert_int_equal(s[7], 0xb7);
    assert_true(cg_trace_parse_traceparent(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", t, s, &sampled));
    assert_false(sampled);
    /* a future version may carry more fields after a dash */
    assert_true(cg_trace_parse_traceparent(
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", t, s, &sampled));
}

static void traceparent_malformed_is_refused(void **state)
{
    uint8_t t[16], s[8];
    bool sampled;
    const char *bad[] = {
        NULL,
        "",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   /* zero span id */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* version ff */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   /* upper case */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", /* v00 is exact */
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",   /* misplaced dash */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(cg_trace_parse_traceparent(bad[i], t, s, &sampled));
}

/* ---- spans and the ring --------------------------------------------------------------- */

static void spans_make_a_trace_in_the_ring(void **state)
{
    cg_trace_config cfg = {.sampling = 1.0, .buffer_size = 2};
    assert_int_equal(cg_trace_init(&cfg), 0);
    assert_true(cg_trace_on());
    cg_trace_set_incoming("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "get-ship");
    cg_span *root = cg_span_begin(CG_SPAN_SERVER, "ignored");
    assert_non_null(root);
    cg_trace_set_parent(root);
    cg_span *step = cg_span_begin(CG_SPAN_SERVER, "step"); /* a child: INTERNAL */
    cg_trace_set_parent(NULL);
    cg_span *client = cg_span_begin_client(step, "upstream");
    char tp[56];
    cg_span_traceparent(client, tp);
    assert_int_equal(strlen(tp), 55);
    assert_memory_equal(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36);
    assert_string_equal(tp + 52, "-01");
    cg_span_end(client, 200, false);
    cg_span_end(root, 200, false); /* the root may end before a child */
    cg_buf b = CG_BUF_INIT;
    cg_trace_render_list(&b, NULL, NULL);
    assert_non_null(strstr(b.data, "\"bufferUsed\":0")); /* not until every span ended */
    cg_buf_reset(&b);
    cg_span_end(step, 502, false);
    cg_trace_render_list(&b, NULL, NULL);
    assert_non_null(strstr(b.data, "\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\""));
    assert_non_null(strstr(b.data, "\"operation\":\"get-ship\""));
    assert_non_null(strstr(b.data, "\"spanCount\":3"));
    assert_non_null(strstr(b.data, "\"status\":\"OK\""));
    cg_buf_reset(&b);
    assert_int_equal(cg_trace_render_one(&b, "4bf92f3577b34da6a3ce929d0e0e4736"), 1);
    assert_non_null(strstr(b.data, "\"parentSpanId\":\"00f067aa0ba902b7\""));
    assert_non_null(strstr(b.data, "\"kind\":\"INTERNAL\""));
    assert_non_null(strstr(b.data, "\"kind\":\"CLIENT\""));
    assert_non_null(strstr(b.data, "\"status\":\"ERROR\"")); /* the step's 502 */
    cg_buf_reset(&b);
    assert_int_equal(cg_trace_render_one(&b, "0123456789abcdef0123456789abcdef"), 0);
    /* three more traces: the ring keeps two, newest first */
    const char *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) cg_span_end(cg_span_begin(CG_SPAN_SERVER, names[i]), 200, false);
    cg_buf_reset(&b);
    cg_trace_render_list(&b, NULL, NULL);
    assert_non_null(strstr(b.data, "\"bufferSize\":2,\"bufferUsed\":2"));
    assert_true(strstr(b.data, "\"operation\":\"c\"") < strstr(b.data, "\"operation\":\"b\""));
    assert_null(strstr(b.data, "\"operation\":\"a\""));
    cg_buf_reset(&b);
    cg_trace_render_list(&b, "b", NULL);
    assert_null(strstr(b.data, "\"operation\":\"c\""));
    cg_buf_free(&b);
    cg_trace_shutdown(100);
    assert_false(cg_trace_on());
    assert_null(cg_span_begin(CG_SPAN_SERVER, "off"));
}

/* A call with many upstream requests (call steps): every span is kept up to the cap. */
static void many_spans_in_one_trace(void **state)
{
    cg_trace_config cfg = {.sampling = 1.0, .buffer_size = 1};
    assert_int_equal(cg_trace_init(&cfg), 0);
    cg_span *root = cg_span_begin(CG_SPAN_SERVER, "many");
    for (int i = 0; i < 100; i++) cg_span_end(cg_span_begin_client(root, "up"), 200, false);
    cg_span_end(root, 200, false);
    cg_buf b = CG_BUF_INIT;
    cg_trace_render_list(&b, NULL, NULL);
    assert_non_null(strstr(b.data, "\"spanCount\":101"));
    char id[33];
    const char *p = strstr(b.data, "\"traceId\":\"");
    assert_non_null(p);
    memcpy(id, p + 11, 32);
    id[32] = '\0';
    cg_buf_reset(&b);
    assert_int_equal(cg_trace_render_one(&b, id), 1);
    size_t n = 0;
    for (const char *q = b.data; (q = strstr(q, "\"spanId\"")); q++) n++;
    assert_int_equal(n, 64); /* the detail keeps the first 64 */
    cg_buf_free(&b);
    cg_trace_shutdown(100);
}

static void unsampled_traces_propagate_but_are_not_kept(void **state)
{
    cg_trace_config cfg = {.sampling = 0.0, .buffer_size = 4};
    assert_int_equal(cg_trace_init(&cfg), 0);
    cg_span *s = cg_span_begin(CG_SPAN_SERVER, "x");
    cg_span *c = cg_span_begin_client(s, "y");
    char tp[56];
    cg_span_traceparent(c, tp);
    assert_string_equal(tp + 52, "-00");
    cg_span_end(c, 200, false);
    cg_span_end(s, 200, false);
    cg_buf b = CG_BUF_INIT;
    cg_trace_render_list(&b, NULL, NULL);
    assert_non_null(strstr(b.data, "\"bufferUsed\":0"));
    cg_buf_free(&b);
    cg_trace_shutdown(100);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A collector that refuses connections: spans beyond the queue are dropped, and ending a
 * span never waits for the network. */
static void export_queue_is_bounded_and_never_blocks(void **state)
{
    cg_trace_config cfg = {.sampling = 1.0,
                           .otlp_endpoint = "http://127.0.0.1:9/",
                           .queue_max = 8,
                           .export_interval_ms = 60000};
    assert_int_equal(cg_trace_init(&cfg), 0);
    double t0 = now_s();
    for (int i = 0; i < 1000; i++) cg_span_end(cg_span_begin(CG_SPAN_SERVER, "s"), 200, false);
    assert_true(now_s() - t0 < 0.5);
    cg_trace_counters c;
    cg_trace_counters_get(&c);
    assert_true(c.spans_dropped >= 1000 - 8);
    cg_trace_shutdown(500); /* the last 8 fail against the closed port */
    cg_trace_counters_get(&c);
    assert_int_equal(c.spans_exported, 0);
    assert_true(c.export_failures >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traceparent_valid_and_sampled_flag),
        cmocka_unit_test(traceparent_malformed_is_refused),
        cmocka_unit_test(spans_make_a_trace_in_the_ring),
        cmocka_unit_test(many_spans_in_one_trace),
        cmocka_unit_test(unsampled_traces_propagate_but_are_not_kept),
        cmocka_unit_test(export_queue_is_bounded_and_never_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
