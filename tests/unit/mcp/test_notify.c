/* Unit tests for src/mcp/notify.c: notifications/message about a call's outcome. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spec_fixture.h"

#include "common/buf.h"
#include "engine/call.h"
#include "mcp/notify.h"
#include "mcp/protocol.h"

#define SHIPPED "capabilities/label-studio-ml.yaml"

typedef struct fixture {
    cg_spec *spec;
    cg_mcp_core *core;
    cg_mcp_state st;
    cg_mcp_call *call;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!(f->spec = spec_fixture_load(SHIPPED, NULL, 0))) return -1;
    f->core = cg_mcp_core_create(f->spec, &f->spec->mcp[0], NULL);
    const char *msgs[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
        "\"2025-11-25\"}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/"
        "call\",\"params\":{\"name\":\"get-ml-backend\",\"arguments\":{\"id\":1}}}",
    };
    for (size_t i = 0; i < 3; i++) {
        json_t *m = cg_mcp_parse(msgs[i], strlen(msgs[i]), NULL, 0);
        cg_mcp_action a;
        cg_mcp_handle(f->core, &f->st, m, &a);
        if (a.act == CG_MCP_ACT_CALL) {
            f->call = a.call;
            a.call = NULL;
        }
        cg_mcp_action_release(&a);
        json_decref(m);
    }
    *state = f;
    return f->call ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cg_mcp_call_free(f->call);
    cg_mcp_core_free(f->core);
    cg_spec_free(f->spec);
    free(f);
    return 0;
}

static void set_level(fixture *f, cg_mcp_log_level level)
{
    f->st.log_level = level;
    f->st.log_level_set = true;
}

static const char *level_of(const json_t *n)
{
    return json_string_value(json_object_get(json_object_get(n, "params"), "level"));
}

static const json_t *data_of(const json_t *n)
{
    return json_object_get(json_object_get(n, "params"), "data");
}

static void notify_says_nothing_without_a_level(void **state)
{
    fixture *f = *state;
    cg_call_result res = {.error = CG_CALL_OK, .status = 500, .upstream_status = 500};
    assert_null(cg_mcp_call_log(f->call, &res, &f->st));
}

static void notify_levels_follow_the_outcome(void **state)
{
    fixture *f = *state;
    set_level(f, CG_MCP_LOG_DEBUG);
    cg_call_result s500 = {.error = CG_CALL_OK, .status = 500, .upstream_status = 500};
    json_t *n = cg_mcp_call_log(f->call, &s500, &f->st);
    assert_string_equal(json_string_value(json_object_get(n, "method")), "notifications/message");
    assert_string_equal(level_of(n), "error");
    assert_string_equal(json_string_value(json_object_get(data_of(n), "tool")), "get-ml-backend");
    assert_int_equal(json_integer_value(json_object_get(data_of(n), "status")), 500);
    json_decref(n);

    cg_call_result s404 = {.error = CG_CALL_OK, .status = 404, .upstream_status = 404};
    n = cg_mcp_call_log(f->call, &s404, &f->st);
    assert_string_equal(level_of(n), "warning");
    json_decref(n);

    cg_call_result retried = {
        .error = CG_CALL_OK, .status = 200, .upstream_status = 200, .upstream_retries = 2};
    n = cg_mcp_call_log(f->call, &retried, &f->st);
    assert_string_equal(level_of(n), "notice");
    assert_int_equal(json_integer_value(json_object_get(data_of(n), "retries")), 2);
    json_decref(n);

    cg_call_result fine = {.error = CG_CALL_OK, .status = 200, .upstream_status = 200};
    assert_null(cg_mcp_call_log(f->call, &fine, &f->st));
    cg_call_result bad = {.error = CG_CALL_BAD_ARGUMENT, .argument = "id"};
    assert_null(cg_mcp_call_log(f->call, &bad, &f->st));

    cg_call_result down = {.error = CG_CALL_UNREACHABLE, .upstream_retries = 2};
    snprintf(down.message, sizeof down.message, "connection refused");
    n = cg_mcp_call_log(f->call, &down, &f->st);
    assert_string_equal(level_of(n), "error");
    assert_string_equal(json_string_value(json_object_get(data_of(n), "error")),
                        cg_call_error_slug(CG_CALL_UNREACHABLE));
    assert_null(json_object_get(data_of(n), "status"));
    assert_non_null(
        strstr(json_string_value(json_object_get(data_of(n), "message")), "connection refused"));
    json_decref(n);
}

static void notify_respects_the_session_level(void **state)
{
    fixture *f = *state;
    set_level(f, CG_MCP_LOG_ERROR);
    cg_call_result s404 = {.error = CG_CALL_OK, .status = 404, .upstream_status = 404};
    assert_null(cg_mcp_call_log(f->call, &s404, &f->st));
    cg_call_result s503 = {.error = CG_CALL_OK, .status = 503, .upstream_status = 503};
    json_t *n = cg_mcp_call_log(f->call, &s503, &f->st);
    assert_non_null(n);
    json_decref(n);
    set_level(f, CG_MCP_LOG_CRITICAL);
    assert_null(cg_mcp_call_log(f->call, &s503, &f->st));
}

static void notify_never_carries_the_body(void **state)
{
    fixture *f = *state;
    set_level(f, CG_MCP_LOG_DEBUG);
    char body[] = "{\"token\":\"upstream-secret\"}";
    cg_call_result s500 = {.error = CG_CALL_OK,
                           .status = 500,
                           .upstream_status = 500,
                           .body = body,
                           .body_len = sizeof body - 1};
    json_t *n = cg_mcp_call_log(f->call, &s500, &f->st);
    char *text = cg_mcp_dump(n, NULL);
    assert_null(strstr(text, "upstream-secret"));
    free(text);
    json_decref(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(notify_says_nothing_without_a_level, setup, teardown),
        cmocka_unit_test_setup_teardown(notify_levels_follow_the_outcome, setup, teardown),
        cmocka_unit_test_setup_teardown(notify_respects_the_session_level, setup, teardown),
        cmocka_unit_test_setup_teardown(notify_never_carries_the_body, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
