/*
 * Unit tests for mcp/mcp.h over HTTP (src/mcp/http_transport.c): the Streamable HTTP
 * transport started on a real loop, as `capgate serve` wires it (cg_mcp_shared_create, then
 * cg_mcp_http_start on a worker's engine), for a small spec whose upstream is the loopback
 * upstream of loopback.h. Covered: initialize gives a session id, tools/list and tools/call
 * answered (the upstream saw the call), a notification is 202, 404 for an unknown session,
 * the 400/403/404/405/406/415 refusals, DELETE ends a session, a batch under 2025-03-26 (and
 * refused under 2025-06-18), a progress stream, and a stateless 2026-07-28 call with its
 * header check, a reload (cg_mcp_http_reload: new tools, notifications/tools/list_changed on
 * the open GET stream), and the drain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/eventfd.h>

#include "loop_thread.h"
#include "spec_fixture.h"
#include "loopback.h"

#include <jansson.h>

#include "engine/call.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp.h"
#include "mcp/protocol.h"
#include "mcp/session.h"
#include "net/loop.h"

static const char SPEC[] = "naftiko: 1.0.0-alpha2\n"
                           "info: {label: Pets, description: mcp http unit test}\n"
                           "capability:\n"
                           "  consumes:\n"
                           "  - type: http\n"
                           "    namespace: pets\n"
                           "    baseUri: http://127.0.0.1:%d/api\n"
                           "    resources:\n"
                           "    - name: pet\n"
                           "      path: /pets/{id}\n"
                           "      operations:\n"
                           "      - name: get\n"
                           "        method: GET\n"
                           "        inputParameters:\n"
                           "        - {name: id, in: path, type: integer, required: true}\n"
                           "        - {name: mood, in: query, type: string}\n"
                           "  exposes:\n"
                           "  - type: mcp\n"
                           "    namespace: pets-mcp\n"
                           "    port: 9999\n"
                           "    tools:\n"
                           "    - name: get-pet\n"
                           "      description: Get a pet\n"
                           "      call: pets.get\n"
                           "      with: {id: pets-mcp.id, mood: pets-mcp.mood}\n"
                           "      inputParameters:\n"
                           "      - {name: id, type: integer, required: true}\n"
                           "      - {name: mood, type: string}\n";

/* The spec after a reload: one more operation and tool (list-pets). */
static const char SPEC2[] =
    "naftiko: 1.0.0-alpha2\n"
    "info: {label: Pets, description: mcp http unit test (reloaded)}\n"
    "capability:\n"
    "  consumes:\n"
    "  - type: http\n"
    "    namespace: pets\n"
    "    baseUri: http://127.0.0.1:%d/api\n"
    "    resources:\n"
    "    - name: pet\n"
    "      path: /pets/{id}\n"
    "      operations:\n"
    "      - name: get\n"
    "        method: GET\n"
    "        inputParameters:\n"
    "        - {name: id, in: path, type: integer, required: true}\n"
    "    - name: pets\n"
    "      path: /pets\n"
    "      operations:\n"
    "      - {name: list, method: GET}\n"
    "  exposes:\n"
    "  - type: mcp\n"
    "    namespace: pets-mcp\n"
    "    port: 9999\n"
    "    tools:\n"
    "    - name: get-pet\n"
    "      description: Get a pet\n"
    "      call: pets.get\n"
    "      with: {id: pets-mcp.id}\n"
    "      inputParameters:\n"
    "      - {name: id, type: integer, required: true}\n"
    "    - {name: list-pets, description: List the pets, call: pets.list}\n";

typedef struct fixture {
    loopback_upstream upstream;
    cg_spec *spec;
    cg_loop *loop;
    cg_engine *engine;
    cg_mcp_http_options opt;
    cg_mcp_shared *shared;
    cg_mcp_http *http;
    loop_drain drain;
    int port;
    cg_engine_options eo;
    /* the reload: the test wakes the loop thread, which switches to spec2 */
    loop_wake wake;
    cg_spec *spec2;
    cg_engine *engine2;
    struct cg_mcp_core *core2;
    atomic_int reloaded; /* 1 done, -1 failed */
} fixture;

static void quiesce(void *http)
{
    cg_mcp_http_quiesce(http);
}

static int active(const void *http)
{
    return cg_mcp_http_active(http);
}

/* On the loop thread, as the runtime's reload does it: a new engine and protocol core for
 * spec2, and the adapter switched to them (its tools changed). */
static void reload(cg_loop *loop, void *arg)
{
    fixture *f = arg;
    char err[256];
    f->engine2 = cg_engine_create(loop, f->spec2, &f->eo, NULL, err, sizeof err);
    f->core2 = cg_mcp_shared_core_create(f->shared, f->spec2, &f->spec2->mcp[0]);
    atomic_store(&f->reloaded, f->engine2 && f->core2 ? 1 : -1); /* before the notification */
    if (f->engine2 && f->core2) cg_mcp_http_reload(f->http, f->engine2, f->core2, true);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    loopback_upstream_start(&f->upstream, NULL, NULL);
    char text[sizeof SPEC2 + 16];
    int n = snprintf(text, sizeof text, SPEC, f->upstream.port);
    if (!(f->spec = spec_fixture_load("mcp.yaml", text, (size_t)n))) return -1;
    n = snprintf(text, sizeof text, SPEC2, f->upstream.port);
    if (!(f->spec2 = spec_fixture_load("mcp2.yaml", text, (size_t)n))) return -1;
    char err[256];
    f->eo = (cg_engine_options){
        .connect_timeout_ms = 2000, .timeout_ms = 3000, .upstream = {.native_http = true}};
    const cg_engine_options eo = f->eo;
    f->opt = (cg_mcp_http_options){.address = "127.0.0.1", .port = 0};
    if (!(f->loop = cg_loop_create(err, sizeof err)) ||
        !(f->engine = cg_engine_create(f->loop, f->spec, &eo, NULL, err, sizeof err)) ||
        !(f->shared = cg_mcp_shared_create(f->spec, &f->spec->mcp[0], &f->opt, err, sizeof err)) ||
        !(f->http = cg_mcp_http_start(f->engine, f->shared, err, sizeof err))) {
        print_error("setup: %s\n", err);
        return -1;
    }
    f->port = cg_mcp_shared_port(f->shared);
    if (loop_wake_add(&f->wake, f->loop, reload, f) < 0) return -1;
    f->drain = (loop_drain){
        .loop = f->loop, .adapter = f->http, .quiesce = quiesce, .active = active};
    loop_drain_start(&f->drain);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f) return 0; /* setup failed */
    loop_drain_stop(&f->drain);
    cg_mcp_http_stop(f->http);
    cg_engine_free(f->engine);
    cg_engine_free(f->engine2);
    loop_wake_remove(&f->wake, f->loop);
    cg_loop_free(f->loop);
    cg_mcp_core_free(f->core2);
    cg_mcp_shared_free(f->shared);
    cg_spec_free(f->spec);
    cg_spec_free(f->spec2);
    loopback_upstream_stop(&f->upstream);
    free(f);
    return 0;
}

/* ---- the client side ------------------------------------------------------------------ */

#define ACCEPT_BOTH "Accept: application/json, text/event-stream\r\n"
#define JSON_TYPE "Content-Type: application/json\r\n"

typedef struct reply {
    int status;
    char head[2048];
    char body[16384];
} reply;

/* METHOD path on a new connection with Host 127.0.0.1:port, the given header lines
 * (complete "Name: value\r\n" lines) and body (or none). */
static reply exchange(const fixture *f, const char *method, const char *path, const char *headers,
                      const char *body)
{
    char req[8192];
    snprintf(req, sizeof req,
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%sContent-Length: "
             "%zu\r\n\r\n%s",
             method, path, f->port, headers, body ? strlen(body) : 0, body ? body : "");
    const char *answer = loopback_exchange(f->port, req, 5);
    reply r = {0};
    sscanf(answer, "HTTP/1.1 %d", &r.status);
    const char *b = strstr(answer, "\r\n\r\n");
    size_t head_len = b ? (size_t)(b - answer) : strlen(answer);
    snprintf(r.head, sizeof r.head, "%.*s", (int)head_len, answer);
    snprintf(r.body, sizeof r.body, "%s", b ? b + 4 : "");
    return r;
}

/* A POST to /mcp with both media types accepted, in session sid (NULL: none). */
static reply post(const fixture *f, const char *sid, const char *body)
{
    char headers[256];
    snprintf(headers, sizeof headers, ACCEPT_BOTH JSON_TYPE "%s%s%s", sid ? "Mcp-Session-Id: " : "",
             sid ? sid : "", sid ? "\r\n" : "");
    return exchange(f, "POST", "/mcp", headers, body);
}

/* The value of header name in r's head, copied to out ("" when absent). */
static const char *header(const reply *r, const char *name, char *out, size_t cap)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\r\n%s: ", name);
    const char *h = strcasestr(r->head, needle);
    out[0] = '\0';
    if (h) {
        h += strlen(needle);
        size_t n = strcspn(h, "\r");
        snprintf(out, cap, "%.*s", (int)n, h);
    }
    return out;
}

static json_t *body_json(const reply *r)
{
    json_t *j = json_loads(r->body, 0, NULL);
    if (!j) fail_msg("not JSON: '%s'", r->body);
    return j;
}

static json_int_t error_code(const json_t *j)
{
    return json_integer_value(json_object_get(json_object_get(j, "error"), "code"));
}

/* initialize at version; the new session's id in sid (CG_MCP_SESSION_ID_LEN + 1 bytes). */
static void initialize(const fixture *f, const char *version, char *sid)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
             "\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\","
             "\"version\":\"1\"}}}",
             version);
    reply r = post(f, NULL, body);
    assert_int_equal(r.status, 200);
    header(&r, "Mcp-Session-Id", sid, CG_MCP_SESSION_ID_LEN + 1);
    assert_true(strlen(sid) > 16);
    json_t *j = body_json(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
    json_t *res = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_object_get(res, "protocolVersion")), version);
    assert_non_null(json_object_get(json_object_get(res, "capabilities"), "tools"));
    json_decref(j);
    r = post(f, sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    assert_int_equal(r.status, 202);
    assert_string_equal(r.body, "");
}

/* The text of a tools/call result's first content block, parsed as JSON. */
static json_t *tool_text_json(const json_t *result)
{
    const char *text = json_string_value(
        json_object_get(json_array_get(json_object_get(result, "content"), 0), "text"));
    assert_non_null(text);
    json_t *j = json_loads(text, 0, NULL);
    if (!j) fail_msg("tool text is not JSON: %s", text);
    return j;
}

/* Reads from fd into buf (len so far) until needle has come (NULL: until the peer closes);
 * fails after 5 s without it. */
static void read_more(int fd, char *buf, size_t cap, size_t *len, const char *needle)
{
    while (!needle || !strstr(buf, needle)) {
        ssize_t r = read(fd, buf + *len, cap - 1 - *len);
        if (r <= 0 && !needle) return;
        if (r <= 0) fail_msg("no '%s' in: %s", needle, buf);
        *len += (size_t)r;
        buf[*len] = '\0';
    }
}

/* ---- sessions ---------------------------------------------------------------------------- */

static void a_session_lists_and_calls_a_tool(void **state)
{
    fixture *f = *state;
    char sid[CG_MCP_SESSION_ID_LEN + 1];
    initialize(f, "2025-06-18", sid);

    reply r = post(f, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    assert_int_equal(r.status, 200);
    char type[128];
    assert_string_equal(header(&r, "Content-Type", type, sizeof type), "application/json");
    json_t *j = body_json(&r);
    json_t *tools = json_object_get(json_object_get(j, "result"), "tools");
    assert_int_equal(json_array_size(tools), 1);
    json_t *tool = json_array_get(tools, 0);
    assert_string_equal(json_string_value(json_object_get(tool, "name")), "get-pet");
    json_t *schema = json_object_get(tool, "inputSchema");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(schema, "properties"), "id"), "type")),
                        "integer");
    json_decref(j);

    int before = atomic_load(&f->upstream.requests);
    r = post(f, sid,
             "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"get-pet\",\"arguments\":{\"id\":5,\"mood\":\"calm & happy\"}}}");
    assert_int_equal(r.status, 200);
    assert_int_equal(atomic_load(&f->upstream.requests), before + 1);
    j = body_json(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 3);
    json_t *res = json_object_get(j, "result");
    assert_false(json_is_true(json_object_get(res, "isError")));
    json_t *echo = tool_text_json(res);
    assert_string_equal(json_string_value(json_object_get(echo, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(echo, "target")),
                        "/api/pets/5?mood=calm%20%26%20happy");
    json_decref(echo);
    json_decref(j);

    /* a bad argument never reaches the upstream: isError */
    r = post(f, sid,
             "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"get-pet\",\"arguments\":{\"id\":\"five\"}}}");
    assert_int_equal(r.status, 200);
    j = body_json(&r);
    res = json_object_get(j, "result");
    assert_true(json_is_true(json_object_get(res, "isError")));
    json_t *sc = json_object_get(res, "structuredContent");
    assert_string_equal(json_string_value(json_object_get(sc, "error")), "bad-argument");
    assert_string_equal(json_string_value(json_object_get(sc, "argument")), "id");
    json_decref(j);
    assert_int_equal(atomic_load(&f->upstream.requests), before + 1);

    /* an unknown tool */
    r = post(f, sid,
             "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"no-such\",\"arguments\":{}}}");
    j = body_json(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 5);
    assert_int_equal(error_code(j), CG_JSONRPC_INVALID_PARAMS);
    json_decref(j);
}

static void an_unknown_session_is_404(void **state)
{
    fixture *f = *state;
    reply r = post(f, "no-such-session",
                   "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    assert_int_equal(r.status, 404);
    json_t *j = body_json(&r);
    assert_int_equal(error_code(j), CG_JSONRPC_SESSION_NOT_FOUND);
    json_decref(j);

    /* no session at all: 400 */
    r = post(f, NULL, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    assert_int_equal(r.status, 400);
    j = body_json(&r);
    assert_int_equal(error_code(j), CG_JSONRPC_SERVER_ERROR);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
               "Mcp-Session-Id"));
    json_decref(j);
}

static void delete_ends_a_session(void **state)
{
    fixture *f = *state;
    char sid[CG_MCP_SESSION_ID_LEN + 1], headers[256];
    initialize(f, "2025-06-18", sid);
    snprintf(headers, sizeof headers, "Mcp-Session-Id: %s\r\n", sid);
    reply r = exchange(f, "DELETE", "/mcp", headers, NULL);
    assert_int_equal(r.status, 200);
    r = post(f, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
    assert_int_equal(r.status, 404);
    r = exchange(f, "DELETE", "/mcp", headers, NULL);
    assert_int_equal(r.status, 404);
    /* DELETE without a session id */
    r = exchange(f, "DELETE", "/mcp", "", NULL);
    assert_int_equal(r.status, 400);
}

/* ---- refusals ------------------------------------------------------------------------------ */

static void refusals_by_the_headers(void **state)
{
    fixture *f = *state;
    static const char ping[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
    reply r = exchange(f, "POST", "/mcp", "Accept: application/json\r\n" JSON_TYPE, ping);
    assert_int_equal(r.status, 406);
    json_t *j = body_json(&r);
    assert_int_equal(error_code(j), CG_JSONRPC_SERVER_ERROR);
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(j, "error"), "message")), "Acceptable"));
    json_decref(j);

    r = exchange(f, "POST", "/mcp", ACCEPT_BOTH "Content-Type: text/plain\r\n", ping);
    assert_int_equal(r.status, 415);
    j = body_json(&r);
    assert_int_equal(error_code(j), CG_JSONRPC_SERVER_ERROR);
    json_decref(j);

    r = exchange(f, "GET", "/mcp", "Accept: application/json\r\nMcp-Session-Id: x\r\n", NULL);
    assert_int_equal(r.status, 406);

    r = exchange(f, "POST", "/elsewhere", ACCEPT_BOTH JSON_TYPE, ping);
    assert_int_equal(r.status, 404);

    r = exchange(f, "PUT", "/mcp", ACCEPT_BOTH JSON_TYPE, ping);
    assert_int_equal(r.status, 405);
    char allow[128];
    assert_string_equal(header(&r, "Allow", allow, sizeof allow), "GET, POST, DELETE");

    /* DNS rebinding: a Host or an Origin that is not this machine */
    char req[512];
    snprintf(
        req, sizeof req,
        "POST /mcp HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n" ACCEPT_BOTH JSON_TYPE
        "Content-Length: %zu\r\n\r\n%s",
        strlen(ping), ping);
    int status = 0;
    sscanf(loopback_exchange(f->port, req, 5), "HTTP/1.1 %d", &status);
    assert_int_equal(status, 403);
    r = exchange(f, "POST", "/mcp", ACCEPT_BOTH JSON_TYPE "Origin: https://evil.example\r\n", ping);
    assert_int_equal(r.status, 403);

    /* a body that is not JSON */
    r = post(f, NULL, "{not json");
    assert_int_equal(r.status, 400);
    j = body_json(&r);
    assert_int_equal(error_code(j), CG_JSONRPC_PARSE_ERROR);
    json_decref(j);

    /* a protocol version no revision has */
    r = exchange(f, "POST", "/mcp", ACCEPT_BOTH JSON_TYPE "MCP-Protocol-Version: 2099-01-01\r\n",
                 ping);
    assert_int_equal(r.status, 400);
    j = body_json(&r);
    assert_int_equal(error_code(j), CG_MCP_UNSUPPORTED_VERSION);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
    json_decref(j);
}

/* ---- batches, streams, the 2026-07-28 revision ------------------------------------------------ */

static void a_batch_under_2025_03_26(void **state)
{
    fixture *f = *state;
    char sid[CG_MCP_SESSION_ID_LEN + 1];
    initialize(f, "2025-03-26", sid);
    reply r = post(f, sid,
                   "[{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"ping\"},"
                   "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{"
                   "\"progressToken\":1,\"progress\":1}},"
                   "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\",\"params\":{"
                   "\"name\":\"get-pet\",\"arguments\":{\"id\":7}}}]");
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 2);
    json_t *pong = NULL, *call = NULL;
    for (size_t i = 0; i < 2; i++) {
        json_t *m = json_array_get(j, i);
        json_int_t id = json_integer_value(json_object_get(m, "id"));
        if (id == 10) pong = m;
        if (id == 11) call = m;
    }
    assert_non_null(pong);
    assert_true(json_is_object(json_object_get(pong, "result")));
    assert_non_null(call);
    json_t *echo = tool_text_json(json_object_get(call, "result"));
    assert_string_equal(json_string_value(json_object_get(echo, "target")), "/api/pets/7");
    json_decref(echo);
    json_decref(j);

    /* only notifications: 202, no body */
    r = post(f, sid,
             "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{"
             "\"progressToken\":1,\"progress\":2}}]");
    assert_int_equal(r.status, 202);
    assert_string_equal(r.body, "");

    /* an empty batch */
    r = post(f, sid, "[]");
    assert_int_equal(r.status, 400);

    /* a 2025-06-18 session: batches refused */
    initialize(f, "2025-06-18", sid);
    r = post(f, sid, "[{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"ping\"}]");
    assert_int_equal(r.status, 400);
    j = body_json(&r);
    assert_int_equal(error_code(j), CG_JSONRPC_INVALID_REQUEST);
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(j, "error"), "message")), "2025-03-26"));
    json_decref(j);
}

static void a_progress_token_streams_the_call(void **state)
{
    fixture *f = *state;
    char sid[CG_MCP_SESSION_ID_LEN + 1];
    initialize(f, "2025-06-18", sid);
    reply r = post(f, sid,
                   "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":"
                   "\"get-pet\",\"arguments\":{\"id\":8},\"_meta\":{\"progressToken\":\"p1\"}}}");
    assert_int_equal(r.status, 200);
    char type[128];
    assert_string_equal(header(&r, "Content-Type", type, sizeof type), "text/event-stream");
    /* the events: progress notifications for p1, then the result */
    const char *progress = strstr(r.body, "\"notifications/progress\"");
    assert_non_null(progress);
    assert_non_null(strstr(r.body, "\"progressToken\":\"p1\""));
    const char *result = strstr(r.body, "\"id\":6");
    assert_non_null(result);
    assert_true(progress < result);
    assert_non_null(strstr(r.body, "/api/pets/8"));
}

static void a_stateless_2026_07_28_call(void **state)
{
    fixture *f = *state;
    static const char call[] =
        "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":"
        "\"get-pet\",\"arguments\":{\"id\":9},\"_meta\":{"
        "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
        "\"io.modelcontextprotocol/clientCapabilities\":{}}}}";
    reply r = exchange(f, "POST", "/mcp",
                       ACCEPT_BOTH JSON_TYPE "MCP-Protocol-Version: 2026-07-28\r\n"
                                             "Mcp-Method: tools/call\r\nMcp-Name: get-pet\r\n",
                       call);
    assert_int_equal(r.status, 200);
    char sid[128];
    assert_string_equal(header(&r, "Mcp-Session-Id", sid, sizeof sid), ""); /* no session */
    json_t *j = body_json(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 7);
    json_t *res = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_object_get(res, "resultType")), "complete");
    json_t *echo = tool_text_json(res);
    assert_string_equal(json_string_value(json_object_get(echo, "target")), "/api/pets/9");
    json_decref(echo);
    json_decref(j);

    /* the headers must say what the body says */
    r = exchange(f, "POST", "/mcp",
                 ACCEPT_BOTH JSON_TYPE "MCP-Protocol-Version: 2026-07-28\r\n"
                                       "Mcp-Method: tools/call\r\nMcp-Name: other-tool\r\n",
                 call);
    assert_int_equal(r.status, 400);
    j = body_json(&r);
    assert_int_equal(error_code(j), CG_MCP_HEADER_MISMATCH);
    json_decref(j);

    /* GET and DELETE do not exist in that revision */
    r = exchange(f, "DELETE", "/mcp", "MCP-Protocol-Version: 2026-07-28\r\nMcp-Session-Id: x\r\n",
                 NULL);
    assert_int_equal(r.status, 405);
    char allow[64];
    assert_string_equal(header(&r, "Allow", allow, sizeof allow), "POST");
}

/* Opens session sid's GET stream on a new connection; returns the socket once the priming
 * event has come (what came so far in buf, its length in *len). */
static int open_stream(const fixture *f, const char *sid, char *buf, size_t cap, size_t *len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)f->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n"
                     "Mcp-Session-Id: %s\r\n\r\n",
                     f->port, sid);
    assert_int_equal(write(fd, req, (size_t)n), n);
    *len = 0;
    buf[0] = '\0';
    read_more(fd, buf, cap, len, "data: \n\n"); /* the priming event */
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "Content-Type: text/event-stream\r\n"));
    return fd;
}

static void reload_changes_the_tools_and_tells_the_streams(void **state)
{
    fixture *f = *state;
    char sid[CG_MCP_SESSION_ID_LEN + 1], buf[8192];
    size_t len;
    initialize(f, "2025-06-18", sid);
    int fd = open_stream(f, sid, buf, sizeof buf, &len);
    assert_null(strstr(buf, "list_changed"));

    loop_wake_send(&f->wake);
    read_more(fd, buf, sizeof buf, &len, "notifications/tools/list_changed");
    assert_int_equal(atomic_load(&f->reloaded), 1);
    const char *note = strstr(buf, "data: {");
    assert_non_null(note);
    json_t *j = json_loadb(note + 6, strcspn(note + 6, "\n"), 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "method")),
                        "notifications/tools/list_changed");
    assert_null(json_object_get(j, "id")); /* a notification */
    json_decref(j);
    close(fd);

    /* the same session, the new tools */
    reply r = post(f, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    j = body_json(&r);
    json_t *tools = json_object_get(json_object_get(j, "result"), "tools");
    assert_int_equal(json_array_size(tools), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 1), "name")),
                        "list-pets");
    json_decref(j);
    r = post(f, sid,
             "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"list-pets\",\"arguments\":{}}}");
    assert_int_equal(r.status, 200);
    j = body_json(&r);
    json_t *echo = tool_text_json(json_object_get(j, "result"));
    assert_string_equal(json_string_value(json_object_get(echo, "target")), "/api/pets");
    json_decref(echo);
    json_decref(j);
    /* get-pet lost its mood argument with the new spec */
    r = post(f, sid,
             "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"get-pet\",\"arguments\":{\"id\":1,\"mood\":\"x\"}}}");
    j = body_json(&r);
    assert_true(json_is_true(json_object_get(json_object_get(j, "result"), "isError")));
    json_decref(j);
}

/* Last: the drain ends the GET stream, and no new connection is taken. */
static void quiesce_ends_the_streams(void **state)
{
    fixture *f = *state;
    assert_int_equal(cg_mcp_shared_port(f->shared), f->port);
    assert_true(f->port > 0 && f->port != 9999); /* port 0 asked: the kernel picked it */
    assert_int_equal(cg_mcp_http_active(f->http), 0);
    char sid[CG_MCP_SESSION_ID_LEN + 1], buf[4096];
    size_t len;
    initialize(f, "2025-06-18", sid);
    int fd = open_stream(f, sid, buf, sizeof buf, &len);
    assert_int_equal(cg_mcp_http_active(f->http), 1); /* the open stream */

    /* a second GET stream for the session: 409 */
    char headers[256];
    snprintf(headers, sizeof headers, "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\n", sid);
    reply r = exchange(f, "GET", "/mcp", headers, NULL);
    assert_int_equal(r.status, 409);

    loop_drain_stop(&f->drain); /* returns once the stream has ended */
    read_more(fd, buf, sizeof buf, &len, NULL);
    assert_non_null(strstr(buf, "\r\n0\r\n\r\n")); /* the chunked stream's end */
    close(fd);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)f->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), -1); /* no longer listening */
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_session_lists_and_calls_a_tool),
        cmocka_unit_test(an_unknown_session_is_404),
        cmocka_unit_test(delete_ends_a_session),
        cmocka_unit_test(refusals_by_the_headers),
        cmocka_unit_test(a_batch_under_2025_03_26),
        cmocka_unit_test(a_progress_token_streams_the_call),
        cmocka_unit_test(a_stateless_2026_07_28_call),
        cmocka_unit_test(reload_changes_the_tools_and_tells_the_streams),
        cmocka_unit_test(quiesce_ends_the_streams),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
