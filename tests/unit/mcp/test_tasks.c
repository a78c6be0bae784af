/* Unit tests for src/mcp/tasks.c (the task store) and the protocol core's task hooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "mcp/protocol.h"
#include "mcp/tasks.h"

#define SID "s1"

static const char *status_of(const json_t *reply)
{
    return json_string_value(json_object_get(json_object_get(reply, "result"), "status"));
}

static long long code_of(const json_t *reply)
{
    return json_integer_value(json_object_get(json_object_get(reply, "error"), "code"));
}

static void tasks_start_get_complete_result(void **state)
{
    cg_mcp_tasks *t = cg_mcp_tasks_create(0);
    json_t *rid = json_integer(7), *qid = json_integer(8);
    char id[CG_MCP_TASK_ID_MAX];
    json_t *created = cg_mcp_tasks_start(t, SID, rid, 5000, id);
    assert_non_null(created);
    assert_int_equal(strlen(id), 32);
    json_t *task = json_object_get(json_object_get(created, "result"), "task");
    assert_string_equal(json_string_value(json_object_get(task, "status")), "working");
    assert_int_equal(json_integer_value(json_object_get(task, "ttl")), 5000);
    assert_int_equal(json_integer_value(json_object_get(created, "id")), 7);
    json_decref(created);

    json_t *r = cg_mcp_tasks_answer(t, SID, CG_MCP_TASK_GET, id, qid, NULL);
    assert_string_equal(status_of(r), "working");
    json_decref(r);
    assert_null(cg_mcp_tasks_answer(t, SID, CG_MCP_TASK_RESULT, id, qid, NULL)); /* still working */

    const char *resp =
        "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"content\":[],\"isError\":true}}";
    cg_mcp_tasks_complete(t, id, resp, strlen(resp));
    r = cg_mcp_tasks_answer(t, SID, CG_MCP_TASK_GET, id, qid, NULL);
    assert_string_equal(status_of(r), "completed"); /* an isError result still completes */
    json_decref(r);
    r = cg_mcp_tasks_answer(t, SID, CG_MCP_TASK_RESULT, id, qid, NULL);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 8);
    const json_t *result = json_object_get(r, "result");
    assert_true(json_is_true(json_object_get(result, "isError")));
    const json_t *rel = json_object_get(json_object_get(result, "_meta"),
                                        "io.modelcontextprotocol/related-task");
    assert_string_equal(json_string_value(json_object_get(rel, "taskId")), id);
    json_decref(r);
    r = cg_mcp_tasks_answer(t, SID, CG_MCP_TASK_CANCEL, id, qid, NULL);
    assert_int_equal(code_of(r), CG_JSONRPC_INVALID_PARAMS); /* terminal: refused */
    json_decref(r);
    json_decref(rid);
    json_decref(qid);
    cg_mcp_tasks_free(t);
}

static void tasks_cancel_names_the_call_and_sticks(void **state)
{
    cg_mcp_tasks *t = cg_mcp_tasks_create(0);
    json_t *rid = json_string("call-1"), *qid = json_integer(2);
    char id[CG_MCP_TASK_ID_MAX];
    json_decref(cg_mcp_tasks_start(t, SID, rid, -1, id));
    json_t *cancel_id = NULL;
    json_t *r = cg_mcp_tasks_answer(t, SID, CG_MCP_TASK_CANCEL, id, qid, &cancel_id);
    assert_string_equal(status_of(r), "cancelled");
    assert_true(json_equal(cancel_id, rid));
    json_decref(cancel_id);
    json_decref(r);
    const char *resp = "{\"jsonrpc\":\"2.0\",\"id\":\"call-1\",\"result\":{\"content\":[]}}";
    cg_mcp_tasks_complete(t, id, resp, strlen(resp)); /* too late: stays cancelled */
    r = cg_mcp_tasks_answer(t, SID, CG_MCP_TASK_GET, id, qid, NULL);
    assert_string_equal(status_of(r), "cancelled");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "result"), "ttl")),
                     600000);
    json_decref(r);
    r = cg_mcp_tasks_answer(t, SID, CG_MCP_TASK_RESULT, id, qid, NULL);
    assert_int_equal(code_of(r), CG_JSONRPC_INTERNAL_ERROR);
    json_decref(r);
    json_decref(rid);
    json_decref(qid);
    cg_mcp_tasks_free(t);
}

static void tasks_are_per_session_and_bounded(void **state)
{
    cg_mcp_tasks *t = cg_mcp_tasks_create(2);
    json_t *rid = json_integer(1);
    char a[CG_MCP_TASK_ID_MAX], b[CG_MCP_TASK_ID_MAX], c[CG_MCP_TASK_ID_MAX];
    json_decref(cg_mcp_tasks_start(t, SID, rid, 99999999, a));
    json_decref(cg_mcp_tasks_start(t, "s2", rid, 0, b));
    assert_null(cg_mcp_tasks_start(t, SID, rid, 0, c)); /* full */
    json_t *r = cg_mcp_tasks_answer(t, "s2", CG_MCP_TASK_GET, a, rid, NULL);
    assert_int_equal(code_of(r), CG_JSONRPC_INVALID_PARAMS);
    json_decref(r);
    r = cg_mcp_tasks_answer(t, SID, CG_MCP_TASK_LIST, "", rid, NULL);
    const json_t *list = json_object_get(json_object_get(r, "result"), "tasks");
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "ttl")), 3600000);
    json_decref(r);
    /* b (ttl 0) ends: it is dropped at once, which makes room */
    cg_mcp_tasks_complete(t, b, "{}", 2);
    json_t *again = cg_mcp_tasks_start(t, SID, rid, 0, c);
    assert_non_null(again);
    json_decref(again);
    cg_mcp_tasks_forget_session(t, SID);
    r = cg_mcp_tasks_answer(t, SID, CG_MCP_TASK_LIST, "", rid, NULL);
    assert_int_equal(json_array_size(json_object_get(json_object_get(r, "result"), "tasks")), 0);
    json_decref(r);
    json_decref(rid);
    cg_mcp_tasks_free(t);
}

/* --- the protocol core ---------------------------------------------------------------- */

static cg_mcp_action handle(const cg_mcp_core *core, cg_mcp_state *st, const char *text)
{
    json_t *m = cg_mcp_parse(text, strlen(text), NULL, 0);
    cg_mcp_action a;
    cg_mcp_handle(core, st, m, &a);
    json_decref(m);
    return a;
}

static void core_tasks_only_where_declared(void **state)
{
    cg_spec *spec;
    cg_buf errors = CG_BUF_INIT;
    assert_int_equal(cg_spec_load("capabilities/label-studio-ml.yaml", &spec, &errors), CG_SPEC_OK);
    cg_buf_free(&errors);
    cg_mcp_core *core = cg_mcp_core_create(spec, &spec->mcp[0], NULL);
    const char *versions[] = {"2025-11-25", "2025-06-18"};
    for (int v = 0; v < 2; v++) {
        cg_mcp_state st = {0};
        char init[256];
        snprintf(init, sizeof init,
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"%s\"}}",
                 versions[v]);
        cg_mcp_action a = handle(core, &st, init);
        bool declared = json_object_get(
                            json_object_get(json_object_get(a.reply, "result"), "capabilities"),
                            "tasks") != NULL;
        assert_int_equal(declared, v == 0);
        cg_mcp_action_release(&a);
        a = handle(core, &st,
                   "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/"
                   "call\",\"params\":{\"name\":\"train\",\"arguments\":{\"id\":1},\"task\":{"
                   "\"ttl\":5}}}");
        assert_int_equal(a.act, CG_MCP_ACT_CALL);
        long long ttl = 0;
        assert_int_equal(cg_mcp_call_task(a.call, &ttl), v == 0);
        if (v == 0) assert_int_equal(ttl, 5);
        cg_mcp_action_release(&a);
        a = handle(core, &st,
                   "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tasks/"
                   "get\",\"params\":{\"taskId\":\"abc\"}}");
        if (v == 0) {
            assert_int_equal(a.act, CG_MCP_ACT_TASK);
            assert_int_equal(a.task_op, CG_MCP_TASK_GET);
            assert_string_equal(a.task_id, "abc");
        } else {
            assert_int_equal(code_of(a.reply), CG_JSONRPC_METHOD_NOT_FOUND);
        }
        cg_mcp_action_release(&a);
    }
    cg_mcp_state st = {0};
    cg_mcp_action a = handle(core, &st,
                             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                             "\"protocolVersion\":\"2025-11-25\"}}");
    cg_mcp_action_release(&a);
    a = handle(
        core, &st,
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/"
        "call\",\"params\":{\"name\":\"train\",\"arguments\":{\"id\":1},\"task\":{\"ttl\":-1}}}");
    assert_int_equal(code_of(a.reply), CG_JSONRPC_INVALID_PARAMS);
    cg_mcp_action_release(&a);
    a = handle(core, &st,
               "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tasks/cancel\",\"params\":{}}");
    assert_int_equal(code_of(a.reply), CG_JSONRPC_INVALID_PARAMS);
    cg_mcp_action_release(&a);
    cg_mcp_core_free(core);
    cg_spec_free(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tasks_start_get_complete_result),
        cmocka_unit_test(tasks_cancel_names_the_call_and_sticks),
        cmocka_unit_test(tasks_are_per_session_and_bounded),
        cmocka_unit_test(core_tasks_only_where_declared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
