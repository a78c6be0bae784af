/*
 * Unit tests for the MCP 2026-07-28 core (src/mcp/era.c): which messages are modern,
 * server/discover, the _meta envelope (-32602), the HTTP request metadata headers against
 * the body (-32020: missing, different, case, whitespace, Base64 names), versions (-32022
 * with data.supported and data.requested), removed and unknown methods (-32601, 404), and
 * what the revision adds to results (resultType, ttlMs, cacheScope, -32602 with data.uri).
 * Plain strings in, JSON out, against the shipped spec and tests/e2e/fixtures/catalog.
 * Run from the repository root (make unit does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mcp_core_fixture.h"

#include "engine/call.h"
#include "mcp/era.h"
#include "mcp/protocol.h"

typedef core_fixture fixture;

static const cg_mcp_core_options options = {.server_version = "9.9.9"};

static int setup(void **state)
{
    return core_fixture_setup(state, SHIPPED, &options);
}

static int teardown(void **state)
{
    return core_fixture_teardown(state);
}

static int setup_catalog(void **state)
{
    return core_fixture_setup_catalog(state, &options);
}

static int teardown_catalog(void **state)
{
    return core_fixture_teardown_catalog(state);
}

static long long error_code(const json_t *reply)
{
    return json_integer_value(json_object_get(json_object_get(reply, "error"), "code"));
}

#define META26                                                                                     \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                       \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}"

/* Handles text under 2026-07-28 with the given headers (NULL = stdio); returns the reply
 * (or NULL) and the HTTP status; *keep (may be NULL) gets the action. */
static json_t *run26(fixture *f, const char *text, const cg_mcp_era_headers *h, int *status,
                     cg_mcp_action *keep)
{
    json_t *msg = cg_mcp_parse(text, strlen(text), NULL, 0);
    assert_non_null(msg);
    cg_mcp_action a;
    int st = 0;
    cg_mcp_era_handle(f->core, msg, h, &a, &st);
    json_decref(msg);
    if (status) *status = st;
    json_t *reply = a.reply ? json_incref(a.reply) : NULL;
    if (keep) *keep = a;
    else cg_mcp_action_release(&a);
    return reply;
}

static void test_era_which_messages_are_modern(void **state)
{
    const char *modern[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" META26 "}}",
        ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":"
         "{\"io.modelcontextprotocol/protocolVersion\":\"1999-01-01\"}}}"),
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\"}",
    };
    for (size_t i = 0; i < 3; i++) {
        json_t *m = cg_mcp_parse(modern[i], strlen(modern[i]), NULL, 0);
        assert_true(cg_mcp_era_is_modern(m, NULL));
        json_decref(m);
    }
    const char *legacy = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/"
                         "list\",\"params\":{\"_meta\":{\"progressToken\":1}}}";
    json_t *m = cg_mcp_parse(legacy, strlen(legacy), NULL, 0);
    assert_false(cg_mcp_era_is_modern(m, NULL));
    assert_false(cg_mcp_era_is_modern(m, "2025-11-25"));
    assert_true(cg_mcp_era_is_modern(m, "2026-07-28")); /* the header alone decides too */
    json_decref(m);
    assert_true(cg_mcp_era_version_known("2026-07-28"));
    assert_true(cg_mcp_era_version_known("2025-03-26"));
    assert_false(cg_mcp_era_version_known("2026-07-29"));
    assert_false(cg_mcp_era_version_known(NULL));
}

static void test_era_discover(void **state)
{
    fixture *f = *state;
    int status;
    json_t *r = run26(
        f,
        "{\"jsonrpc\":\"2.0\",\"id\":\"d\",\"method\":\"server/discover\",\"params\":{" META26 "}}",
        NULL, &status, NULL);
    assert_int_equal(status, 200);
    const json_t *res = json_object_get(r, "result");
    assert_string_equal(json_string_value(json_object_get(r, "id")), "d");
    assert_string_equal(json_string_value(json_object_get(res, "resultType")), "complete");
    const json_t *v = json_object_get(res, "supportedVersions");
    assert_int_equal(json_array_size(v), 4);
    assert_string_equal(json_string_value(json_array_get(v, 0)), "2026-07-28");
    assert_non_null(json_object_get(json_object_get(res, "capabilities"), "tools"));
    assert_null(json_object_get(json_object_get(res, "capabilities"), "logging"));
    /* no subscriptions/listen here, so no list-change notifications to promise */
    assert_true(json_is_false(json_object_get(
        json_object_get(json_object_get(res, "capabilities"), "tools"), "listChanged")));
    const json_t *si = json_object_get(json_object_get(res, "_meta"),
                                       "io.modelcontextprotocol/serverInfo");
    assert_string_equal(json_string_value(json_object_get(si, "version")), "9.9.9");
    assert_int_equal(json_integer_value(json_object_get(res, "ttlMs")), CG_MCP_LIST_TTL_MS);
    assert_string_equal(json_string_value(json_object_get(res, "cacheScope")), "public");
    json_decref(r);
}

static void test_era_envelope_and_versions(void **state)
{
    fixture *f = *state;
    int status;
    /* no _meta, a _meta without clientCapabilities: -32602, 400, the id kept */
    json_t *r = run26(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\",\"params\":{}}",
                      NULL, &status, NULL);
    assert_int_equal(status, 400);
    assert_int_equal(error_code(r), -32602);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 5);
    json_decref(r);
    r = run26(f,
              "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\",\"params\":{\"_meta\":"
              "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}",
              NULL, &status, NULL);
    assert_int_equal(error_code(r), -32602);
    json_decref(r);
    /* a version we do not speak: -32022 with what we do and what was asked */
    r = run26(f,
              "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\",\"params\":{\"_meta\":"
              "{\"io.modelcontextprotocol/protocolVersion\":\"2099-01-01\","
              "\"io.modelcontextprotocol/clientCapabilities\":{}}}}",
              NULL, &status, NULL);
    assert_int_equal(status, 400);
    assert_int_equal(error_code(r), -32022);
    const json_t *data = json_object_get(json_object_get(r, "error"), "data");
    assert_string_equal(json_string_value(json_object_get(data, "requested")), "2099-01-01");
    assert_string_equal(json_string_value(json_array_get(json_object_get(data, "supported"), 1)),
                        "2025-11-25");
    json_decref(r);
    /* a requested version that is not text is not echoed, and the message is still there */
    r = cg_mcp_era_unsupported(NULL, "20\x80"
                                     "26");
    assert_non_null(json_object_get(json_object_get(r, "error"), "message"));
    assert_null(json_object_get(json_object_get(json_object_get(r, "error"), "data"), "requested"));
    json_decref(r);
    /* removed and unknown methods: -32601, 404 */
    const char *gone[] = {"initialize",          "ping", "logging/setLevel",
                          "resources/subscribe", "x/y",  NULL};
    for (size_t i = 0; gone[i]; i++) {
        char text[300];
        snprintf(text, sizeof text,
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":{" META26 "}}",
                 gone[i]);
        r = run26(f, text, NULL, &status, NULL);
        assert_int_equal(status, 404);
        assert_int_equal(error_code(r), -32601);
        json_decref(r);
    }
    /* a notification: 202, nothing to answer */
    cg_mcp_action a;
    r = run26(
        f,
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":3}}",
        NULL, &status, &a);
    assert_null(r);
    assert_int_equal(status, 202);
    assert_int_equal(a.act, CG_MCP_ACT_CANCEL);
    cg_mcp_action_release(&a);
}

static void test_era_headers(void **state)
{
    fixture *f = *state;
    const char *call = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":"
                       "{\"name\":\"get-ml-backend\",\"arguments\":{\"id\":1}," META26 "}}";
    struct {
        cg_mcp_era_headers h;
        int code;
    } cases[] = {
        {{"2026-07-28", "tools/call", "get-ml-backend"}, 0},
        {{"2026-07-28", "tools/call", "  get-ml-backend\t"}, 0},              /* OWS */
        {{"2026-07-28", "tools/call", "=?base64?Z2V0LW1sLWJhY2tlbmQ=?="}, 0}, /* decoded */
        {{NULL, "tools/call", "get-ml-backend"}, -32020},
        {{"2025-11-25", "tools/call", "get-ml-backend"}, -32020},
        {{"2026-07-28", NULL, "get-ml-backend"}, -32020},
        {{"2026-07-28", "TOOLS/CALL", "get-ml-backend"}, -32020}, /* case matters */
        {{"2026-07-28", "tools/call", NULL}, -32020},
        {{"2026-07-28", "tools/call", "train"}, -32020},
        {{"2026-07-28", "tools/call", "=?base64?Z2V0LW1sLWJhY2tlbmQ?="}, -32020}, /* bad padding */
        {{"2026-07-28", "tools/call", "=?base64?Z2V0!!!tYmFja2VuZA==?="}, -32020},
        {{"2026-07-28", "tools/call", "get-ml-backend\x80"}, -32020}, /* not ASCII */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int status;
        cg_mcp_action a;
        json_t *r = run26(f, call, &cases[i].h, &status, &a);
        /* the fast way in takes only the exact headers, and makes the same call */
        cg_mcp_quick q;
        assert_true(cg_mcp_quick_read(call, strlen(call), &q));
        cg_mcp_call *fast = cg_mcp_era_quick_call(f->core, &q, &cases[i].h);
        if (i == 0) {
            assert_non_null(fast);
            assert_ptr_equal(cg_mcp_call_tool(fast), cg_mcp_call_tool(a.call));
            assert_true(json_equal(cg_mcp_call_id(fast), cg_mcp_call_id(a.call)));
            cg_call_result res = upstream(200, "{\"a\":1}");
            json_t *r1 = cg_mcp_call_reply(fast, &res), *r2 = cg_mcp_call_reply(a.call, &res);
            assert_string_equal(json_string_value(result_of(r1, "resultType")), "complete");
            assert_true(json_equal(r1, r2));
            json_decref(r1);
            json_decref(r2);
        } else {
            assert_null(fast); /* an error, or a form only the general way reads */
        }
        cg_mcp_call_free(fast);
        if (cases[i].code) {
            assert_int_equal(error_code(r), cases[i].code);
            assert_int_equal(status, 400);
            assert_int_equal(json_integer_value(json_object_get(r, "id")), 9);
        } else {
            assert_null(r);
            assert_int_equal(a.act, CG_MCP_ACT_CALL);
        }
        json_decref(r);
        cg_mcp_action_release(&a);
    }
}

static void test_era_results(void **state)
{
    fixture *f = *state;
    int status;
    json_t *r = run26(
        f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" META26 "}}", NULL,
        &status, NULL);
    assert_string_equal(json_string_value(result_of(r, "resultType")), "complete");
    assert_int_equal(json_integer_value(result_of(r, "ttlMs")), CG_MCP_LIST_TTL_MS);
    assert_string_equal(json_string_value(result_of(r, "cacheScope")), "public");
    assert_int_equal(json_array_size(result_of(r, "tools")), 9);
    json_decref(r);
    /* a call: both ways of writing its reply say resultType, and agree */
    cg_mcp_action a;
    r = run26(f,
              "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":"
              "{\"name\":\"get-ml-backend\",\"arguments\":{\"id\":1}," META26 "}}",
              NULL, &status, &a);
    assert_int_equal(a.act, CG_MCP_ACT_CALL);
    const char *bodies[] = {"{\"id\":1}", "[1,2]", "plain", NULL};
    for (size_t i = 0; bodies[i]; i++) {
        cg_call_result res = upstream(200, bodies[i]);
        json_t *tree = cg_mcp_call_reply(a.call, &res);
        assert_string_equal(json_string_value(result_of(tree, "resultType")), "complete");
        cg_buf text = CG_BUF_INIT;
        assert_int_equal(cg_mcp_call_reply_text(a.call, &res, &text), 0);
        json_t *parsed = json_loadb(text.data, text.len, 0, NULL);
        assert_true(json_equal(parsed, tree));
        json_decref(parsed);
        json_decref(tree);
        cg_buf_free(&text);
    }
    cg_mcp_action_release(&a);
    json_decref(r);
}

static void test_era_catalog(void **state)
{
    fixture *f = *state;
    int status;
    const char *lists[] = {"resources/list", "resources/templates/list", "prompts/list", NULL};
    for (size_t i = 0; lists[i]; i++) {
        char text[300];
        snprintf(text, sizeof text,
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":{" META26 "}}",
                 lists[i]);
        json_t *r = run26(f, text, NULL, &status, NULL);
        assert_int_equal(status, 200);
        assert_string_equal(json_string_value(result_of(r, "resultType")), "complete");
        assert_int_equal(json_integer_value(result_of(r, "ttlMs")), CG_MCP_LIST_TTL_MS);
        json_decref(r);
    }
    /* a resource that is not there: -32602 with the URI as data (SEP-2164) */
    json_t *r = run26(f,
                      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":"
                      "{\"uri\":\"nope://x\"," META26 "}}",
                      NULL, &status, NULL);
    assert_int_equal(error_code(r), -32602);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(r, "error"), "data"), "uri")),
                        "nope://x");
    json_decref(r);
    /* resources/read of a static file: the contents with cache hints */
    r = run26(f,
              "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":"
              "{\"uri\":\"notes://ships/data.json\"," META26 "}}",
              NULL, &status, NULL);
    assert_non_null(result_of(r, "contents"));
    assert_string_equal(json_string_value(result_of(r, "cacheScope")), "public");
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_era_which_messages_are_modern),
        cmocka_unit_test_setup_teardown(test_era_discover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_era_envelope_and_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_era_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_era_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_era_catalog, setup_catalog, teardown_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
