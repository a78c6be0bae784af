/* Unit tests for src/engine/metrics.c: counters and the latency histogram as rendered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/metrics.h"

static void metrics_render_counts_and_histogram(void **state)
{
    cg_metrics *m = cg_metrics_create();
    cg_metrics_count_request(m, "/v1/x/{id}", "GET", 200);
    cg_metrics_count_request(m, "/v1/x/{id}", "GET", 200);
    cg_metrics_count_request(m, "/v1/x/{id}", "GET", 404);
    cg_metrics_observe_upstream(m, 0.003, "ok");
    cg_metrics_observe_upstream(m, 200.0, "timeout");
    cg_metrics_in_flight(m, 2);
    cg_metrics_in_flight(m, -1);
    cg_buf b = CG_BUF_INIT;
    assert_int_equal(cg_metrics_render(m, &b), 0);
    assert_non_null(strstr(
        b.data, "capgate_requests_total{route=\"/v1/x/{id}\",method=\"GET\",status=\"200\"} 2\n"));
    assert_non_null(strstr(b.data, "status=\"404\"} 1\n"));
    assert_non_null(strstr(b.data, "capgate_upstream_duration_seconds_bucket{le=\"0.0025\"} 0\n"));
    assert_non_null(strstr(b.data, "capgate_upstream_duration_seconds_bucket{le=\"0.005\"} 1\n"));
    assert_non_null(strstr(b.data, "capgate_upstream_duration_seconds_bucket{le=\"120\"} 1\n"));
    assert_non_null(strstr(b.data, "capgate_upstream_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(b.data, "capgate_upstream_calls_total{result=\"timeout\"} 1\n"));
    assert_non_null(strstr(b.data, "capgate_requests_in_flight 1\n"));
    cg_buf_free(&b);
    cg_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metrics_render_counts_and_histogram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
