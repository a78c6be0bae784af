/*
 * Unit tests for MCP over stdio (cg_mcp_stdio_run in mcp/mcp.h, src/mcp/stdio_transport.c):
 * a child process serves a small spec on pipes as its stdin and stdout; the test writes
 * JSON-RPC lines, closes stdin and reads every line back: one JSON message per line and
 * nothing else on stdout, initialize and tools/list answered, a parse error and a batch
 * refused, a tool call whose upstream refuses the connection answered with isError, an
 * unknown tool refused, and exit status 0 at end of input once the calls are answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "engine/call.h"
#include "mcp/mcp.h"

static const char SPEC[] = "naftiko: 1.0.0-alpha2\n"
                           "info: {label: Pets, description: stdio unit test}\n"
                           "capability:\n"
                           "  consumes:\n"
                           "  - type: http\n"
                           "    namespace: pets\n"
                           "    baseUri: http://127.0.0.1:1\n"
                           "    resources:\n"
                           "    - name: pet\n"
                           "      path: /pets/{id}\n"
                           "      operations:\n"
                           "      - name: get\n"
                           "        method: GET\n"
                           "        inputParameters:\n"
                           "        - {name: id, in: path, type: integer, required: true}\n"
                           "  exposes:\n"
                           "  - type: mcp\n"
                           "    namespace: pets-mcp\n"
                           "    transport: stdio\n"
                           "    tools:\n"
                           "    - name: get-pet\n"
                           "      description: Get a pet\n"
                           "      call: pets.get\n"
                           "      with: {id: pets-mcp.id}\n"
                           "      inputParameters:\n"
                           "      - {name: id, type: integer, required: true}\n";

static const char INPUT[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
    "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n"
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}\n"
    "this is not json\n"
    "[{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}]\n"
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"get-pet\","
    "\"arguments\":{\"id\":5}}}\n"
    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"no-such\","
    "\"arguments\":{}}}\n";

/* Runs the stdio server in a child on pipes; returns its stdout and sets *status. */
static char *serve(const char *input, int *status)
{
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        cg_spec *spec = NULL;
        if (cg_spec_load_string("stdio.yaml", SPEC, sizeof SPEC - 1, &spec, NULL) != CG_SPEC_OK)
            _exit(90);
        cg_engine_options o = {.connect_timeout_ms = 2000, .timeout_ms = 5000};
        int rc = cg_mcp_stdio_run(spec, &spec->mcp[0], &o);
        fflush(stdout);
        _exit(rc);
    }
    close(in[0]);
    close(out[1]);
    assert_int_equal(write(in[1], input, strlen(input)), (ssize_t)strlen(input));
    close(in[1]); /* end of input */
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    struct pollfd p = {.fd = out[0], .events = POLLIN};
    while (n < cap - 1 && poll(&p, 1, 10000) > 0) {
        ssize_t r = read(out[0], buf + n, cap - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    close(out[0]);
    assert_int_equal(waitpid(pid, status, 0), pid);
    return buf;
}

static json_t *by_id(json_t *replies, json_int_t id)
{
    size_t i;
    json_t *m;
    json_array_foreach(replies, i,
                       m) if (json_integer_value(json_object_get(m, "id")) == id) return m;
    return NULL;
}

static void a_session_over_stdio(void **state)
{
    int status;
    char *out = serve(INPUT, &status);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* every line is one JSON-RPC message */
    json_t *replies = json_array();
    json_int_t null_codes[4] = {0};
    int n_null = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *m = json_loads(line, 0, NULL);
        if (!m) fail_msg("not one JSON message per line: %s", line);
        assert_string_equal(json_string_value(json_object_get(m, "jsonrpc")), "2.0");
        if (json_is_null(json_object_get(m, "id")) && n_null < 4)
            null_codes[n_null++] = json_integer_value(
                json_object_get(json_object_get(m, "error"), "code"));
        json_array_append_new(replies, m);
    }
    json_t *init = by_id(replies, 1);
    assert_non_null(init);
    json_t *result = json_object_get(init, "result");
    assert_string_equal(json_string_value(json_object_get(result, "protocolVersion")),
                        "2025-06-18");
    assert_non_null(json_object_get(json_object_get(result, "capabilities"), "tools"));

    json_t *tools = json_object_get(json_object_get(by_id(replies, 2), "result"), "tools");
    assert_int_equal(json_array_size(tools), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 0), "name")),
                        "get-pet");

    /* "this is not json" and the batch: errors with id null */
    assert_int_equal(n_null, 2);
    assert_int_equal(null_codes[0], -32700); /* parse error */
    assert_int_equal(null_codes[1], -32600); /* batches are refused */
    assert_null(by_id(replies, 9));          /* the batch's request was not run */

    json_t *call = json_object_get(by_id(replies, 3), "result");
    assert_non_null(call); /* an upstream failure is a tool result */
    assert_true(json_is_true(json_object_get(call, "isError")));

    json_t *unknown = by_id(replies, 4);
    assert_null(json_object_get(unknown, "result"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(unknown, "error"), "code")),
                     -32602);
    assert_int_equal(json_array_size(replies), 6); /* nothing for the notification */
    json_decref(replies);
    free(out);
}

static void empty_input_exits_cleanly(void **state)
{
    int status;
    char *out = serve("", &status);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(out, "");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_session_over_stdio),
        cmocka_unit_test(empty_input_exits_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
