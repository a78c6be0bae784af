/* Unit tests for src/engine: encoding helpers, tokens, the loop's timers, metrics, the
 * upstream client's failure reporting and the operation call's checks (all of which
 * happen before anything is sent, so no server is needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/jwt_shape.h"
#include "engine/call.h"
#include "engine/encode.h"
#include "net/loop.h"
#include "engine/metrics.h"
#include "engine/token.h"
#include "net/upstream.h"
#include "spec/spec.h"

#define SPEC_FILE "capabilities/label-studio-ml.yaml"

/* ---- encode ------------------------------------------------------------------------- */

static void encode_percent_keeps_unreserved_only(void **state)
{
    cg_buf b = CG_BUF_INIT;
    const char in[] = "a-Z_9.~/?#&= %\r\n\xC3\xA9";
    assert_int_equal(cg_encode_percent(&b, in, sizeof in - 1), 0);
    assert_string_equal(b.data, "a-Z_9.~%2F%3F%23%26%3D%20%25%0D%0A%C3%A9");
    cg_buf_free(&b);
}

static void encode_percent_never_leaves_a_dot_segment(void **state)
{
    cg_buf b = CG_BUF_INIT;
    cg_encode_percent(&b, "..", 2);
    assert_string_equal(b.data, "%2E%2E");
    cg_buf_reset(&b);
    cg_encode_percent(&b, ".", 1);
    assert_string_equal(b.data, "%2E");
    cg_buf_reset(&b);
    cg_encode_percent(&b, "...", 3);
    assert_string_equal(b.data, "...");
    cg_buf_free(&b);
}

static void parse_int64_is_strict(void **state)
{
    int64_t v = 0;
    assert_true(cg_parse_int64("42", 2, &v));
    assert_int_equal(v, 42);
    assert_true(cg_parse_int64("-7", 2, &v));
    assert_int_equal(v, -7);
    assert_true(cg_parse_int64("0", 1, &v));
    assert_true(cg_parse_int64("9223372036854775807", 19, &v));
    assert_true(v == INT64_MAX);
    assert_true(cg_parse_int64("-9223372036854775808", 20, &v));
    assert_true(v == INT64_MIN);
    const char *bad[] = {"", "-", "+1", " 1", "1 ", "1.5", "1e3", "0x10", "007", "-0",
                         "9223372036854775808", "-9223372036854775809", "12a", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(cg_parse_int64(bad[i], strlen(bad[i]), &v));
    assert_false(cg_parse_int64("1\0002", 3, &v)); /* an embedded NUL is garbage too */
}

static void header_values_refuse_line_breaks_and_nul(void **state)
{
    assert_true(cg_header_value_ok("Token abc\tdef", 13));
    assert_false(cg_header_value_ok("a\r\nX-Evil: 1", 12));
    assert_false(cg_header_value_ok("a\nb", 3));
    assert_false(cg_header_value_ok("a\0b", 3));
    assert_true(cg_header_name_ok("X-Api-Key"));
    assert_false(cg_header_name_ok("X Api"));
    assert_false(cg_header_name_ok("X:Api"));
    assert_false(cg_header_name_ok(""));
}

/* ---- tokens ------------------------------------------------------------------------- */

/* {"alg":"HS256"} . {"exp":1900000000,"token_type":"refresh"} . sig */
#define JWT "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE5MDAwMDAwMDAsInRva2VuX3R5cGUiOiJyZWZyZXNoIn0.c2ln"

static void token_tells_jwts_from_legacy_keys(void **state)
{
    assert_true(cg_jwt_shaped(JWT));
    assert_false(cg_jwt_shaped("0123456789abcdef0123456789abcdef01234567"));
    assert_false(cg_jwt_shaped("eyJ.only-one-dot"));
    assert_false(cg_jwt_shaped("eyJa..c"));
    assert_false(cg_jwt_shaped("eyJa.b.c d"));
    assert_int_equal(cg_token_jwt_exp(JWT), 1900000000LL);
    assert_int_equal(cg_token_jwt_exp("eyJhbGciOiJIUzI1NiJ9.e30.c2ln"), -1); /* {} */
    assert_int_equal(cg_token_jwt_exp("not a jwt"), -1);
}

static void token_formats_legacy_keys_without_an_exchange(void **state)
{
    cg_buf out = CG_BUF_INIT;
    cg_token_waiter w = {0};
    cg_token *tm = cg_token_create(NULL, NULL, 1000);
    assert_int_equal(cg_token_authorization(tm, "abc123", "http://x/r", &out, &w), CG_TOKEN_READY);
    assert_string_equal(out.data, "Token abc123");
    cg_buf_reset(&out);
    assert_int_equal(cg_token_authorization(tm, "Bearer xyz", "http://x/r", &out, &w), CG_TOKEN_READY);
    assert_string_equal(out.data, "Bearer xyz");
    cg_buf_free(&out);
    cg_token_free(tm);
}

/* ---- loop --------------------------------------------------------------------------- */

typedef struct timer_log {
    char order[16];
    int n;
    uint64_t cancel_me;
} timer_log;

static void record_a(cg_loop *l, void *arg) { timer_log *t = arg; t->order[t->n++] = 'a'; }
static void record_b(cg_loop *l, void *arg) { timer_log *t = arg; t->order[t->n++] = 'b'; }
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

/* ---- metrics ------------------------------------------------------------------------ */

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
    assert_non_null(strstr(b.data, "capgate_requests_total{route=\"/v1/x/{id}\",method=\"GET\",status=\"200\"} 2\n"));
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

/* ---- upstream ----------------------------------------------------------------------- */

typedef struct up_result {
    cg_upstream_result result;
    int attempts;
    int calls;
} up_result;

static void on_up_done(void *arg, cg_upstream_response *res)
{
    up_result *r = arg;
    r->result = res->result;
    r->attempts = res->attempts;
    r->calls++;
}

static void stop_when_done(cg_loop *l, void *arg)
{
    up_result *r = arg;
    if (r->calls) cg_loop_break(l);
    else cg_loop_timer_add(l, 5, stop_when_done, r);
}

/* A port nobody listens on: bind, read the port, close. */
static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

static void upstream_reports_refused_connections_after_retrying_idempotent_calls(void **state)
{
    cg_loop *l = cg_loop_create(NULL, 0);
    cg_upstream_config cfg = {.retries = 2, .retry_backoff_ms = 5};
    cg_upstream *up = cg_upstream_create(l, &cfg, NULL, 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", closed_port());
    up_result get = {0}, post = {0};
    cg_upstream_request req = {.method = "GET", .url = url, .idempotent = true};
    assert_non_null(cg_upstream_submit(up, &req, on_up_done, &get));
    assert_int_equal(get.calls, 0); /* never inside submit */
    req.method = "POST";
    req.idempotent = false;
    req.body = "{}";
    req.body_len = 2;
    assert_non_null(cg_upstream_submit(up, &req, on_up_done, &post));
    cg_loop_timer_add(l, 5, stop_when_done, &get);
    cg_loop_run(l);
    if (!post.calls) {
        cg_loop_timer_add(l, 5, stop_when_done, &post);
        cg_loop_run(l);
    }
    assert_int_equal(get.result, CG_UPSTREAM_UNREACHABLE);
    assert_int_equal(get.attempts, 3);
    assert_int_equal(post.result, CG_UPSTREAM_UNREACHABLE);
    assert_int_equal(post.attempts, 1);
    assert_int_equal(cg_upstream_pending(up), 0);
    cg_upstream_free(up);
    cg_loop_free(l);
}

static void break_loop(cg_loop *l, void *arg) { cg_loop_break(l); }

static void upstream_cancel_suppresses_the_callback(void **state)
{
    cg_loop *l = cg_loop_create(NULL, 0);
    cg_upstream_config cfg = {.max_in_flight = 1};
    cg_upstream *up = cg_upstream_create(l, &cfg, NULL, 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", closed_port());
    up_result a = {0}, b = {0};
    cg_upstream_request req = {.method = "GET", .url = url};
    cg_upstream_transfer *ta = cg_upstream_submit(up, &req, on_up_done, &a);
    cg_upstream_transfer *tb = cg_upstream_submit(up, &req, on_up_done, &b); /* queued */
    assert_int_equal(cg_upstream_pending(up), 2);
    cg_upstream_cancel(tb);
    assert_int_equal(cg_upstream_pending(up), 1);
    cg_upstream_cancel(ta);
    assert_int_equal(cg_upstream_pending(up), 0);
    cg_loop_timer_add(l, 50, break_loop, NULL);
    cg_loop_run(l);
    assert_int_equal(a.calls + b.calls, 0);
    cg_upstream_free(up);
    cg_loop_free(l);
}

/* ---- the operation call ------------------------------------------------------------- */

typedef struct fake_request {
    const char *names[4];
    const char *values[4];
} fake_request;

static bool fake_lookup(void *ctx, const cg_argument *arg, const char **value, size_t *len)
{
    fake_request *r = ctx;
    for (int i = 0; i < 4 && r->names[i]; i++)
        if (!strcmp(r->names[i], arg->name)) {
            *value = r->values[i];
            *len = strlen(r->values[i]);
            return true;
        }
    return false;
}

static void never_done(void *arg, cg_call_result *res) { fail(); }

static const cg_call *rest_call(const cg_spec *spec, const char *path, const char *method)
{
    for (size_t i = 0; i < spec->rest[0].n_resources; i++)
        if (!strcmp(spec->rest[0].resources[i].path, path))
            for (size_t k = 0; k < spec->rest[0].resources[i].n_ops; k++)
                if (!strcmp(spec->rest[0].resources[i].ops[k].method, method))
                    return &spec->rest[0].resources[i].ops[k].call;
    return NULL;
}

static void call_refuses_bad_values_before_sending(void **state)
{
    cg_spec *spec = NULL;
    assert_int_equal(cg_spec_load(SPEC_FILE, &spec, NULL), CG_SPEC_OK);
    cg_loop *l = cg_loop_create(NULL, 0);
    cg_engine *e = cg_engine_create(l, spec, NULL, NULL, NULL, 0);
    assert_non_null(e);
    cg_call_job *job;
    cg_call_result now;

    fake_request bad_id = {{"id"}, {"12abc"}};
    assert_int_equal(cg_call_start(e, rest_call(spec, "/v1/api/ml/{id}", "GET"), fake_lookup,
                                   &bad_id, "Token t", never_done, NULL, &job, &now), -1);
    assert_int_equal(now.error, CG_CALL_BAD_ARGUMENT);
    assert_string_equal(now.argument, "id");
    assert_int_equal(cg_call_error_status(&now), 400);

    fake_request bad_batch = {{"id", "batch_size"}, {"3", "ten"}};
    assert_int_equal(cg_call_start(e, rest_call(spec, "/v1/api/ml/{id}/predict", "POST"),
                                   fake_lookup, &bad_batch, "Token t", never_done, NULL, &job,
                                   &now), -1);
    assert_string_equal(now.argument, "batch_size");

    fake_request missing_id = {{NULL}, {NULL}};
    assert_int_equal(cg_call_start(e, rest_call(spec, "/v1/api/ml/{id}", "DELETE"), fake_lookup,
                                   &missing_id, "Token t", never_done, NULL, &job, &now), -1);
    assert_int_equal(now.error, CG_CALL_BAD_ARGUMENT);

    fake_request bad_json = {{"body"}, {"{\"a\":"}};
    assert_int_equal(cg_call_start(e, rest_call(spec, "/v1/api/ml", "POST"), fake_lookup,
                                   &bad_json, "Token t", never_done, NULL, &job, &now), -1);
    assert_string_equal(now.argument, "body");

    fake_request ok = {{"id"}, {"3"}};
    assert_int_equal(cg_call_start(e, rest_call(spec, "/v1/api/ml/{id}", "GET"), fake_lookup,
                                   &ok, "Token a\r\nX-Evil: 1", never_done, NULL, &job, &now), -1);
    assert_int_equal(now.error, CG_CALL_BAD_ARGUMENT);
    assert_string_equal(now.argument, "Authorization");

    unsetenv("LABEL_STUDIO_API_KEY");
    assert_int_equal(cg_call_start(e, rest_call(spec, "/v1/api/ml/{id}", "GET"), fake_lookup,
                                   &ok, NULL, never_done, NULL, &job, &now), -1);
    assert_int_equal(now.error, CG_CALL_NO_CREDENTIALS);
    assert_int_equal(cg_call_error_status(&now), 401);
    assert_non_null(strstr(now.message, "LABEL_STUDIO_API_KEY"));
    assert_int_equal(cg_engine_pending(e), 0);

    cg_engine_free(e);
    cg_loop_free(l);
    cg_spec_free(spec);
}

static void call_error_statuses_map_once(void **state)
{
    cg_call_result r = {.error = CG_CALL_UNREACHABLE};
    assert_int_equal(cg_call_error_status(&r), 502);
    r.error = CG_CALL_BAD_GATEWAY;
    assert_int_equal(cg_call_error_status(&r), 502);
    r.error = CG_CALL_TIMEOUT;
    assert_int_equal(cg_call_error_status(&r), 504);
    r.error = CG_CALL_OVERLOADED;
    assert_int_equal(cg_call_error_status(&r), 503);
    r.error = CG_CALL_CREDENTIALS_REFUSED;
    assert_int_equal(cg_call_error_status(&r), 401);
    r.error = CG_CALL_OK;
    r.status = 204;
    assert_int_equal(cg_call_error_status(&r), 204);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_percent_keeps_unreserved_only),
        cmocka_unit_test(encode_percent_never_leaves_a_dot_segment),
        cmocka_unit_test(parse_int64_is_strict),
        cmocka_unit_test(header_values_refuse_line_breaks_and_nul),
        cmocka_unit_test(token_tells_jwts_from_legacy_keys),
        cmocka_unit_test(token_formats_legacy_keys_without_an_exchange),
        cmocka_unit_test(loop_runs_timers_in_deadline_order_and_skips_cancelled),
        cmocka_unit_test(loop_stop_request_without_callback_ends_run),
        cmocka_unit_test(metrics_render_counts_and_histogram),
        cmocka_unit_test(upstream_reports_refused_connections_after_retrying_idempotent_calls),
        cmocka_unit_test(upstream_cancel_suppresses_the_callback),
        cmocka_unit_test(call_refuses_bad_values_before_sending),
        cmocka_unit_test(call_error_statuses_map_once),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
