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

#include "loopback.h"

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
    snprintf(f->dir, sizeof f->dir, "/tmp/cg-serve-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
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
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
    }
    loopback_upstream_stop(&f->upstream);
    unlink(f->spec);
    unlink(f->out);
    unlink(f->err);
    int rc = rmdir(f->dir);
    free(f);
    return rc;
}

/* `capgate serve ARGS... FILE` in a child (FILE added unless no_file). */
static void start(fixture *f, const char *const *args, bool no_file)
{
    fflush(stdout);
    fflush(stderr);
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        close(f->upstream.fd);
        int o = open(f->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(f->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(o, 1);
        dup2(e, 2);
        close(o);
        close(e);
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

static const char *slurp(const char *path)
{
    static char buf[16384];
    buf[0] = '\0';
    FILE *in = fopen(path, "r");
    if (!in) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, in);
    buf[n] = '\0';
    fclose(in);
    return buf;
}

static int wait_exit(fixture *f)
{
    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < 500 && (got = waitpid(f->pid, &status, WNOHANG)) == 0; i++)
        usleep(10 * 1000);
    assert_int_equal(got, f->pid);
    f->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *wait_log(fixture *f, const char *needle)
{
    for (int i = 0; i < 250; i++) {
        const char *log = slurp(f->err);
        if (strstr(log, needle)) return log;
        usleep(20 * 1000);
    }
    fail_msg("'%s' never logged:\n%s", needle, slurp(f->err));
    return NULL;
}

static int logged_port(const char *log, const char *what)
{
    char needle[64];
    snprintf(needle, sizeof needle, "%s on http://127.0.0.1:", what);
    const char *p = strstr(log, needle);
    return p ? atoi(p + strlen(needle)) : 0;
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
    assert_int_equal(wait_exit(f), 0);
    const char *out = slurp(f->out);
    assert_true(strncmp(out, "usage: capgate serve [OPTIONS] [FILE]\n", 38) == 0);
    static const char *const mentioned[] = {
        "--listen",  "--mcp-port",      "--no-mcp",         "--skill-port",      "--control-port",
        "--threads", "--drain-timeout", "LABEL_STUDIO_URL", "CAPGATE_API_TOKENS"};
    for (size_t i = 0; i < sizeof mentioned / sizeof mentioned[0]; i++)
        if (!strstr(out, mentioned[i])) fail_msg("--help does not mention %s", mentioned[i]);
    assert_string_equal(slurp(f->err), "");
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
        assert_int_equal(wait_exit(f), 2);
        const char *err = slurp(f->err);
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
    const char *log = wait_log(f, "serving ");
    int rest = logged_port(log, "REST"), mcp = logged_port(log, "MCP"),
        control = logged_port(log, "control");
    assert_true(rest > 0 && rest != 8080);
    assert_true(mcp > 0 && mcp != 9090 && mcp != rest);
    assert_true(control > 0 && control != 9091 && control != rest && control != mcp);
    assert_int_equal(get_status(rest, "/ping"), 200);
    assert_int_equal(get_status(control, "/health/live"), 200);
    assert_int_equal(get_status(mcp, "/elsewhere"), 404); /* the MCP endpoint's own 404 */
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    assert_int_equal(wait_exit(f), 0);
}

static void no_mcp_leaves_the_mcp_adapter_out(void **state)
{
    fixture *f = *state;
    static const char *const args[] = {"--listen", ":0", "--control-port", "0", "--no-mcp", NULL};
    start(f, args, false);
    const char *log = wait_log(f, "serving ");
    assert_true(logged_port(log, "REST") > 0);
    assert_int_equal(logged_port(log, "MCP"), 0);
    assert_null(strstr(log, "/mcp"));
    assert_int_equal(kill(f->pid, SIGINT), 0);
    assert_int_equal(wait_exit(f), 0);
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
