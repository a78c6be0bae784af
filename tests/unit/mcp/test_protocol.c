/*
 * Unit tests for the MCP adapter's transport-neutral parts (src/mcp): the protocol core
 * (JSON-RPC parsing and classification, lifecycle, tools/list pagination, tools/call
 * argument checking and result shaping, logging, cancellation, resources and prompts). The
 * session store has its own file (test_session.c), as has the 2026-07-28 core (test_era.c).
 * Everything here is plain strings in, JSON out: no sockets, no loop.
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
#include "mcp/protocol.h"

typedef core_fixture fixture;

static int setup_core(void **state, size_t page_size)
{
    cg_mcp_core_options o = {.page_size = page_size, .server_version = "9.9.9"};
    return core_fixture_setup(state, SHIPPED, &o);
}
static int setup(void **state)
{
    return setup_core(state, 0);
}
static int setup_paged(void **state)
{
    return setup_core(state, 4);
}

static int teardown(void **state)
{
    return core_fixture_teardown(state);
}

/* Parses text, handles it, returns the reply (or NULL) and the action kind. */
static json_t *run(fixture *f, const char *text, cg_mcp_act *act, cg_mcp_action *keep)
{
    json_t *msg = cg_mcp_parse(text, strlen(text), NULL, 0);
    assert_non_null(msg);
    assert_int_not_equal(cg_mcp_classify(msg, NULL), CG_MCP_MSG_INVALID);
    cg_mcp_action a;
    cg_mcp_handle(f->core, &f->st, msg, &a);
    json_decref(msg);
    if (act) *act = a.act;
    json_t *reply = a.reply ? json_incref(a.reply) : NULL;
    if (keep) *keep = a;
    else cg_mcp_action_release(&a);
    return reply;
}

static void initialize(fixture *f)
{
    json_t *r = run(f,
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                    "{\"protocolVersion\":\"2025-11-25\",\"clientInfo\":{\"name\":\"t\"}}}",
                    NULL, NULL);
    json_decref(r);
}

static long long error_code(const json_t *reply)
{
    return json_integer_value(json_object_get(json_object_get(reply, "error"), "code"));
}

static const char *result_text(const json_t *reply)
{
    const json_t *c = json_object_get(json_object_get(reply, "result"), "content");
    return json_string_value(json_object_get(json_array_get(c, 0), "text"));
}

static bool is_error_result(const json_t *reply)
{
    return json_is_true(json_object_get(json_object_get(reply, "result"), "isError"));
}

/* ---- JSON-RPC ----------------------------------------------------------------------- */

static void test_parse_rejects_bad_json(void **state)
{
    char err[128] = "";
    assert_null(cg_mcp_parse("{\"a\":", 5, err, sizeof err));
    assert_true(strlen(err) > 0);
    assert_null(cg_mcp_parse("{\"a\":1,\"a\":2}", 13, err, sizeof err)); /* duplicate keys */
    char *big = malloc(CG_MCP_MAX_MESSAGE + 2);
    memset(big, ' ', CG_MCP_MAX_MESSAGE + 1);
    big[CG_MCP_MAX_MESSAGE + 1] = 0;
    assert_null(cg_mcp_parse(big, CG_MCP_MAX_MESSAGE + 1, err, sizeof err));
    assert_non_null(strstr(err, "larger"));
    free(big);
}

static void test_parse_keeps_int64_ids_exact(void **state)
{
    const char *t = "{\"jsonrpc\":\"2.0\",\"id\":9223372036854775807,\"method\":\"ping\"}";
    json_t *m = cg_mcp_parse(t, strlen(t), NULL, 0);
    json_t *r = cg_mcp_result(json_object_get(m, "id"), json_object());
    char *s = cg_mcp_dump(r, NULL);
    assert_non_null(strstr(s, "\"id\":9223372036854775807"));
    free(s);
    json_decref(r);
    json_decref(m);
}

static void test_classify(void **state)
{
    struct {
        const char *text;
        cg_mcp_msg_kind kind;
    } cases[] = {
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", CG_MCP_MSG_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\",\"params\":{}}",
         CG_MCP_MSG_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", CG_MCP_MSG_NOTIFICATION},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", CG_MCP_MSG_RESPONSE},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1,\"message\":\"x\"}}",
         CG_MCP_MSG_RESPONSE},
        {"{\"id\":1,\"method\":\"ping\"}", CG_MCP_MSG_INVALID},
        {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", CG_MCP_MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", CG_MCP_MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", CG_MCP_MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", CG_MCP_MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", CG_MCP_MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}", CG_MCP_MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[1]}", CG_MCP_MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}", CG_MCP_MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1}", CG_MCP_MSG_INVALID},
        {"[1]", CG_MCP_MSG_INVALID},
        {"\"text\"", CG_MCP_MSG_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *m = cg_mcp_parse(cases[i].text, strlen(cases[i].text), NULL, 0);
        assert_non_null(m);
        const char *why = NULL;
        cg_mcp_msg_kind k = cg_mcp_classify(m, &why);
        if (k != cases[i].kind) print_error("case %zu: %s\n", i, cases[i].text);
        assert_int_equal(k, cases[i].kind);
        if (k == CG_MCP_MSG_INVALID) assert_non_null(why);
        json_decref(m);
    }
}

static void test_invalid_reply_echoes_usable_id(void **state)
{
    json_t *m = json_pack("{s:s, s:i}", "jsonrpc", "1.0", "id", 7);
    json_t *r = cg_mcp_invalid_reply(m, CG_JSONRPC_INVALID_REQUEST, "why");
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 7);
    assert_int_equal(error_code(r), -32600);
    json_decref(r);
    json_decref(m);
    r = cg_mcp_invalid_reply(NULL, CG_JSONRPC_PARSE_ERROR, "bad");
    assert_true(json_is_null(json_object_get(r, "id")));
    json_decref(r);
}

static void test_dump_is_one_line(void **state)
{
    json_t *m = json_pack("{s:s}", "text", "line one\nline two\r\n");
    char *s = cg_mcp_dump(m, NULL);
    assert_null(strchr(s, '\n'));
    free(s);
    json_decref(m);
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static void test_initialize_negotiates(void **state)
{
    fixture *f = *state;
    const char *versions[][2] = {{"2025-11-25", "2025-11-25"},
                                 {"2025-06-18", "2025-06-18"},
                                 {"2025-03-26", "2025-03-26"},
                                 {"2024-11-05", "2025-11-25"},
                                 {"banana", "2025-11-25"}};
    for (size_t i = 0; i < 5; i++) {
        memset(&f->st, 0, sizeof f->st);
        char text[256];
        snprintf(text, sizeof text,
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
                 "\"params\":{\"protocolVersion\":\"%s\"}}",
                 versions[i][0]);
        json_t *r = run(f, text, NULL, NULL);
        const json_t *res = json_object_get(r, "result");
        assert_string_equal(json_string_value(json_object_get(res, "protocolVersion")),
                            versions[i][1]);
        assert_string_equal(f->st.version, versions[i][1]);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(res, "serverInfo"), "version")),
            "9.9.9");
        assert_non_null(json_object_get(json_object_get(res, "capabilities"), "logging"));
        assert_true(json_is_true(json_object_get(
            json_object_get(json_object_get(res, "capabilities"), "tools"), "listChanged")));
        json_decref(r);
    }
}

static void test_initialize_twice_and_without_version(void **state)
{
    fixture *f = *state;
    json_t *r = run(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}",
                    NULL, NULL);
    assert_int_equal(error_code(r), -32602);
    assert_false(f->st.initialize_answered);
    json_decref(r);
    initialize(f);
    assert_true(f->st.initialize_answered);
    r = run(f,
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{"
            "\"protocolVersion\":\"2025-11-25\"}}",
            NULL, NULL);
    assert_int_equal(error_code(r), -32600);
    json_decref(r);
}

static void test_requests_before_initialize(void **state)
{
    fixture *f = *state;
    json_t *r = run(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", NULL, NULL);
    assert_int_equal(error_code(r), -32000);
    json_decref(r);
    r = run(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}", NULL, NULL);
    assert_int_equal(json_object_size(json_object_get(r, "result")), 0);
    assert_null(json_object_get(r, "error"));
    json_decref(r);
}

static void test_notifications_and_unknown_methods(void **state)
{
    fixture *f = *state;
    initialize(f);
    cg_mcp_act act;
    assert_null(
        run(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &act, NULL));
    assert_int_equal(act, CG_MCP_ACT_NONE);
    assert_true(f->st.initialized);
    assert_null(
        run(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/unheard-of\"}", &act, NULL));
    assert_int_equal(act, CG_MCP_ACT_NONE);
    assert_null(run(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}", &act, NULL));
    assert_int_equal(act, CG_MCP_ACT_NONE);
    json_t *r = run(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"prompts/list\"}", NULL, NULL);
    assert_int_equal(error_code(r), -32601);
    json_decref(r);
}

static void test_cancelled_names_the_request(void **state)
{
    fixture *f = *state;
    initialize(f);
    cg_mcp_action a;
    run(f,
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
        "cancelled\",\"params\":{\"requestId\":\"r-1\",\"reason\":\"x\"}}",
        NULL, &a);
    assert_int_equal(a.act, CG_MCP_ACT_CANCEL);
    assert_string_equal(json_string_value(a.cancel_id), "r-1");
    cg_mcp_action_release(&a);
    run(f,
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
        "cancelled\",\"params\":{\"requestId\":null}}",
        NULL, &a);
    assert_int_equal(a.act, CG_MCP_ACT_NONE);
    cg_mcp_action_release(&a);
}

static void test_logging_set_level(void **state)
{
    fixture *f = *state;
    initialize(f);
    json_t *r = run(f,
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/"
                    "setLevel\",\"params\":{\"level\":\"warning\"}}",
                    NULL, NULL);
    assert_int_equal(json_object_size(json_object_get(r, "result")), 0);
    assert_int_equal(f->st.log_level, CG_MCP_LOG_WARNING);
    json_decref(r);
    r = run(f,
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"logging/"
            "setLevel\",\"params\":{\"level\":\"WARNING\"}}",
            NULL, NULL);
    assert_int_equal(error_code(r), -32602);
    json_decref(r);
    r = run(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"logging/setLevel\"}", NULL, NULL);
    assert_int_equal(error_code(r), -32602);
    json_decref(r);
}

/* ---- tools/list --------------------------------------------------------------------- */

static void test_tools_list_one_page(void **state)
{
    fixture *f = *state;
    initialize(f);
    json_t *r = run(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", NULL, NULL);
    const json_t *tools = json_object_get(json_object_get(r, "result"), "tools");
    assert_int_equal(json_array_size(tools), 9);
    assert_null(json_object_get(json_object_get(r, "result"), "nextCursor"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 2), "name")),
                        "get-ml-backend");
    json_decref(r);
}

static void test_tools_list_pages(void **state)
{
    fixture *f = *state;
    initialize(f);
    const char *cursor = NULL;
    size_t sizes[3], n = 0;
    json_t *r = NULL;
    do {
        char text[160];
        if (cursor)
            snprintf(text, sizeof text,
                     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/"
                     "list\",\"params\":{\"cursor\":\"%s\"}}",
                     cursor);
        else
            snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
        json_t *next = run(f, text, NULL, NULL);
        json_decref(r);
        r = next;
        assert_true(n < 3);
        sizes[n++] = json_array_size(json_object_get(json_object_get(r, "result"), "tools"));
        cursor = json_string_value(json_object_get(json_object_get(r, "result"), "nextCursor"));
    } while (cursor);
    json_decref(r);
    assert_int_equal(n, 3);
    assert_int_equal(sizes[0], 4);
    assert_int_equal(sizes[1], 4);
    assert_int_equal(sizes[2], 1);
    const char *bad[] = {"t0", "t9", "t-1", "t04", "x4", "", "t"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[160];
        snprintf(text, sizeof text,
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/"
                 "list\",\"params\":{\"cursor\":\"%s\"}}",
                 bad[i]);
        r = run(f, text, NULL, NULL);
        assert_int_equal(error_code(r), -32602);
        json_decref(r);
    }
}

/* ---- tools/call: arguments -------------------------------------------------------------- */

/* Calls tool with arguments (JSON text); returns the reply, or NULL when a call was
 * prepared (then *call holds it). */
static json_t *call(fixture *f, const char *tool, const char *args, cg_mcp_call **out)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":"
             "{\"name\":\"%s\",\"arguments\":%s}}",
             tool, args);
    cg_mcp_action a;
    json_decref(run(f, text, NULL, &a)); /* run keeps a reference for its caller */
    json_t *reply = a.reply ? json_incref(a.reply) : NULL;
    if (a.act == CG_MCP_ACT_CALL && out) {
        *out = a.call;
        a.call = NULL;
    }
    cg_mcp_action_release(&a);
    return reply;
}

static const char *looked_up(cg_mcp_call *c, const char *name)
{
    const cg_call *cc = &cg_mcp_call_tool(c)->call;
    for (size_t i = 0; i < cc->n_arguments; i++)
        if (!strcmp(cc->arguments[i].name, name)) {
            const char *v;
            size_t n;
            static char buf[256];
            if (!cg_mcp_call_lookup(c, &cc->arguments[i], &v, &n)) return NULL;
            snprintf(buf, sizeof buf, "%.*s", (int)n, v);
            return buf;
        }
    return NULL;
}

static void test_call_accepts_integers(void **state)
{
    fixture *f = *state;
    initialize(f);
    const char *ok[][2] = {{"{\"id\":7}", "7"},
                           {"{\"id\":3.0}", "3"},
                           {"{\"id\":\"42\"}", "42"},
                           {"{\"id\":-5}", "-5"},
                           {"{\"id\":9223372036854775807}", "9223372036854775807"}};
    for (size_t i = 0; i < 5; i++) {
        cg_mcp_call *c = NULL;
        json_t *r = call(f, "get-ml-backend", ok[i][0], &c);
        if (r) print_error("%s: %s\n", ok[i][0], result_text(r));
        assert_null(r);
        assert_non_null(c);
        assert_string_equal(looked_up(c, "id"), ok[i][1]);
        assert_null(looked_up(c, "Authorization")); /* never an argument */
        assert_int_equal(json_integer_value(cg_mcp_call_id(c)), 42);
        cg_mcp_call_free(c);
    }
}

static void test_call_refuses_bad_arguments(void **state)
{
    fixture *f = *state;
    initialize(f);
    const char *bad[][3] = {
        {"get-ml-backend", "{\"id\":\"abc\"}", "'id'"},
        {"get-ml-backend", "{\"id\":1.5}", "'id'"},
        {"get-ml-backend", "{\"id\":1e300}", "'id'"},
        {"get-ml-backend", "{\"id\":\"+1\"}", "'id'"},
        {"get-ml-backend", "{\"id\":\" 1\"}", "'id'"},
        {"get-ml-backend", "{\"id\":true}", "'id'"},
        {"get-ml-backend", "{\"id\":[1]}", "'id'"},
        {"get-ml-backend", "{}", "missing required argument 'id'"},
        {"get-ml-backend", "{\"id\":null}", "missing required argument 'id'"},
        {"get-ml-backend", "{\"id\":1,\"extra\":2}", "unknown argument 'extra'"},
        {"get-ml-backend", "{\"id\":1,\"Authorization\":\"Token x\"}",
         "unknown argument 'Authorization'"},
        {"update-ml-backend", "{\"id\":1,\"body\":[1]}", "'body'"},
        {"update-ml-backend", "{\"id\":1,\"body\":\"{}\"}", "'body'"},
        {"list-ml-backends", "{\"project\":\"one\"}", "'project'"},
        {"create-predictions-all-tasks", "{\"id\":1,\"batch_size\":0.5}", "'batch_size'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cg_mcp_call *c = NULL;
        json_t *r = call(f, bad[i][0], bad[i][1], &c);
        if (!r) print_error("accepted: %s %s\n", bad[i][0], bad[i][1]);
        assert_non_null(r);
        assert_null(c);
        assert_true(is_error_result(r));
        if (!strstr(result_text(r), bad[i][2])) print_error("%s → %s\n", bad[i][1], result_text(r));
        assert_non_null(strstr(result_text(r), bad[i][2]));
        json_decref(r);
    }
}

static void test_call_protocol_errors(void **state)
{
    fixture *f = *state;
    initialize(f);
    json_t *r = call(f, "no-such-tool", "{}", NULL);
    assert_int_equal(error_code(r), -32602);
    json_decref(r);
    r = call(f, "get-ml-backend", "[1]", NULL);
    assert_int_equal(error_code(r), -32602);
    json_decref(r);
    r = run(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{}}", NULL,
            NULL);
    assert_int_equal(error_code(r), -32602);
    json_decref(r);
}

static void test_call_body_and_optional_arguments(void **state)
{
    fixture *f = *state;
    initialize(f);
    cg_mcp_call *c = NULL;
    assert_null(
        call(f, "update-ml-backend", "{\"id\":1,\"body\":{\"title\":\"x\",\"n\":[1,2]}}", &c));
    assert_string_equal(looked_up(c, "body"), "{\"title\":\"x\",\"n\":[1,2]}");
    cg_mcp_call_free(c);
    c = NULL;
    assert_null(call(f, "list-ml-backends", "{}", &c));
    assert_null(looked_up(c, "project"));
    assert_null(cg_mcp_call_progress_token(c));
    assert_null(cg_mcp_call_progress(c, 0, 1, "x"));
    cg_mcp_call_free(c);
}

static void test_call_progress_token(void **state)
{
    fixture *f = *state;
    initialize(f);
    cg_mcp_action a;
    run(f,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"train\","
        "\"arguments\":{\"id\":1},\"_meta\":{\"progressToken\":\"tok\"}}}",
        NULL, &a);
    assert_int_equal(a.act, CG_MCP_ACT_CALL);
    json_t *p = cg_mcp_call_progress(a.call, 0.5, 1, "half");
    assert_string_equal(json_string_value(json_object_get(p, "progressToken")), "tok");
    assert_true(json_real_value(json_object_get(p, "progress")) == 0.5);
    assert_string_equal(json_string_value(json_object_get(p, "message")), "half");
    json_decref(p);
    cg_mcp_action_release(&a);
}

/* ---- tools/call: the fast way in (cg_mcp_quick_read / cg_mcp_quick_call) ---------------- */

/* A spec whose tool takes one argument of each scalar type. */
static const char TYPED_SPEC[] =
    "naftiko: 1.0.0-alpha2\n"
    "info: {label: Typed, description: quick path test}\n"
    "capability:\n"
    "  consumes:\n"
    "  - type: http\n"
    "    namespace: up\n"
    "    baseUri: http://localhost:8000\n"
    "    resources:\n"
    "    - name: thing\n"
    "      path: /things/{id}\n"
    "      operations:\n"
    "      - name: get\n"
    "        method: GET\n"
    "        inputParameters:\n"
    "        - {name: id, in: path, type: integer, required: true}\n"
    "        - {name: label, in: query, type: string}\n"
    "        - {name: ratio, in: query, type: number}\n"
    "        - {name: deep, in: query, type: boolean}\n"
    "  exposes:\n"
    "  - type: mcp\n"
    "    namespace: typed-mcp\n"
    "    port: 9090\n"
    "    tools:\n"
    "    - name: get-thing\n"
    "      description: Get a thing.\n"
    "      call: up.get\n"
    "      with: {id: tools.id, label: tools.label, ratio: tools.ratio, deep: tools.deep}\n";

static int setup_typed(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    cg_buf errors = CG_BUF_INIT;
    if (cg_spec_load_string("typed.yaml", TYPED_SPEC, sizeof TYPED_SPEC - 1, &f->spec, &errors) !=
        CG_SPEC_OK) {
        print_error("%s", errors.data ? errors.data : "load failed\n");
        cg_buf_free(&errors);
        return -1;
    }
    f->core = cg_mcp_core_create(f->spec, &f->spec->mcp[0], NULL);
    *state = f;
    return f->core ? 0 : -1;
}

/* The call the fast way prepares for text, or NULL when it leaves text to the general way. */
static cg_mcp_call *quick(fixture *f, const char *text)
{
    cg_mcp_quick q;
    if (!cg_mcp_quick_read(text, strlen(text), &q)) return NULL;
    return cg_mcp_quick_call(f->core, &f->st, &q);
}

/* Asserts that the general way prepares the very same call as the fast way did. */
static void assert_same_call(fixture *f, const char *text, cg_mcp_call *fast)
{
    cg_mcp_action a;
    json_decref(run(f, text, NULL, &a));
    assert_int_equal(a.act, CG_MCP_ACT_CALL);
    assert_ptr_equal(cg_mcp_call_tool(a.call), cg_mcp_call_tool(fast));
    assert_true(json_equal(cg_mcp_call_id(a.call), cg_mcp_call_id(fast)));
    assert_null(cg_mcp_call_progress_token(fast));
    const cg_call *cc = &cg_mcp_call_tool(fast)->call;
    for (size_t i = 0; i < cc->n_arguments; i++) {
        const char *v1, *v2;
        size_t n1, n2;
        bool g1 = cg_mcp_call_lookup(a.call, &cc->arguments[i], &v1, &n1);
        bool g2 = cg_mcp_call_lookup(fast, &cc->arguments[i], &v2, &n2);
        assert_int_equal(g1, g2);
        if (g1) {
            assert_int_equal(n1, n2);
            assert_memory_equal(v1, v2, n1);
        }
    }
    cg_mcp_action_release(&a);
}

static void test_quick_call_matches_general(void **state)
{
    fixture *f = *state;
    initialize(f);
    const char *taken[][3] = {
        /* message, the argument "label" or "id" as looked up, the id as JSON */
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
         "\"get-thing\",\"arguments\":{\"id\":7}}}",
         "7", "1"},
        {" { \"params\" : { \"arguments\" : { \"label\" : \"caf\xc3\xa9\" , \"id\" : -12 } ,"
         " \"name\" : \"get-thing\" } , \"method\" : \"tools/call\" , \"id\" : \"req-9\" ,"
         " \"jsonrpc\" : \"2.0\" } \n",
         "-12", "\"req-9\""},
        {"{\"jsonrpc\":\"2.0\",\"id\":999999999999999999,\"method\":\"tools/call\",\"params\":"
         "{\"name\":\"get-thing\",\"arguments\":{\"id\":0,\"ratio\":2,\"deep\":false,\"label\":"
         "null}}}",
         "0", "999999999999999999"},
    };
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++) {
        cg_mcp_call *c = quick(f, taken[i][0]);
        if (!c) print_error("not taken: %s\n", taken[i][0]);
        assert_non_null(c);
        assert_string_equal(looked_up(c, "id"), taken[i][1]);
        json_t *id = json_loads(taken[i][2], JSON_DECODE_ANY, NULL);
        assert_true(json_equal(cg_mcp_call_id(c), id));
        json_decref(id);
        assert_same_call(f, taken[i][0], c);
        cg_mcp_call_free(c);
    }
    cg_mcp_call *c = quick(f, taken[1][0]);
    assert_string_equal(looked_up(c, "label"), "caf\xc3\xa9");
    cg_mcp_call_free(c);
    c = quick(f, taken[2][0]);
    assert_string_equal(looked_up(c, "ratio"), "2");
    assert_string_equal(looked_up(c, "deep"), "false");
    assert_null(looked_up(c, "label")); /* null = not given */
    cg_mcp_call_free(c);
}

static void test_quick_call_leaves_the_rest(void **state)
{
    fixture *f = *state;
#define CALL(params)                                                                               \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":" params "}"
    const char *plain = CALL("{\"name\":\"get-thing\",\"arguments\":{\"id\":7}}");
    assert_null(quick(f, plain)); /* not initialized: the general way refuses it */
    initialize(f);
    const char *left[] = {
        CALL("{\"name\":\"get-thing\",\"arguments\":{\"id\":7},\"_meta\":{\"progressToken\":1}}"),
        CALL("{\"name\":\"get-thing\",\"arguments\":{\"id\":7},\"task\":{}}"),
        CALL("{\"name\":\"get-thing\",\"arguments\":{\"id\":7,\"id\":8}}"), /* repeated */
        CALL("{\"name\":\"get-thing\",\"name\":\"get-thing\",\"arguments\":{\"id\":7}}"),
        CALL("{\"name\":\"get-thing\",\"arguments\":{\"id\":-0}}"),    /* "0" there */
        CALL("{\"name\":\"get-thing\",\"arguments\":{\"id\":3.0}}"),   /* converted */
        CALL("{\"name\":\"get-thing\",\"arguments\":{\"id\":\"7\"}}"), /* converted */
        CALL("{\"name\":\"get-thing\",\"arguments\":{\"id\":1234567890123456789}}"),
        CALL("{\"name\":\"get-thing\",\"arguments\":{\"id\":7,\"label\":\"a\\nb\"}}"),
        CALL("{\"name\":\"get-thing\",\"arguments\":{\"id\":7,\"deep\":\"yes\"}}"), /* refused */
        CALL("{\"name\":\"get-thing\",\"arguments\":{\"id\":7,\"colour\":1}}"),     /* unknown */
        CALL("{\"name\":\"get-thing\",\"arguments\":{\"label\":\"x\"}}"),           /* id missing */
        CALL("{\"name\":\"get-thing\",\"arguments\":null}"),
        CALL("{\"name\":\"no-such-tool\",\"arguments\":{}}"),
        CALL("{\"name\":\"get-\\u0074hing\",\"arguments\":{\"id\":7}}"),
        CALL("{\"name\":\"get-thing\",\"arguments\":{\"id\":[7]}}"),
        "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"tools/call\",\"params\":"
        "{\"name\":\"get-thing\",\"arguments\":{\"id\":7}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":\"get-thing\"}}",
        "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}]",
        CALL("{\"name\":\"get-thing\",\"arguments\":{\"id\":7}}") " x",
        CALL("{\"name\":\"get-thing\",\"arguments\":{\"id\":7}"),
    };
#undef CALL
    for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
        cg_mcp_call *c = quick(f, left[i]);
        if (c) print_error("taken: %s\n", left[i]);
        assert_null(c);
    }
    cg_mcp_call *c = quick(f, plain);
    assert_non_null(c);
    cg_mcp_call_free(c);
}

/* ---- tools/call: results ---------------------------------------------------------------- */

static json_t *reply_for(fixture *f, cg_call_result *res)
{
    cg_mcp_call *c = NULL;
    json_t *r = call(f, "get-ml-backend", "{\"id\":1}", &c);
    assert_null(r);
    json_t *reply = cg_mcp_call_reply(c, res);
    assert_int_equal(json_integer_value(json_object_get(reply, "id")), 42);
    cg_mcp_call_free(c);
    return reply;
}

static void test_result_object(void **state)
{
    fixture *f = *state;
    initialize(f);
    cg_call_result res = upstream(200, "{\"id\":1,\"title\":\"a\"}");
    json_t *r = reply_for(f, &res);
    const json_t *result = json_object_get(r, "result");
    assert_false(is_error_result(r));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(result, "structuredContent"), "title")),
        "a");
    assert_string_equal(result_text(r), "{\"id\":1,\"title\":\"a\"}"); /* the upstream's bytes */
    json_decref(r);
}

static void test_result_array_is_wrapped(void **state)
{
    fixture *f = *state;
    initialize(f);
    cg_call_result res = upstream(200, "[{\"id\":1},{\"id\":2}]");
    json_t *r = reply_for(f, &res);
    const json_t *sc = json_object_get(json_object_get(r, "result"), "structuredContent");
    assert_true(json_is_object(sc));
    assert_int_equal(json_array_size(json_object_get(sc, "items")), 2);
    assert_string_equal(result_text(r), "[{\"id\":1},{\"id\":2}]");
    json_decref(r);
    res = upstream(200, "17");
    r = reply_for(f, &res);
    sc = json_object_get(json_object_get(r, "result"), "structuredContent");
    assert_int_equal(json_integer_value(json_object_get(sc, "value")), 17);
    json_decref(r);
}

static void test_result_empty_and_text(void **state)
{
    fixture *f = *state;
    initialize(f);
    cg_call_result res = upstream(204, NULL);
    json_t *r = reply_for(f, &res);
    const json_t *result = json_object_get(r, "result");
    /* no body: one text item that says so, never an empty content list */
    assert_int_equal(json_array_size(json_object_get(result, "content")), 1);
    assert_non_null(strstr(result_text(r), "HTTP 204"));
    /* the tool has outputParameters, so it declares an outputSchema: structuredContent must
     * be there even for an empty or non-JSON body */
    assert_int_equal(json_object_size(json_object_get(result, "structuredContent")), 0);
    assert_non_null(json_object_get(result, "structuredContent"));
    assert_false(is_error_result(r));
    json_decref(r);
    res = upstream(200, "plain words");
    r = reply_for(f, &res);
    assert_string_equal(result_text(r), "plain words");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(r, "result"), "structuredContent"), "value")),
        "plain words");
    json_decref(r);
    res = upstream(200, "bad \xff\xfe bytes");
    r = reply_for(f, &res);
    assert_non_null(result_text(r));
    assert_non_null(strstr(result_text(r), "bytes"));
    json_decref(r);
}

static void test_result_upstream_error(void **state)
{
    fixture *f = *state;
    initialize(f);
    cg_call_result res = upstream(404, "{\"detail\":\"Not found.\"}");
    json_t *r = reply_for(f, &res);
    assert_true(is_error_result(r));
    assert_non_null(strstr(result_text(r), "HTTP 404"));
    assert_non_null(strstr(result_text(r), "Not found."));
    const json_t *sc = json_object_get(json_object_get(r, "result"), "structuredContent");
    assert_int_equal(json_integer_value(json_object_get(sc, "status")), 404);
    assert_string_equal(json_string_value(json_object_get(json_object_get(sc, "body"), "detail")),
                        "Not found.");
    json_decref(r);
    res = upstream(502, "<html>bad gateway</html>");
    r = reply_for(f, &res);
    assert_true(is_error_result(r));
    sc = json_object_get(json_object_get(r, "result"), "structuredContent");
    assert_string_equal(json_string_value(json_object_get(sc, "body")), "<html>bad gateway</html>");
    json_decref(r);
}

static void test_result_capgate_errors(void **state)
{
    fixture *f = *state;
    initialize(f);
    cg_call_result res = {.error = CG_CALL_BAD_ARGUMENT, .argument = "id"};
    snprintf(res.message, sizeof res.message, "parameter 'id' must be an integer");
    json_t *r = reply_for(f, &res);
    assert_true(is_error_result(r));
    assert_non_null(strstr(result_text(r), "invalid argument 'id'"));
    json_decref(r);
    cg_call_result down = {.error = CG_CALL_UNREACHABLE};
    snprintf(down.message, sizeof down.message, "connection refused");
    r = reply_for(f, &down);
    assert_true(is_error_result(r));
    assert_non_null(strstr(result_text(r), "connection refused"));
    const json_t *sc = json_object_get(json_object_get(r, "result"), "structuredContent");
    assert_string_equal(json_string_value(json_object_get(sc, "error")),
                        cg_call_error_slug(CG_CALL_UNREACHABLE));
    json_decref(r);
}

static void test_json_kind(void **state)
{
    struct {
        const char *text;
        int kind;
    } cases[] = {
        {"{}", 1},
        {" {\"a\": [1, -2.5e+3, true, false, null, \"x\\u00e9\\n\"]} ", 1},
        {"[]", 2},
        {"[{\"a\":{}}]", 2},
        {"0", 3},
        {"\"s\"", 3},
        {"null", 3},
        {"123456789012345678901234567890", 3},
        {"", 0},
        {"{", 0},
        {"{\"a\"}", 0},
        {"{\"a\":1,}", 0},
        {"[1,]", 0},
        {"[01]", 0},
        {"[1.]", 0},
        {"[.5]", 0},
        {"[+1]", 0},
        {"[1e]", 0},
        {"{a:1}", 0},
        {"['x']", 0},
        {"[\"\\x\"]", 0},
        {"[\"\\u12g4\"]", 0},
        {"[\"tab\there\"]", 0},
        {"[tru]", 0},
        {"{} {}", 0},
        {"[\"\xff\"]", 0},
        {"[\"\xc0\xaf\"]", 0},
        {"[\"\xed\xa0\x80\"]", 0},
        {"[\"\xf4\x90\x80\x80\"]", 0},
        {"[\"\xe2\x82\"]", 0},
        {"[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int k = cg_mcp_json_kind(cases[i].text, strlen(cases[i].text));
        if (k != cases[i].kind) print_error("case %zu: %s → %d\n", i, cases[i].text, k);
        assert_int_equal(k, cases[i].kind);
    }
    char deep[600];
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    assert_int_equal(cg_mcp_json_kind(deep, 600), 0); /* nesting over 256 */
    assert_int_equal(cg_mcp_json_kind(deep + 100, 400), 2);
}

/* The text fast path must say exactly what the JSON tree says. */
static void test_reply_text_matches_tree(void **state)
{
    fixture *f = *state;
    initialize(f);
    const char *bodies[] = {"{\"id\":1,\"title\":\"a \\\"q\\\" \u00e9\\n\"}",
                            "[{\"id\":1},{\"id\":2}]",
                            "  {\"x\": [1, 2.50]}\n",
                            "17",
                            "plain",
                            "{\"broken\":",
                            NULL};
    int statuses[] = {200, 201, 404, 204};
    for (size_t s = 0; s < 4; s++)
        for (size_t i = 0; bodies[i]; i++) {
            cg_mcp_call *c = NULL;
            assert_null(call(f, "get-ml-backend", "{\"id\":1}", &c));
            cg_call_result res = upstream(statuses[s], statuses[s] == 204 ? NULL : bodies[i]);
            json_t *tree = cg_mcp_call_reply(c, &res);
            cg_buf text = CG_BUF_INIT;
            assert_int_equal(cg_mcp_call_reply_text(c, &res, &text), 0);
            json_t *parsed = json_loadb(text.data, text.len, 0, NULL);
            if (!parsed || !json_equal(parsed, tree)) {
                char *t = json_dumps(tree, JSON_COMPACT);
                print_error("status %d body %s:\n text %s\n tree %s\n", statuses[s], bodies[i],
                            text.data, t);
                free(t);
            }
            assert_non_null(parsed);
            assert_true(json_equal(parsed, tree));
            json_decref(parsed);
            json_decref(tree);
            cg_buf_free(&text);
            cg_mcp_call_free(c);
        }
}

/* ---- resources and prompts (tests/e2e/fixtures/catalog) ----------------------------------- */

static int setup_catalog(void **state)
{
    return core_fixture_setup_catalog(state, NULL);
}

static int teardown_catalog(void **state)
{
    return core_fixture_teardown_catalog(state);
}

static void test_initialize_declares_what_the_adapter_has(void **state)
{
    fixture *f = *state;
    json_t *r = run(f,
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                    "{\"protocolVersion\":\"2025-11-25\"}}",
                    NULL, NULL);
    const json_t *caps = result_of(r, "capabilities"), *info = result_of(r, "serverInfo");
    assert_non_null(json_object_get(caps, "resources"));
    assert_non_null(json_object_get(caps, "prompts"));
    assert_string_equal(json_string_value(json_object_get(info, "name")), "catalog-mcp");
    assert_string_equal(json_string_value(json_object_get(info, "title")), "Ship Catalog");
    assert_non_null(
        strstr(json_string_value(json_object_get(info, "description")), "Notes, records"));
    assert_non_null(strstr(json_string_value(result_of(r, "instructions")), "ship notes"));
    json_decref(r);
}

static void test_initialize_without_resources_or_prompts(void **state)
{
    fixture *f = *state;
    json_t *r = run(f,
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                    "{\"protocolVersion\":\"2025-11-25\"}}",
                    NULL, NULL);
    const json_t *caps = result_of(r, "capabilities");
    assert_null(json_object_get(caps, "resources"));
    assert_null(json_object_get(caps, "prompts"));
    assert_string_equal(json_string_value(json_object_get(result_of(r, "serverInfo"), "name")),
                        "label-studio-subpackage-ml-mcp");
    json_decref(r);
    r = run(f,
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\",\"params\":{\"uri\":\"x://"
            "y\"}}",
            NULL, NULL);
    assert_int_equal(error_code(r), -32601);
    json_decref(r);
}

static void test_tool_titles_and_annotations_as_written(void **state)
{
    fixture *f = *state;
    initialize(f);
    json_t *r = run(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", NULL, NULL);
    const json_t *tools = result_of(r, "tools");
    char *a0 = json_dumps(json_object_get(json_array_get(tools, 0), "annotations"), JSON_COMPACT);
    assert_string_equal(a0,
                        "{\"title\":\"Get Ship\",\"readOnlyHint\":true,\"openWorldHint\":false}");
    free(a0);
    assert_null(json_object_get(json_array_get(tools, 1), "annotations"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 1), "title")),
                        "List every ship in the registry");
    char *a2 = json_dumps(json_object_get(json_array_get(tools, 2), "annotations"), JSON_COMPACT);
    assert_string_equal(a2, "{\"destructiveHint\":true,\"idempotentHint\":true}");
    free(a2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 2), "title")),
                        "Remove a ship from the registry for good, with every record...");
    json_decref(r);
}

static void test_resources_list_and_templates(void **state)
{
    fixture *f = *state;
    initialize(f);
    json_t *r = run(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\"}", NULL, NULL);
    const json_t *list = result_of(r, "resources");
    const char *want[] = {"notes://ships/data.json", "notes://ships/guide/intro.txt",
                          "notes://ships/readme.md", "notes://readme", "registry://ships"};
    assert_int_equal(json_array_size(list), 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(list, i), "uri")),
                            want[i]);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "mimeType")),
                        "application/json");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
                        "notes");
    assert_null(json_object_get(json_array_get(list, 3), "title")); /* no label */
    json_decref(r);
    r = run(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/templates/list\"}", NULL,
            NULL);
    list = result_of(r, "resourceTemplates");
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "uriTemplate")),
                        "registry://ships/{shipId}");
    json_decref(r);
}

static json_t *read_uri(fixture *f, const char *uri, cg_mcp_call **out)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"resources/read\","
             "\"params\":{\"uri\":\"%s\"}}",
             uri);
    cg_mcp_action a;
    json_decref(run(f, text, NULL, &a));
    json_t *reply = a.reply ? json_incref(a.reply) : NULL;
    if (a.act == CG_MCP_ACT_CALL && out) {
        *out = a.call;
        a.call = NULL;
    }
    cg_mcp_action_release(&a);
    return reply;
}

static void test_resources_read_static(void **state)
{
    fixture *f = *state;
    initialize(f);
    json_t *r = read_uri(f, "notes://ships/guide/intro.txt", NULL);
    const json_t *c = json_array_get(result_of(r, "contents"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "text")), "Start with the hull.\n");
    assert_string_equal(json_string_value(json_object_get(c, "mimeType")), "text/plain");
    assert_string_equal(json_string_value(json_object_get(c, "uri")),
                        "notes://ships/guide/intro.txt");
    json_decref(r);
    r = read_uri(f, "notes://readme", NULL);
    c = json_array_get(result_of(r, "contents"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "mimeType")), "text/markdown");
    json_decref(r);
    const char *refused[] = {"notes://ships/../capability.yaml",
                             "notes://ships/./readme.md",
                             "notes://ships/guide/../../capability.yaml",
                             "notes://ships//readme.md",
                             "notes://ships/guide%2Fintro.txt",
                             "notes://ships/",
                             "notes://ships",
                             "notes://ships/none.md",
                             "notes://shipsx",
                             "other://x"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        r = read_uri(f, refused[i], NULL);
        if (error_code(r) != -32602) fail_msg("%s: %lld", refused[i], error_code(r));
        json_decref(r);
    }
    r = run(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"resources/read\"}", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
                        "Invalid params: missing params");
    json_decref(r);
}

static void test_resources_read_dynamic(void **state)
{
    fixture *f = *state;
    initialize(f);
    cg_mcp_call *c = NULL;
    assert_null(read_uri(f, "registry://ships/9%2042", &c));
    assert_non_null(c);
    assert_string_equal(looked_up(c, "shipId"), "9 42"); /* decoded once */
    assert_string_equal(cg_mcp_call_tool(c)->name, "ship");
    cg_call_result res = upstream(200, "{\"imo\":\"9\"}");
    json_t *r = cg_mcp_call_reply(c, &res);
    const json_t *item = json_array_get(result_of(r, "contents"), 0);
    assert_string_equal(json_string_value(json_object_get(item, "uri")), "registry://ships/9%2042");
    assert_string_equal(json_string_value(json_object_get(item, "mimeType")), "application/json");
    assert_string_equal(json_string_value(json_object_get(item, "text")), "{\"imo\":\"9\"}");
    assert_null(result_of(r, "structuredContent"));
    json_decref(r);
    cg_buf b = CG_BUF_INIT; /* the text path gives the same (no tool fast path) */
    assert_int_equal(cg_mcp_call_reply_text(c, &res, &b), 0);
    assert_non_null(strstr(b.data, "\"contents\""));
    cg_buf_free(&b);
    res = upstream(404, "{\"detail\":\"no\"}");
    r = cg_mcp_call_reply(c, &res);
    assert_int_equal(error_code(r), -32002);
    json_decref(r);
    res = upstream(503, "down");
    r = cg_mcp_call_reply(c, &res);
    assert_int_equal(error_code(r), -32603);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(r, "error"), "data"), "status")),
                     503);
    json_decref(r);
    cg_call_result bad = {.error = CG_CALL_BAD_ARGUMENT, .argument = "imo"};
    snprintf(bad.message, sizeof bad.message, "must not be empty");
    r = cg_mcp_call_reply(c, &bad);
    assert_int_equal(error_code(r), -32602);
    json_decref(r);
    cg_mcp_call_free(c);
    c = NULL;
    assert_null(read_uri(f, "registry://ships", &c)); /* the concrete dynamic resource */
    assert_string_equal(cg_mcp_call_tool(c)->name, "fleet");
    cg_mcp_call_free(c);
    r = read_uri(f, "registry://ships/1/2", NULL);
    assert_int_equal(error_code(r), -32602);
    json_decref(r);
}

static json_t *get_prompt(fixture *f, const char *params)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"prompts/get\",\"params\":%s}", params);
    return run(f, text, NULL, NULL);
}

static const char *message_text(const json_t *reply, size_t i)
{
    const json_t *m = json_array_get(result_of(reply, "messages"), i);
    return json_string_value(json_object_get(json_object_get(m, "content"), "text"));
}

static void test_prompts(void **state)
{
    fixture *f = *state;
    initialize(f);
    json_t *r = run(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/list\"}", NULL, NULL);
    const json_t *p0 = json_array_get(result_of(r, "prompts"), 0);
    assert_int_equal(json_array_size(result_of(r, "prompts")), 2);
    assert_string_equal(json_string_value(json_object_get(p0, "title")), "Inspect Ship");
    assert_true(json_is_true(
        json_object_get(json_array_get(json_object_get(p0, "arguments"), 0), "required")));
    assert_true(json_is_false(
        json_object_get(json_array_get(json_object_get(p0, "arguments"), 1), "required")));
    json_decref(r);
    r = get_prompt(
        f, "{\"name\":\"inspect-ship\",\"arguments\":{\"ship_name\":\"A {{focus}}\",\"focus\":7}}");
    assert_string_equal(message_text(r, 0), "Plan an inspection of A {{focus}}, starting with 7.");
    assert_string_equal(message_text(r, 1), "I will draft the plan.");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(result_of(r, "messages"), 1), "role")),
        "assistant");
    json_decref(r);
    r = get_prompt(f, "{\"name\":\"review-notes\",\"arguments\":{\"reviewer\":\"Ana\"}}");
    assert_string_equal(
        message_text(r, 0),
        "You are Ana. Review the ship notes and list what is missing. Leave {{other}} alone.\n");
    json_decref(r);
    const char *refused[] = {
        "{\"name\":\"inspect-ship\"}",
        "{\"name\":\"inspect-ship\",\"arguments\":{\"focus\":\"x\"}}",
        "{\"name\":\"inspect-ship\",\"arguments\":{\"ship_name\":\"a\",\"other\":\"b\"}}",
        "{\"name\":\"inspect-ship\",\"arguments\":{\"ship_name\":[1]}}",
        "{\"name\":\"inspect-ship\",\"arguments\":\"x\"}",
        "{\"name\":\"nope\"}",
        "{}",
        "{\"name\":\"\"}"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        r = get_prompt(f, refused[i]);
        if (error_code(r) != -32602) fail_msg("%s: %lld", refused[i], error_code(r));
        json_decref(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_rejects_bad_json),
        cmocka_unit_test(test_parse_keeps_int64_ids_exact),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_invalid_reply_echoes_usable_id),
        cmocka_unit_test(test_dump_is_one_line),
        cmocka_unit_test_setup_teardown(test_initialize_negotiates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_initialize_twice_and_without_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requests_before_initialize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notifications_and_unknown_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancelled_names_the_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logging_set_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tools_list_one_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tools_list_pages, setup_paged, teardown),
        cmocka_unit_test_setup_teardown(test_call_accepts_integers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_refuses_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_protocol_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_body_and_optional_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_progress_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quick_call_matches_general, setup_typed, teardown),
        cmocka_unit_test_setup_teardown(test_quick_call_leaves_the_rest, setup_typed, teardown),
        cmocka_unit_test_setup_teardown(test_result_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_array_is_wrapped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_empty_and_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_upstream_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_capgate_errors, setup, teardown),
        cmocka_unit_test(test_json_kind),
        cmocka_unit_test_setup_teardown(test_reply_text_matches_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_initialize_declares_what_the_adapter_has,
                                        setup_catalog, teardown_catalog),
        cmocka_unit_test_setup_teardown(test_initialize_without_resources_or_prompts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tool_titles_and_annotations_as_written, setup_catalog,
                                        teardown_catalog),
        cmocka_unit_test_setup_teardown(test_resources_list_and_templates, setup_catalog,
                                        teardown_catalog),
        cmocka_unit_test_setup_teardown(test_resources_read_static, setup_catalog,
                                        teardown_catalog),
        cmocka_unit_test_setup_teardown(test_resources_read_dynamic, setup_catalog,
                                        teardown_catalog),
        cmocka_unit_test_setup_teardown(test_prompts, setup_catalog, teardown_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
