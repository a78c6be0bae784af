/*
 * Unit tests for serve/serve.h (src/serve/serve.c): `capgate serve` as a command, run in a
 * child process (cg_serve_main) with its stdout and stderr in files of a temporary
 * directory. --help prints the usage with the runtime's options and exits 0; serve's own
 * options are checked (--mcp-port, --control-port, --skill-port: 0..65535) and a bad one
 * ends it with status 2 before anything is bound; --listen :0, --mcp-port 0 and
 * --control-port 0 put REST, MCP and control on kernel-picked ports, all answering;
 * --no-mcp leaves the MCP adapter out; SIGTERM ends it with status 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "child.h"
#include "loopback.h"
#include "tempdir.h"

#include "serve/serve.h"

static const char SPEC[] = "naftiko: 1.0.0-alpha2\n"
                           "info: {label: Serve, description: serve unit test}\n"
                           "capability:\n"
                           "  consumes:\n"
                           "  - type: http\n"
                           "    namespace: api\n"
                           "    baseUri: http://127.0.0.1:%d\n"
                           "    resources:\n"
                           "    - name: ping\n"
                           "      path: /ping\n"
                           "      operations:\n"
                           "      - {name: ping, method: GET}\n"
                           "  exposes:\n"
                           "  - type: rest\n"
                           "    namespace: r\n"
                           "    port: 8080\n"
                           "    resources:\n"
                           "    - path: /ping\n"
                           "      operations:\n"
                           "      - {method: GET, call: api.ping}\n"
                           "  - type: mcp\n"
                           "    namespace: m\n"
                           "    port: 9090\n"
                           "    tools:\n"
                           "    - {name: ping, description: Ping, call: api.ping}\n"
                           "  - type: control\n"
                           "    port: 9091\n"
                           "    management: {health: true}\n"
                           "    observability: {enabled: false}\n";

typedef struct fixture {
    char dir[64], spec[128], out[128], err[128];
    loopback_upstream upstream;
    pid_t pid;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (tempdir_make(f->dir, sizeof f->dir, "serve") != 0) return -1;
    snprintf(f->spec, sizeof f->spec, "%s/cap.yaml", f->dir);
    snprintf(f->out, sizeof f->out, "%s/stdout", f->dir);
    snprintf(f->err, sizeof f->err, "%s/stderr", f->dir);
    loopback_upstream_start(&f->upstream, NULL, NULL);
    FILE *o = fopen(f->spec, "w");
    if (!o) return -1;
    fprintf(o, SPEC, f->upstream.port);
    fclose(o);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    child_kill(&f->pid);
    loopback_upstream_stop(&f->upstream);
    int rc = tempdir_remove(f->dir);
    free(f);
    return rc;
}

/* `capgate serve ARGS... FILE` in a child (FILE added unless no_file). */
static void start(fixture *f, const char *const *args, bool no_file)
{
    f->pid = child_fork(f->out, f->err, f->upstream.fd);
    if (f->pid == 0) {
        char *argv[16];
        int argc = 0;
        argv[argc++] = "serve";
        for (; args && *args && argc < 14; args++) argv[argc++] = (char *)*args;
        if (!no_file) argv[argc++] = f->spec;
        argv[argc] = NULL;
        int rc = cg_serve_main(argc, argv);
        fflush(stdout);
        _exit(rc);
    }
}

static int get_status(int port, const char *path)
{
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
             path);
    int status = 0;
    sscanf(loopback_exchange(port, req, 5), "HTTP/1.1 %d", &status);
    return status;
}

static void help_prints_the_usage_and_exits_0(void **state)
{
    fixture *f = *state;
    static const char *const args[] = {"--help", NULL};
    start(f, args, true);
    assert_int_equal(child_wait_exit(&f->pid), 0);
    const char *out = child_slurp(f->out);
    assert_true(strncmp(out, "usage: capgate serve [OPTIONS] [FILE]\n", 38) == 0);
    static const char *const mentioned[] = {
        "--listen",  "--mcp-port",      "--no-mcp",         "--skill-port",      "--control-port",
        "--threads", "--drain-timeout", "LABEL_STUDIO_URL", "CAPGATE_API_TOKENS"};
    for (size_t i = 0; i < sizeof mentioned / sizeof mentioned[0]; i++)
        if (!strstr(out, mentioned[i])) fail_msg("--help does not mention %s", mentioned[i]);
    assert_string_equal(child_slurp(f->err), "");
}

static void bad_options_end_with_status_2(void **state)
{
    fixture *f = *state;
    static const char *const cases[][3] = {
        {"--mcp-port", "65536", "--mcp-port"},
        {"--control-port", "-1", "--control-port"},
        {"--skill-port", "x", "--skill-port"},
        {"--no-such-option", NULL, "unknown option '--no-such-option'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[] = {cases[i][0], cases[i][1], NULL};
        start(f, args, false);
        assert_int_equal(child_wait_exit(&f->pid), 2);
        const char *err = child_slurp(f->err);
        if (!strstr(err, cases[i][2])) fail_msg("no '%s' in: %s", cases[i][2], err);
        assert_null(strstr(err, "serving")); /* nothing started */
    }
}

static void its_own_options_place_every_adapter(void **state)
{
    fixture *f = *state;
    static const char *const args[] = {
        "--listen", "127.0.0.1:0", "--mcp-port", "0", "--control-port",
        "0",        "--threads",   "1",          NULL};
    start(f, args, false);
    const char *log = child_wait_log(f->err, "serving ");
    int rest = child_logged_port(log, "REST on"), mcp = child_logged_port(log, "MCP on"),
        control = child_logged_port(log, "control on");
    assert_true(rest > 0 && rest != 8080);
    assert_true(mcp > 0 && mcp != 9090 && mcp != rest);
    assert_true(control > 0 && control != 9091 && control != rest && control != mcp);
    assert_int_equal(get_status(rest, "/ping"), 200);
    assert_int_equal(get_status(control, "/health/live"), 200);
    assert_int_equal(get_status(mcp, "/elsewhere"), 404); /* the MCP endpoint's own 404 */
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    assert_int_equal(child_wait_exit(&f->pid), 0);
}

static void no_mcp_leaves_the_mcp_adapter_out(void **state)
{
    fixture *f = *state;
    static const char *const args[] = {"--listen", ":0", "--control-port", "0", "--no-mcp", NULL};
    start(f, args, false);
    const char *log = child_wait_log(f->err, "serving ");
    assert_true(child_logged_port(log, "REST on") > 0);
    assert_int_equal(child_logged_port(log, "MCP on"), 0);
    assert_null(strstr(log, "/mcp"));
    assert_int_equal(kill(f->pid, SIGINT), 0);
    assert_int_equal(child_wait_exit(&f->pid), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(help_prints_the_usage_and_exits_0, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_options_end_with_status_2, setup, teardown),
        cmocka_unit_test_setup_teardown(its_own_options_place_every_adapter, setup, teardown),
        cmocka_unit_test_setup_teardown(no_mcp_leaves_the_mcp_adapter_out, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
