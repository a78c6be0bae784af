/*
 * Unit tests for runtime/runtime.h (src/runtime/runtime.c): reading a command line
 * (cg_runtime_parse), loading a spec (cg_runtime_load: exit statuses, LABEL_STUDIO_URL for
 * the Label Studio profile), and cg_runtime_run in a child process on a spec in a temporary
 * directory with every port 0: REST, MCP and control all served on kernel-picked ports and
 * ready, a call in flight finished by the drain after SIGTERM and the process ending with
 * status 0 and its ports closed; `capgate mcp`'s runtime (the MCP adapter alone); the
 * refusals that end it with status 2 before anything is bound. The upstream is the
 * loopback upstream of loopback.h. (The SIGHUP reload is test_reload.c's.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>

#include "child.h"
#include "loopback.h"
#include "tempdir.h"

#include <jansson.h>

#include "runtime/runtime.h"

static const char SPEC[] = "naftiko: 1.0.0-alpha2\n"
                           "info: {label: Runtime, description: runtime unit test}\n"
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
                           "    - name: slow\n"
                           "      path: /slow\n"
                           "      operations:\n"
                           "      - {name: slow, method: GET}\n"
                           "  exposes:\n"
                           "  - type: rest\n"
                           "    namespace: r\n"
                           "    port: 8080\n"
                           "    resources:\n"
                           "    - path: /ping\n"
                           "      operations:\n"
                           "      - {method: GET, call: api.ping}\n"
                           "    - path: /slow\n"
                           "      operations:\n"
                           "      - {method: GET, call: api.slow}\n"
                           "  - type: mcp\n"
                           "    namespace: m\n"
                           "    port: 9090\n"
                           "    tools:\n"
                           "    - {name: ping, description: Ping, call: api.ping}\n"
                           "  - type: control\n"
                           "    port: 9091\n"
                           "    management: {health: true}\n"
                           "    observability: {enabled: false}\n";

#define SLOW_MS 600

typedef struct fixture {
    char dir[64], spec[128], log[128];
    loopback_upstream upstream;
    atomic_int slow_started; /* the upstream has begun answering /slow */
    pid_t pid;
    int rest_port, mcp_port, control_port;
} fixture;

/* The upstream: /slow answers after SLOW_MS, everything else at once. */
static void answer(void *ctx, const loopback_seen *rq, int *status, const char **type, char *body,
                   size_t cap)
{
    if (!strcmp(rq->target, "/slow")) {
        atomic_store(&((fixture *)ctx)->slow_started, 1);
        usleep(SLOW_MS * 1000);
    }
    snprintf(body, cap, "{\"path\":\"%s\"}", rq->target);
}

static void write_file(const char *path, const char *text)
{
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    fputs(text, out);
    fclose(out);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (tempdir_make(f->dir, sizeof f->dir, "runtime") != 0) return -1;
    snprintf(f->spec, sizeof f->spec, "%s/cap.yaml", f->dir);
    snprintf(f->log, sizeof f->log, "%s/log", f->dir);
    loopback_upstream_start(&f->upstream, answer, f);
    char text[sizeof SPEC + 16];
    snprintf(text, sizeof text, SPEC, f->upstream.port);
    write_file(f->spec, text);
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

/* ---- the child ------------------------------------------------------------------------ */

typedef void (*configure)(fixture *f, cg_runtime_options *o);

/* Runs cg_runtime_run in a child with its stderr in f->log; o comes from the command's
 * defaults, f->spec, one worker... then how(). */
static void start(fixture *f, const char *command, configure how)
{
    f->pid = child_fork(NULL, f->log, f->upstream.fd);
    if (f->pid == 0) {
        cg_runtime_options o;
        cg_runtime_defaults(&o, command);
        o.file = f->spec;
        o.access_log = false;
        if (how) how(f, &o);
        _exit(cg_runtime_run(&o));
    }
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool open = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return open;
}

/* GET path's status (0: no answer), its body parsed in *body when body is not NULL. */
static int get(int port, const char *path, json_t **body)
{
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
             path);
    const char *answer = loopback_exchange(port, req, 5);
    int status = 0;
    sscanf(answer, "HTTP/1.1 %d", &status);
    if (body) *body = json_loads(loopback_body(answer), 0, NULL);
    return status;
}

static int mcp_initialize(int port)
{
    static const char init[] =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
        "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
    char req[1024];
    snprintf(req, sizeof req,
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAccept: "
             "application/json, text/event-stream\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             sizeof init - 1, init);
    const char *answer = loopback_exchange(port, req, 5);
    int status = 0;
    sscanf(answer, "HTTP/1.1 %d", &status);
    if (status == 200) assert_non_null(strcasestr(answer, "\r\nMcp-Session-Id: "));
    return status;
}

/* ---- parse and load --------------------------------------------------------------------- */

static int usage_calls;
static void usage(FILE *out)
{
    usage_calls++;
}

/* A command's own option: --own. */
static int own_option(cg_runtime_options *o, cg_opts *c, void *ctx)
{
    if (!cg_opts_is(c, "--own")) return 0;
    (*(int *)ctx)++;
    return 1;
}

static void parse_reads_runtime_and_own_options_and_one_file(void **state)
{
    cg_runtime_options o;
    cg_runtime_defaults(&o, "serve");
    int own = 0;
    char a0[] = "serve", a1[] = "--threads", a2[] = "3", a3[] = "--own", a4[] = "cap.yaml",
         a5[] = "--drain-timeout", a6[] = "2s", a7[] = "--listen", a8[] = ":0";
    char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8};
    assert_int_equal(cg_runtime_parse(&o, 9, argv, own_option, &own, usage), 0);
    assert_int_equal(o.threads, 3);
    assert_int_equal(own, 1);
    assert_string_equal(o.file, "cap.yaml");
    assert_int_equal(o.drain_timeout_ms, 2000);
    assert_int_equal(o.listen_port, 0);

    char h[] = "--help";
    char *help[] = {a0, h};
    cg_runtime_defaults(&o, "serve");
    usage_calls = 0;
    assert_int_equal(cg_runtime_parse(&o, 2, help, NULL, NULL, usage), 1);
    assert_int_equal(usage_calls, 1);

    char b1[] = "--threads", b2[] = "0";
    char *bad_value[] = {a0, b1, b2};
    cg_runtime_defaults(&o, "serve");
    assert_int_equal(cg_runtime_parse(&o, 3, bad_value, NULL, NULL, usage), 2);

    char u1[] = "--no-such-option";
    char *unknown[] = {a0, u1};
    cg_runtime_defaults(&o, "serve");
    assert_int_equal(cg_runtime_parse(&o, 2, unknown, NULL, NULL, usage), 2);
    char *own_elsewhere[] = {a0, a3}; /* --own is not the runtime's */
    cg_runtime_defaults(&o, "serve");
    assert_int_equal(cg_runtime_parse(&o, 2, own_elsewhere, NULL, NULL, usage), 2);

    char f2[] = "other.yaml";
    char *two_files[] = {a0, a4, f2};
    cg_runtime_defaults(&o, "serve");
    assert_int_equal(cg_runtime_parse(&o, 3, two_files, NULL, NULL, usage), 2);
}

static void load_sets_the_engine_and_says_why_not(void **state)
{
    fixture *f = *state;
    cg_runtime_options o;
    cg_spec *spec = NULL;

    cg_runtime_defaults(&o, "serve");
    o.file = f->spec;
    o.profiles[0] = "api";
    o.n_profiles = 1;
    setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9/ls", 1);
    assert_int_equal(cg_runtime_load(&o, &spec), 0);
    unsetenv("LABEL_STUDIO_URL");
    assert_non_null(spec);
    assert_int_equal(spec->n_rest, 1);
    assert_int_equal(o.engine.n_uris, 1); /* LABEL_STUDIO_URL, for the profiled namespace */
    assert_string_equal(o.engine.uris[0].ns, "api");
    assert_string_equal(o.engine.uris[0].uri, "http://127.0.0.1:9/ls");
    assert_int_equal(o.engine.n_label_studio_ns, 1);
    cg_spec_free(spec);

    /* the profile names a namespace the spec does not consume: 2 */
    cg_runtime_defaults(&o, "serve");
    o.file = f->spec;
    o.profiles[0] = "nope";
    o.n_profiles = 1;
    assert_int_equal(cg_runtime_load(&o, &spec), 2);
    assert_null(spec);

    /* no such file: 1; a spec that does not validate: 2 */
    char path[160];
    snprintf(path, sizeof path, "%s/missing.yaml", f->dir);
    cg_runtime_defaults(&o, "serve");
    o.file = path;
    assert_int_equal(cg_runtime_load(&o, &spec), 1);
    snprintf(path, sizeof path, "%s/bad.yaml", f->dir);
    write_file(path, "naftiko: 1.0.0-alpha2\ncapability: {consumes: 3}\n");
    cg_runtime_defaults(&o, "serve");
    o.file = path;
    assert_int_equal(cg_runtime_load(&o, &spec), 2);
    assert_null(spec);
    unlink(path);

    /* no file: the shipped capability */
    cg_runtime_defaults(&o, "serve");
    assert_int_equal(cg_runtime_load(&o, &spec), 0);
    assert_string_equal(o.file, CG_RUNTIME_DEFAULT_SPEC);
    cg_spec_free(spec);
}

/* ---- run ---------------------------------------------------------------------------------- */

static void every_port_zero(fixture *f, cg_runtime_options *o)
{
    o->listen_port = 0;
    o->mcp_port = 0;
    o->control_port = 0;
    o->threads = 2;
    o->drain_timeout_ms = 3000;
}

typedef struct slow_call {
    int port, status;
    pthread_t thread;
} slow_call;

static void *call_slow(void *arg)
{
    slow_call *c = arg;
    c->status = get(c->port, "/slow", NULL);
    return NULL;
}

static void serve_runs_every_adapter_and_drains_on_sigterm(void **state)
{
    fixture *f = *state;
    start(f, "serve", every_port_zero);
    const char *log = child_wait_log(f->log, "serving ");
    f->rest_port = child_logged_port(log, "REST on");
    f->mcp_port = child_logged_port(log, "MCP on");
    f->control_port = child_logged_port(log, "control on");
    assert_true(f->rest_port > 0 && f->rest_port != 8080);
    assert_true(f->mcp_port > 0 && f->mcp_port != 9090);
    assert_true(f->control_port > 0 && f->control_port != 9091);
    assert_non_null(strstr(log, "(2 workers)"));

    json_t *body;
    assert_int_equal(get(f->rest_port, "/readyz", &body), 200);
    assert_string_equal(json_string_value(json_object_get(body, "status")), "ready");
    json_decref(body);
    assert_int_equal(get(f->rest_port, "/ping", &body), 200);
    assert_string_equal(json_string_value(json_object_get(body, "path")), "/ping");
    json_decref(body);
    assert_int_equal(get(f->control_port, "/health/ready", &body), 200);
    assert_string_equal(json_string_value(json_object_get(body, "status")), "UP");
    json_decref(body);
    assert_int_equal(mcp_initialize(f->mcp_port), 200);

    /* a call in flight when SIGTERM comes is answered before the process ends */
    slow_call c = {.port = f->rest_port};
    int before = atomic_load(&f->upstream.requests);
    pthread_create(&c.thread, NULL, call_slow, &c);
    for (int i = 0; i < 400 && !atomic_load(&f->slow_started); i++) usleep(5000);
    assert_true(atomic_load(&f->slow_started)); /* it reached the upstream */
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    child_wait_log(f->log, "SIGTERM: draining");
    pthread_join(c.thread, NULL);
    assert_int_equal(c.status, 200);
    assert_int_equal(atomic_load(&f->upstream.requests), before + 1);
    assert_int_equal(child_wait_exit(&f->pid), 0);
    assert_non_null(strstr(child_slurp(f->log), "stopped"));
    assert_false(port_open(f->rest_port));
    assert_false(port_open(f->mcp_port));
    assert_false(port_open(f->control_port));
}

static void mcp_port_zero(fixture *f, cg_runtime_options *o)
{
    o->mcp_port = 0;
}

static void mcp_runs_the_mcp_adapter_alone(void **state)
{
    fixture *f = *state;
    start(f, "mcp", mcp_port_zero);
    const char *log = child_wait_log(f->log, "listening on");
    f->mcp_port = child_logged_port(log, "listening on");
    assert_true(f->mcp_port > 0 && f->mcp_port != 9090);
    assert_non_null(strstr(log, "/mcp (1 tools, 1 worker)"));
    assert_null(strstr(log, "REST on"));
    assert_int_equal(mcp_initialize(f->mcp_port), 200);
    assert_null(strstr(log, "control on"));
    assert_int_equal(kill(f->pid, SIGINT), 0);
    assert_int_equal(child_wait_exit(&f->pid), 0);
    assert_non_null(strstr(child_slurp(f->log), "SIGINT: draining"));
    assert_false(port_open(f->mcp_port));
}

static void no_such_adapter(fixture *f, cg_runtime_options *o)
{
    o->mcp_port = 0;
    o->mcp_adapter = "nope";
}

static void same_port_twice(fixture *f, cg_runtime_options *o)
{
    /* the upstream's port: in use, but the check comes before anything is bound */
    o->listen_port = f->upstream.port;
    o->mcp_port = f->upstream.port;
    o->control_port = 0;
}

static void refusals_end_with_status_2_before_binding(void **state)
{
    fixture *f = *state;
    start(f, "mcp", no_such_adapter);
    assert_int_equal(child_wait_exit(&f->pid), 2);
    assert_non_null(strstr(child_slurp(f->log), "has no MCP adapter named nope"));

    start(f, "serve", same_port_twice);
    assert_int_equal(child_wait_exit(&f->pid), 2);
    assert_non_null(strstr(child_slurp(f->log), "both use port"));

    /* a spec whose only adapter is MCP over stdio: nothing for serve to serve */
    char text[512];
    snprintf(text, sizeof text,
             "naftiko: 1.0.0-alpha2\n"
             "info: {label: Stdio, description: runtime unit test}\n"
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
             "  - type: mcp\n"
             "    namespace: m\n"
             "    transport: stdio\n"
             "    tools:\n"
             "    - {name: ping, description: Ping, call: api.ping}\n",
             f->upstream.port);
    write_file(f->spec, text);
    start(f, "serve", NULL);
    assert_int_equal(child_wait_exit(&f->pid), 2);
    assert_non_null(strstr(child_slurp(f->log), "exposes no adapter to serve over HTTP"));
    assert_non_null(strstr(child_slurp(f->log), "capgate mcp"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_reads_runtime_and_own_options_and_one_file),
        cmocka_unit_test_setup_teardown(load_sets_the_engine_and_says_why_not, setup, teardown),
        cmocka_unit_test_setup_teardown(serve_runs_every_adapter_and_drains_on_sigterm, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(mcp_runs_the_mcp_adapter_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(refusals_end_with_status_2_before_binding, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
